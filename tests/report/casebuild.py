"""Build a watched and traced simulated Vastaamo case in a database, as a user would.

The simulator serves the finished chain on loopback; one address-mode watch cycle records the
payments and sweeps, the scenario's tag pack is imported, then the case is traced with every
explorer response archived as evidence.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

from btcwatch.case import Role
from btcwatch.intake import add_addresses, create_case
from btcwatch.providers import HttpOptions, PoolSettings
from btcwatch.providers.factory import make_provider
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.store import Store
from btcwatch.store.evidence import EvidenceLog
from btcwatch.store.tags import save_tags
from btcwatch.tags import parse_tagpack
from btcwatch.trace.follow import TraceParams
from btcwatch.trace.run.service import run_trace
from btcwatch.watch.runner import WatchOptions
from btcwatch.watch.service import WatchRun, run_watch

CASE = "vastaamo"
DEMAND = "200EUR then 500EUR after 24h"
COMPANY_DEMAND = "40 BTC"
#: One exchange whose deposit address is already tagged (known from an earlier case), so the
#: trace stops there as "tagged" instead of at the exchange's sweep.
TAGGED_DEPOSIT_OF = "Polarex"


def tagpack(truth: dict[str, Any]) -> dict[str, Any]:
    """The scenario's hot-wallet tags plus one tagged deposit address."""
    known = next(p for p in truth["peels"] if p["exchange"] == TAGGED_DEPOSIT_OF)
    extra = {
        "address": known["deposit_address"],
        "label": TAGGED_DEPOSIT_OF,
        "category": "exchange",
    }
    pack = dict(truth["tagpack"])
    pack["tags"] = [*pack["tags"], extra]
    return pack


def setup_case(db: Path, truth: dict[str, Any]) -> None:
    """The case, every victim's ransom address with the demand, and the company's address."""
    with Store.open(db) as store:
        create_case(store, CASE, title="Vastaamo-like extortion (simulated)")
        add_addresses(store, CASE, [r["address"] for r in truth["ransom_addresses"]], demand=DEMAND)
        add_addresses(
            store,
            CASE,
            [truth["company_demand"]["address"]],
            role=Role.ATTACKER,
            label="company demand",
            demand=COMPANY_DEMAND,
        )


def watch_and_trace(db: Path, truth: dict[str, Any], url: str, *, trace: bool = True) -> None:
    """One watch cycle over the whole chain, the tag pack, then (optionally) one trace."""
    run_watch(
        db, WatchRun(WatchOptions(CASE, "address"), alerts=[], pool=PoolSettings(explorers=(url,)))
    )
    with Store.open(db) as store:
        save_tags(store, parse_tagpack(tagpack(truth), "sim").tags)
        if not trace:
            return

        async def go() -> None:
            log = EvidenceLog()
            provider = make_provider(url, HttpOptions(rate=math.inf, on_evidence=log))
            try:
                await run_trace(store, provider, TraceParams(), case=CASE, log=log)
            finally:
                await provider.aclose()

        asyncio.run(go())


def build_case(db: Path, victims: int = 60, *, trace: bool = True) -> dict[str, Any]:
    """Build the case in ``db``; returns the scenario's ground truth."""
    scenario = vastaamo(victims=victims, seed=2020, background=3)
    truth = scenario.ground_truth()
    chain = SimChain.from_scenario(scenario, tip="end")
    setup_case(db, truth)
    with SimServer(chain) as server:
        watch_and_trace(db, truth, server.url, trace=trace)
    return truth
