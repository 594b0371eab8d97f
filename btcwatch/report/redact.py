"""A case report with its victims pseudonymised (``report --redact victims``).

The pseudonyms are `btcwatch.export.redact`'s, so the report and the graph files of one case
name each victim alike. Amounts, addresses, times and evidence stay as they are: they are what
an exchange or a court checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from btcwatch.case import WatchedAddress
from btcwatch.export.redact import REDACTIONS, Redaction
from btcwatch.report.facts import CaseReport, DemandGroup
from btcwatch.store import Store
from btcwatch.store.cases import list_addresses


def case_victims(store: Store, case: str) -> tuple[list[WatchedAddress], Redaction]:
    """The case's watchlist and the redaction of its victims (the graph's, for the picture)."""
    watched = list_addresses(store, case)
    return watched, Redaction.victims(case, watched)


def redact_report(
    report: CaseReport, watched: Sequence[WatchedAddress], redaction: Redaction
) -> CaseReport:
    """The same report, each victim and ransom address labelled by its pseudonym.

    A demand group lists only the labels of addresses that are not hidden: the payments table
    names each hidden address by its pseudonym instead.
    """
    payments = tuple(replace(p, label=redaction.label(p.address, p.label)) for p in report.payments)
    demands = tuple(_group(g, watched, redaction) for g in report.demands)
    return replace(
        report, payments=payments, demands=demands, redacted=(*report.redacted, REDACTIONS[0])
    )


def _group(
    group: DemandGroup, watched: Sequence[WatchedAddress], redaction: Redaction
) -> DemandGroup:
    members = [w for w in watched if w.demand == group.demand]
    shown = {w.label for w in members if w.label and not redaction.hides(w.address)}
    return replace(group, labels=tuple(sorted(shown)))
