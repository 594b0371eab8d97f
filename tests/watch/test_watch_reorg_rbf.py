"""Reorgs and replacements, block by block, in both modes: the exact events, in order.

The Vastaamo scenario holds a 1-block reorg of a payment (the stale block is the tip for one
step) and an RBF replacement of a mempool payment; a reorg made by hand drops a payment for
good. Each test steps the simulated chain and runs one watch cycle per step.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from simwatch import event_rows, kinds, ransom_addresses, session, setup_case

from btcwatch.event import Event
from btcwatch.sim import SimChain, SimServer, VastaamoScenario, vastaamo
from btcwatch.store import Store
from btcwatch.store.watchstate import watched_outputs

MODES = ["block", "address"]


@pytest.fixture(scope="module")
def scenario() -> VastaamoScenario:
    return vastaamo(victims=7, seed=2020, background=2)


@pytest.fixture(scope="module")
def truth(scenario: VastaamoScenario) -> dict[str, Any]:
    return scenario.ground_truth()


def about(events: list[Event], txid: str) -> list[Event]:
    """Events for ``txid``: its own, and the reverts of them."""
    return [e for e in events if e.txid == txid]


def watch_steps(db: Path, chain: SimChain, mode: str, last: int) -> list[list[Event]]:
    """One cycle at the current tip, then one per block up to ``last``: the events per step."""
    steps: list[list[Event]] = []

    async def run() -> None:
        with SimServer(chain) as server:
            async with session(db, server.url, mode) as s:
                while True:
                    steps.append(await s.cycle())
                    if chain.tip_height >= last:
                        return
                    chain.advance()

    asyncio.run(run())
    return steps


@pytest.mark.parametrize("mode", MODES)
def test_scenario_reorg_reverts_the_stale_confirmation_then_confirms_again(
    tmp_path: Path, scenario: VastaamoScenario, truth: dict[str, Any], mode: str
) -> None:
    reorg = truth["reorg"]
    height, txid = reorg["height"], reorg["txid"]
    chain = SimChain.from_scenario(scenario, tip=height - 2)
    db = tmp_path / "w.db"
    setup_case(db, ransom_addresses(truth))

    steps = watch_steps(db, chain, mode, last=height + 1)

    per_step = [kinds(about(step, txid)) for step in steps]
    assert per_step == [
        [],
        ["payment_received"],  # in the mempool at height - 1
        ["payment_confirmed"],  # in the stale block
        ["reverted", "payment_confirmed"],  # stale block orphaned; mined again one block later
    ]
    received = steps[1][0]
    stale_confirmed = about(steps[2], txid)[0]
    revert, confirmed = about(steps[3], txid)
    assert received.height is None
    assert stale_confirmed.block_hash == reorg["stale_block_hash"]
    assert stale_confirmed.height == reorg["stale_confirmed_height"]
    assert revert.details["reverts"] == stale_confirmed.id
    assert reorg["stale_block_hash"] in revert.details["reason"]
    assert confirmed.height == reorg["best_confirmed_height"]
    best = chain.block_at(reorg["best_confirmed_height"])
    assert best is not None and confirmed.block_hash == best.hash

    rows = {r["id"]: r for r in event_rows(db)}
    assert rows[stale_confirmed.id]["reverted_by"] == revert.id
    assert rows[received.id]["reverted_by"] is None  # still paid: only the block changed
    assert rows[confirmed.id]["reverted_by"] is None


@pytest.mark.parametrize("mode", MODES)
def test_rbf_reverts_the_replaced_payment_and_reports_the_replacement(
    tmp_path: Path, scenario: VastaamoScenario, truth: dict[str, Any], mode: str
) -> None:
    rbf = truth["rbf"]
    old, new = rbf["replaced_txid"], rbf["replacement_txid"]
    chain = SimChain.from_scenario(scenario, tip=rbf["seen_height"] - 1)
    db = tmp_path / "w.db"
    setup_case(db, ransom_addresses(truth))

    steps = watch_steps(db, chain, mode, last=rbf["confirmed_height"])

    mine = [
        (e.kind.value, e.txid)
        for step in steps
        for e in step
        if e.txid in (old, new) or e.address == rbf["address"]
    ]
    assert mine == [
        ("payment_received", old),
        ("reverted", old),
        ("payment_received", new),
        ("payment_confirmed", new),
    ]
    flat = [e for step in steps for e in step]
    first = next(e for e in flat if e.txid == old and e.kind.value == "payment_received")
    revert = next(e for e in flat if e.kind.value == "reverted")
    assert revert.details["reverts"] == first.id
    assert "no longer in the best chain or the mempool" in revert.details["reason"]
    rows = {r["id"]: r for r in event_rows(db)}
    assert rows[first.id]["reverted_by"] == revert.id


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("depth", [1, 2])
def test_hand_made_reorg_dropping_a_payment_reverts_received_and_confirmed(
    tmp_path: Path, scenario: VastaamoScenario, truth: dict[str, Any], mode: str, depth: int
) -> None:
    start = truth["start_tip_height"]
    payment = next(p for p in truth["payments"] if p["kind"] == "on_time" and p["height"] > start)
    txid, height = payment["txid"], payment["height"]
    chain = SimChain.from_scenario(scenario, tip=height - 1)
    db = tmp_path / "w.db"
    setup_case(db, ransom_addresses(truth))
    steps: list[list[Event]] = []

    async def run() -> None:
        with SimServer(chain) as server:
            async with session(db, server.url, mode) as s:
                steps.append(await s.cycle())  # seen in the mempool
                chain.advance_to(height + depth - 1)
                steps.append(await s.cycle())  # confirmed, depth - 1 blocks deep
                chain.reorg(depth, drop=[txid], dropped="vanish")
                assert chain.tip_height == height + depth - 1  # same heights, new blocks
                steps.append(await s.cycle())
                chain.advance()
                steps.append(await s.cycle())

    asyncio.run(run())

    assert [kinds(about(step, txid)) for step in steps] == [
        ["payment_received"],
        ["payment_confirmed"],
        ["reverted", "reverted"],
        [],
    ]
    received, confirmed = steps[0][0], about(steps[1], txid)[0]
    assert {e.details["reverts"] for e in about(steps[2], txid)} == {received.id, confirmed.id}
    rows = {r["id"]: r for r in event_rows(db)}
    assert rows[received.id]["reverted_by"] and rows[confirmed.id]["reverted_by"]
    with Store.open(db) as store:
        assert [o for o in watched_outputs(store) if o.outpoint.txid == txid] == []
