"""The demo's inputs: a fixed simulated scenario and the files an investigator would be handed.

`data/demo/` ships the ransom e-mails and the exchanges' tag pack of exactly this scenario
(`scripts/build_demo_data.py` writes them; a test checks they still match the simulator).
"""

from __future__ import annotations

from datetime import datetime

from btcwatch.sim import VastaamoScenario, vastaamo

DEMO_VICTIMS = 120
DEMO_SEED = 2020
DEMO_BACKGROUND = 3
COMPANY_FILE = "company-email.txt"
PATIENT_FILE = "patient-emails.txt"
TAGPACK_FILE = "exchanges.tagpack.yaml"
PATIENT_DEMAND = "200EUR then 500EUR after 24h"
COMPANY_DEMAND = "40BTC"


def demo_scenario(start: datetime | None = None) -> VastaamoScenario:
    """The demo story; ``start`` places its e-mails at another time (``demo --start``)."""
    if start is None:
        return vastaamo(victims=DEMO_VICTIMS, seed=DEMO_SEED, background=DEMO_BACKGROUND)
    return vastaamo(
        victims=DEMO_VICTIMS, seed=DEMO_SEED, background=DEMO_BACKGROUND, emails_at=start
    )


def demo_files(scenario: VastaamoScenario) -> dict[str, str]:
    """File name -> text of what data/demo/ holds for ``scenario``."""
    import yaml

    truth = scenario.ground_truth()
    emails = truth["ransom_emails"]
    company, _, patients = emails.partition("\n\nFrom: ")
    return {
        COMPANY_FILE: company.rstrip() + "\n",
        PATIENT_FILE: "From: " + patients,
        TAGPACK_FILE: yaml.safe_dump(truth["tagpack"], sort_keys=False),
    }
