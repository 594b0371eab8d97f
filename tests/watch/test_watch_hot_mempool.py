"""`--mempool hot`: the hot set, and outspends asked in batches where the explorer has them.

The hot set is a pure choice over the watch set (tested directly); the rest runs the real CLI
against the simulator over loopback, one process per tick as under cron.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from simwatch import World, event_rows

from btcwatch.intake import add_addresses, create_case
from btcwatch.model import OutPoint, WatchedOutput
from btcwatch.sim import SimChain, SimServer, VastaamoScenario
from btcwatch.sim.server import Reply
from btcwatch.store import Store
from btcwatch.store.events import get_state
from btcwatch.watch.hotset import company_addresses, hot_addresses
from btcwatch.watch.watchset import WatchSet

TXID = "ab" * 32


def watchset(rows: list[tuple[str, str, str | None]]) -> WatchSet:
    """(address, role, demand) rows of case "c", in insertion order."""
    ws = WatchSet()
    for address, role, demand in rows:
        ws.by_address[address] = ["c"]
        ws.roles[("c", address)] = role
        ws.demands[("c", address)] = demand
    return ws


def out(address: str, value: int, height: int | None, **spent: Any) -> WatchedOutput:
    return WatchedOutput("c", address, OutPoint(TXID, value), value, "", height, None, **spent)


def test_company_address_is_the_ransom_address_with_a_demand_of_its_own() -> None:
    ws = watchset(
        [
            ("p1", "ransom", "200EUR"),
            ("p2", "ransom", "200EUR"),
            ("company", "ransom", "40BTC"),
            ("victim", "victim", "1BTC"),
            ("plain", "ransom", None),
        ]
    )
    assert company_addresses(ws) == ["company"]


def test_hot_set_order_and_bound() -> None:
    ws = watchset(
        [
            ("company", "ransom", "40BTC"),
            ("p1", "ransom", "200EUR"),
            ("p2", "ransom", "200EUR"),
            ("p3", "ransom", "200EUR"),
            ("p4", "ransom", "200EUR"),
            ("trail1", "attacker", None),
            ("trail2", "attacker", None),
        ]
    )
    outputs = [
        out("p1", 5, 100),  # holds 5
        out("p2", 9, 100),  # holds 9
        out("p3", 7, None),  # unconfirmed payment: first
        out("p4", 3, 90, spent_by=TXID, spent_vin=0, spent_height=99),  # just moved
        out("p4", 2, 50, spent_by=TXID, spent_vin=1, spent_height=60),  # long ago
    ]
    everything = hot_addresses(ws, outputs, tip_height=100, size=100)
    assert everything == ["p3", "company", "trail2", "trail1", "p2", "p1", "p4"]
    assert hot_addresses(ws, outputs, tip_height=100, size=3) == ["p3", "company", "trail2"]
    assert hot_addresses(ws, outputs, tip_height=100, size=0) == []
    assert "p4" not in hot_addresses(ws, outputs, tip_height=200, size=100)


@pytest.fixture
def company(tmp_path: Path, small_scenario: VastaamoScenario) -> Iterator[dict[str, Any]]:
    """A case whose one distinct-demand address has a payment waiting in the next block."""
    truth = small_scenario.ground_truth()
    for pay in sorted((p for p in truth["payments"] if p["height"]), key=lambda p: p["height"]):
        chain = SimChain.from_scenario(small_scenario, tip=pay["height"] - 2)
        if pay["txid"] not in {e.txid for e in chain.mempool()}:
            break  # broadcast only when its block is next, not early
    others = [r["address"] for r in truth["ransom_addresses"] if r["address"] != pay["address"]]
    db = tmp_path / "company.db"
    with Store.open(db) as store:
        create_case(store, "vastaamo")
        add_addresses(store, "vastaamo", others, demand="200EUR")
        add_addresses(store, "vastaamo", [pay["address"]], demand="40BTC")
    with SimServer(chain) as server:
        yield {"world": World(db, chain, server, truth), "payment": pay}


@pytest.mark.parametrize(("hot", "seen"), [("20", True), ("0", False)])
def test_an_unconfirmed_payment_to_the_company_address_is_seen_on_the_hot_set(
    company: dict[str, Any], hot: str, seen: bool
) -> None:
    world: World = company["world"]
    pay = company["payment"]
    assert world.watch_once("--mode", "block").exit_code == 0  # learns the past
    world.chain.advance(1)  # the payment now waits in the mempool
    result = world.watch_once("--mode", "block", "--hot-set", hot)
    assert result.exit_code == 0, result.stderr
    unconfirmed = [
        r
        for r in event_rows(world.db, kinds=["payment_received"])
        if r["txid"] == pay["txid"] and r["height"] is None
    ]
    assert bool(unconfirmed) is seen
    world.chain.advance(1)  # mined: the block scan reports it either way
    world.watch_once("--mode", "block", "--hot-set", hot)
    assert any(r["txid"] == pay["txid"] for r in event_rows(world.db, kinds=["payment_confirmed"]))


def test_an_explorer_without_batch_outspends_is_probed_once_and_remembered(world: World) -> None:
    answer = world.server.handle
    refused: list[str] = []

    def handle(method: str, target: str, body: bytes) -> tuple[Reply | None, str]:
        if target.split("?")[0].endswith("/txs/outspends"):
            refused.append(target)
            return Reply.text("Not Found", 404), "GET /txs/outspends"
        return answer(method, target, body)

    setattr(world.server, "handle", handle)  # noqa: B010 - an instance hook over the method
    for _ in range(3):  # three cron ticks, three processes
        result = world.watch_once("--mode", "block")
        assert result.exit_code == 0, result.stderr
        world.chain.advance(1)
    assert len(refused) == 1
    assert world.server.requests["GET /tx/:txid/outspends"] > 0
    with Store.open(world.db) as store:
        probed = get_state(store, "explorer_probes")
    assert probed == {f"{world.url} outspends_batch": False}


def test_a_watched_tx_that_vanished_in_a_reorg_does_not_stop_the_outspends_check(
    world: World,
) -> None:
    tip = world.chain.tip_height
    paid = [p for p in world.truth["payments"] if p["height"] == tip]
    assert paid
    assert world.watch_once("--mode", "block").exit_code == 0
    world.server.reorg(1, drop=[paid[0]["txid"]], dropped="vanish")
    world.chain.advance(1)
    before = world.server.requests["GET /tx/:txid/outspends"]
    result = world.watch_once("--mode", "block")
    assert result.exit_code == 0, result.stderr
    # The batch naming the vanished tx answered 404: the rest were asked one by one.
    assert world.server.requests["GET /tx/:txid/outspends"] > before
    reverted = event_rows(world.db, kinds=["reverted"])
    assert any(r["txid"] == paid[0]["txid"] for r in reverted)
