"""`watch --interval` with push: the sim's WebSocket wakes the daemon, polling stays in charge.

Every test runs the real daemon loop in-process against the loopback simulator over real
sockets (REST and WebSocket). "Within seconds" is asserted as "before the next poll would have
happened" (a 60 s interval, the event recorded by a cycle that a push or a reconnection
started), never as a timing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pushdaemon import Daemon, run_daemon
from simwatch import CASE, ransom_addresses, setup_case
from typer.testing import CliRunner

from btcwatch.cli import app
from btcwatch.providers import PoolSettings
from btcwatch.sim import SimChain, SimServer, VastaamoScenario
from btcwatch.sim.ws import WsFault, hub_of
from btcwatch.watch.push import Waker
from btcwatch.watch.runner import WatchOptions
from btcwatch.watch.service import WatchRun, _pusher


@pytest.fixture
def world(
    tmp_path: Path, small_scenario: VastaamoScenario
) -> Iterator[tuple[Path, SimChain, SimServer, list[str]]]:
    truth = small_scenario.ground_truth()
    heights = sorted(p["height"] for p in truth["payments"] if p["height"])
    chain = SimChain.from_scenario(small_scenario, tip=heights[1])
    db = tmp_path / "case.db"
    addresses = ransom_addresses(truth)
    setup_case(db, addresses)
    with SimServer(chain) as server:
        yield db, chain, server, addresses


def daemon_run(url: str, interval: float = 60.0, mode: str = "address", **push: Any) -> WatchRun:
    settings: dict[str, Any] = {"push_backoff": 0.05, "push_heartbeat": 0.5, **push}
    return WatchRun(
        WatchOptions(CASE, mode),
        alerts=[],
        interval=interval,
        **settings,
        pool=PoolSettings(explorers=(url,)),
    )


@pytest.mark.parametrize("mode", ["address", "block"])
def test_a_payment_is_alerted_by_push_long_before_the_next_poll(
    world: tuple[Path, SimChain, SimServer, list[str]], mode: str
) -> None:
    db, chain, server, addresses = world
    found: dict[str, Any] = {}

    def script(d: Daemon) -> None:
        d.subscribed()
        d.settled()
        polls_before = len(d.reports)
        txid = d.pay(addresses[0])
        index, event = d.event_for("payment_received", txid)
        found["received"] = (d.trigger_of(index), event, index >= polls_before)
        chain.advance()  # confirmed: tracked address's transaction in a new block
        index, event = d.event_for("payment_confirmed", txid)
        found["confirmed"] = (d.trigger_of(index), event)
        found["txid"] = txid

    d = run_daemon(daemon_run(server.url, mode=mode), db, chain, server, script)
    assert {r.mode for r in d.reports} == {mode}
    trigger, event, after = found["received"]
    assert trigger == "push" and after  # the 60 s timer never fired: a push started that cycle
    assert event.address == addresses[0] and event.value_sat == 250_000
    assert found["confirmed"][0] == "push"
    assert "timer" not in d.run.triggers
    assert any(n.startswith("push: subscribed at ws://127.0.0.1:") for n in d.notes)
    per_kind = Counter((e.kind.value, e.txid) for e in d.events())
    assert per_kind[("payment_received", found["txid"])] == 1
    assert per_kind[("payment_confirmed", found["txid"])] == 1


def test_track_addresses_error_shrinks_the_subscription_and_is_logged_once(
    world: tuple[Path, SimChain, SimServer, list[str]],
) -> None:
    db, chain, server, addresses = world
    hub_of(server).max_addresses = 3
    seen: dict[str, Any] = {}

    def script(d: Daemon) -> None:
        tracked = d.subscribed(3)
        d.settled()
        assert len(addresses) > 3
        txid = d.pay(tracked[0])
        index, _ = d.event_for("payment_received", txid)
        seen["trigger"] = d.trigger_of(index)
        seen["tracked"] = tracked
        chain.advance()  # more cycles, more resubscriptions: still one note
        d.event_for("payment_confirmed", txid)

    d = run_daemon(daemon_run(server.url), db, chain, server, script)
    assert seen["trigger"] == "push"
    assert set(seen["tracked"]) <= set(addresses)
    limits = [n for n in d.notes if "at most 3 addresses" in n]
    assert len(limits) == 1, d.notes


def test_the_whole_mempool_stream_covers_addresses_beyond_the_limit(
    world: tuple[Path, SimChain, SimServer, list[str]],
) -> None:
    db, chain, server, addresses = world
    hub = hub_of(server)
    hub.max_addresses = 1
    hub.track_mempool = True  # this server allows it; the loopback daemon asks for it
    seen: dict[str, Any] = {}

    def script(d: Daemon) -> None:
        [tracked] = d.subscribed(1)
        d.settled()
        untracked = next(a for a in addresses if a != tracked)
        txid = d.pay(untracked)
        index, _ = d.event_for("payment_received", txid)
        seen["trigger"] = d.trigger_of(index)

    d = run_daemon(daemon_run(server.url), db, chain, server, script)
    assert seen["trigger"] == "push"
    assert "timer" not in d.run.triggers


def test_a_payment_made_while_disconnected_is_caught_by_the_reconciliation(
    world: tuple[Path, SimChain, SimServer, list[str]],
) -> None:
    db, chain, server, addresses = world
    seen: dict[str, Any] = {}

    def script(d: Daemon) -> None:
        d.subscribed()
        d.settled()
        hub = d.hub
        hub.set_fault(WsFault.REFUSE)  # the connection drops and cannot come back for now
        d.wait_until("a refused reconnection", lambda: hub.refused >= 1)
        txid = d.pay(addresses[1])  # nobody listens: no push can announce it
        d.wait_until("another refused reconnection", lambda: hub.refused >= 2)
        assert not any(e.txid == txid for e in d.events())
        reconnects = d.run.triggers.count("connect")
        hub.set_fault(None)
        index, event = d.event_for("payment_received", txid)
        seen["trigger"] = d.trigger_of(index)
        seen["reconnects"] = (reconnects, d.run.triggers.count("connect"))
        seen["event"] = event

    d = run_daemon(daemon_run(server.url), db, chain, server, script)
    assert seen["trigger"] == "connect"  # the REST reconciliation after the gap found it
    before, after = seen["reconnects"]
    assert after == before + 1
    assert seen["event"].address == addresses[1]
    assert "timer" not in d.run.triggers
    refused = [n for n in d.notes if "no WebSocket here (HTTP 503" in n]
    assert len(refused) == 1, d.notes


FAULT_NOTES = {
    WsFault.GARBAGE: "not JSON",
    WsFault.OVERSIZED: "larger than 4194304 bytes",
    WsFault.SILENT: "no heartbeat",
    WsFault.DROP: "the connection was cut",
}


@pytest.mark.parametrize("fault", list(FAULT_NOTES), ids=str)
def test_a_broken_websocket_never_stops_polling(
    world: tuple[Path, SimChain, SimServer, list[str]], fault: WsFault
) -> None:
    db, chain, server, addresses = world
    hub_of(server).set_fault(fault)
    seen: dict[str, Any] = {}

    def script(d: Daemon) -> None:
        hub = d.hub
        d.wait_until("a second failing connection", lambda: hub.opened >= 2)
        txid = d.pay(addresses[2])
        index, _ = d.event_for("payment_received", txid)
        seen["trigger"] = d.trigger_of(index)
        for _ in range(3):  # the daemon keeps following the tip, cycle after cycle
            tip = chain.advance()
            d.wait_until(f"tip {tip}", lambda t=tip: d.reports[-1].tip_height == t)
        d.wait_until("a third failing connection", lambda: hub.opened >= 3)

    d = run_daemon(daemon_run(server.url, interval=0.3), db, chain, server, script)
    # Polling found it (the timer, or the reconciliation after a reconnection): no push did.
    assert seen["trigger"] in ("timer", "connect")
    notes = [n for n in d.notes if n.startswith("push: ") and "subscribed" not in n]
    assert len(notes) == 1, d.notes  # logged once, though every reconnection failed the same
    assert FAULT_NOTES[fault] in notes[0]
    assert notes[0].endswith("polling continues over REST")
    assert d.errors == []


def test_push_and_poll_give_exactly_one_event_per_payment(
    world: tuple[Path, SimChain, SimServer, list[str]],
) -> None:
    db, chain, server, addresses = world
    paid: list[str] = []

    def script(d: Daemon) -> None:
        d.subscribed()
        for round_ in range(3):
            for address in addresses[:3]:
                paid.append(d.pay(address, 100_000 + round_))
            tip = chain.advance()
            d.wait_until(f"tip {tip}", lambda t=tip: d.reports[-1].tip_height == t)
        for txid in paid:
            d.event_for("payment_confirmed", txid)

    d = run_daemon(daemon_run(server.url, interval=0.2), db, chain, server, script)
    assert {"timer", "push"} <= set(d.run.triggers)  # both paths ran, racing each other
    counted = Counter((e.kind.value, e.txid) for e in d.events())
    for txid in paid:
        assert counted[("payment_received", txid)] == 1
        assert counted[("payment_confirmed", txid)] == 1
    assert all(n == 1 for n in counted.values()), counted


def test_push_off_and_once_open_no_websocket(
    world: tuple[Path, SimChain, SimServer, list[str]],
) -> None:
    db, chain, server, _ = world

    def script(d: Daemon) -> None:
        chain.advance()
        d.wait_until("two cycles", lambda: len(d.reports) >= 2)

    d = run_daemon(daemon_run(server.url, interval=0.2, push="off"), db, chain, server, script)
    assert d.hub.opened == 0
    assert set(d.run.triggers) == {"timer"}


def test_an_unknown_push_mode_exits_2_with_one_line(
    world: tuple[Path, SimChain, SimServer, list[str]],
) -> None:
    db, _, server, _ = world
    args = ["--db", str(db), "watch", "--case", CASE, "--interval", "5", "--push", "always"]
    result = CliRunner().invoke(app, [*args, "--explorer", server.url])
    assert result.exit_code == 2
    assert result.stderr.strip() == "btcwatch: error: unknown --push 'always' (use auto, on, off)"
    assert hub_of(server).opened == 0 and server.requests.total() == 0


def test_push_on_without_a_websocket_explorer_says_so_and_polls() -> None:
    notes: list[str] = []
    once = WatchRun(
        WatchOptions(CASE), alerts=[], push="on", pool=PoolSettings(explorers=("blockstream",))
    )
    assert _pusher(once, Waker(), notes.append) is None and notes == []  # cron: no push
    daemon = WatchRun(
        WatchOptions(CASE),
        alerts=[],
        push="on",
        interval=60.0,
        pool=PoolSettings(explorers=("blockstream",)),
    )
    assert _pusher(daemon, Waker(), notes.append) is None
    assert notes == ["push: none of the explorers has a WebSocket; polling only"]
