"""Payment events carry BTC and fiat values on a stated price day, and the demand verdict.

The simulated case is in October 2020: a payment first seen unconfirmed is priced at the chain
tip's time (then), not at the wall clock (today, outside the bundled price table).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from simwatch import ransom_addresses, session, setup_case

from btcwatch.event import Event, Kind
from btcwatch.sim import SimChain, SimServer, VastaamoScenario

MODES = ["block", "address"]
TIP_SOURCE = "chain tip time when first seen (unconfirmed)"


def day_of(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).date().isoformat()


def iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("mode", MODES)
def test_unconfirmed_payment_is_priced_at_the_tip_time_and_confirmed_at_block_time(
    tmp_path: Path, small_scenario: VastaamoScenario, mode: str
) -> None:
    truth = small_scenario.ground_truth()
    payment = next(p for p in truth["payments"] if p["kind"] == "on_time")
    chain = SimChain.from_scenario(small_scenario, tip=payment["height"] - 1)
    db = tmp_path / "w.db"
    setup_case(db, ransom_addresses(truth))
    seen: list[Event] = []
    tip_time = chain.tip.time

    async def run() -> None:
        with SimServer(chain) as server:
            async with session(db, server.url, mode) as s:
                seen.extend(await s.cycle())
                chain.advance()
                seen.extend(await s.cycle())

    asyncio.run(run())
    received = next(e for e in seen if e.txid == payment["txid"] and e.height is None)
    confirmed = next(e for e in seen if e.txid == payment["txid"] and e.height is not None)
    assert received.kind is Kind.PAYMENT_RECEIVED and confirmed.kind is Kind.PAYMENT_CONFIRMED

    d = received.details
    assert d["value_btc"] == f"{Decimal(payment['value_sat']).scaleb(-8):.8f}"
    assert (d["time"], d["time_source"]) == (iso(tip_time), TIP_SOURCE)
    for currency in ("EUR", "USD"):
        assert d["fiat"][currency]["price_day"] == day_of(tip_time)
        assert d["fiat"][currency]["value"]
    assert d["fiat"]["EUR"]["value"] == "200.00"
    assert d["demand"] == "200EUR then 500EUR after 24h"
    assert d["demand_match"]["verdict"] == "exact"
    assert d["demand_match"]["price_day"] == day_of(tip_time)

    c = confirmed.details
    assert (c["time"], c["time_source"]) == (iso(payment["time"]), "block time")
    assert c["fiat"]["EUR"]["price_day"] == day_of(payment["time"])
    assert c["demand_match"]["verdict"] == "exact"


@pytest.mark.parametrize("mode", MODES)
def test_victims_kinds_map_to_demand_verdicts(
    tmp_path: Path, small_scenario: VastaamoScenario, mode: str
) -> None:
    truth = small_scenario.ground_truth()
    chain = SimChain.from_scenario(small_scenario, tip="end")
    db = tmp_path / "w.db"
    setup_case(db, ransom_addresses(truth))
    found: list[Event] = []

    async def run() -> None:
        with SimServer(chain) as server:
            async with session(db, server.url, mode) as s:
                found.extend(await s.cycle())

    asyncio.run(run())
    kind_of = {(p["txid"], p["vout"]): p["kind"] for p in truth["payments"]}
    verdicts: dict[str, Counter[str]] = {}
    for e in found:
        if e.kind in (Kind.PAYMENT_RECEIVED, Kind.PAYMENT_CONFIRMED):
            verdict = e.details["demand_match"]["verdict"]
            verdicts.setdefault(kind_of[(e.txid, e.vout)], Counter())[verdict] += 1
    expected: dict[str, Any] = {
        "on_time": {"exact"},
        "late": {"late"},  # 500 EUR, the amount due after the deadline
        "partial": {"partial"},
        "double": {"exact"},  # each of the two payments is the full 200 EUR
        "rbf_replacement": {"exact"},
    }
    assert {kind: set(v) for kind, v in verdicts.items()} == expected
    assert sum(sum(v.values()) for v in verdicts.values()) == 2 * (len(truth["payments"]) - 1)
