"""Block-scan mode learns the past of addresses it did not scan for from their histories:
on the first cycle, for addresses added to the watchlist later, and for a case watched later."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from simwatch import CASE, DEMAND, event_rows, ransom_addresses, session, setup_case

from btcwatch.intake import add_addresses, create_case
from btcwatch.sim import SimChain, SimServer, VastaamoScenario
from btcwatch.store import Store


def paid_pairs(truth: dict[str, Any], addresses: set[str], tip: int) -> set[tuple[str, int]]:
    return {
        (p["txid"], p["vout"])
        for p in truth["payments"]
        if p["address"] in addresses and p["height"] and p["height"] <= tip
    }


def confirmed_pairs(db: Path, case: str = CASE) -> set[tuple[str, int]]:
    return {
        (e["txid"], e["vout"])
        for e in event_rows(db, case=case)
        if e["kind"] == "payment_confirmed" and not e["reverted_by"]
    }


def test_an_address_added_after_the_scan_started_is_caught_up(
    tmp_path: Path, small_scenario: VastaamoScenario
) -> None:
    truth = small_scenario.ground_truth()
    first = next(p for p in truth["payments"] if p["height"])
    late_address = first["address"]
    chain = SimChain.from_scenario(small_scenario, tip=first["height"] + 3)
    db = tmp_path / "w.db"
    watched = {a for a in ransom_addresses(truth) if a != late_address}
    setup_case(db, sorted(watched))

    async def run() -> None:
        with SimServer(chain) as server:
            async with session(db, server.url, "block") as s:
                await s.cycle()
                chain.advance()
                await s.cycle()
                assert confirmed_pairs(db) == paid_pairs(truth, watched, chain.tip_height)
                with Store.open(db) as store:
                    add_addresses(store, CASE, [late_address], demand=DEMAND)
                chain.advance()
                await s.cycle()  # the block scan alone would never see the earlier payment
                report = s.reports[-1]
                assert report.blocks_scanned == 1

    asyncio.run(run())
    every = watched | {late_address}
    assert confirmed_pairs(db) == paid_pairs(truth, every, chain.tip_height)
    assert (first["txid"], first["vout"]) in confirmed_pairs(db)


def test_a_case_watched_later_is_caught_up_too(
    tmp_path: Path, small_scenario: VastaamoScenario
) -> None:
    truth = small_scenario.ground_truth()
    addresses = ransom_addresses(truth)
    tip = sorted(p["height"] for p in truth["payments"] if p["height"])[3]
    chain = SimChain.from_scenario(small_scenario, tip=tip)
    db = tmp_path / "w.db"
    setup_case(db, addresses[:3])
    with Store.open(db) as store:
        create_case(store, "other")
        add_addresses(store, "other", addresses[3:], demand=DEMAND)

    async def run() -> None:
        with SimServer(chain) as server:
            async with session(db, server.url, "block") as s:  # watches CASE only
                await s.cycle()
                chain.advance()
                await s.cycle()
            async with session(db, server.url, "block", case="other") as s:
                await s.cycle()

    asyncio.run(run())
    assert confirmed_pairs(db) == paid_pairs(truth, set(addresses[:3]), chain.tip_height)
    later = confirmed_pairs(db, "other")
    assert later and later == paid_pairs(truth, set(addresses[3:]), chain.tip_height)


def test_from_height_scans_from_there_without_histories(
    tmp_path: Path, small_scenario: VastaamoScenario
) -> None:
    truth = small_scenario.ground_truth()
    heights = sorted(p["height"] for p in truth["payments"] if p["height"])
    chain = SimChain.from_scenario(small_scenario, tip=heights[3])
    db = tmp_path / "w.db"
    setup_case(db, ransom_addresses(truth))
    start = heights[1]

    async def run() -> None:
        with SimServer(chain) as server:
            async with session(db, server.url, "block", from_height=start) as s:
                await s.cycle()
                assert s.reports[-1].blocks_scanned == chain.tip_height - start + 1
                chain.advance()
                await s.cycle()

    asyncio.run(run())
    every = set(ransom_addresses(truth))
    wanted = paid_pairs(truth, every, chain.tip_height) - paid_pairs(truth, every, start - 1)
    assert confirmed_pairs(db) == wanted
