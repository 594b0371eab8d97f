"""The tick's cost controls through the real CLI: --mempool, --hot-set, --budget, --from-height.

Work a budget cannot pay for is deferred, stored, and done first by the next tick (a new
process, as under cron); every payment still arrives exactly once. Bad values exit 2 with one
line and touch nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from simwatch import World, event_rows, ransom_addresses, setup_case

from btcwatch.store import Store
from btcwatch.store.events import get_state
from btcwatch.store.watchstate import scanned_blocks

DEFERRED = re.compile(r"(\d+) deferred")


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def summary(stderr: str) -> str:
    return [line for line in stderr.splitlines() if " mode: tip " in line][-1]


def deferred(stderr: str) -> int:
    found = DEFERRED.search(summary(stderr))
    assert found, stderr
    return int(found.group(1))


def ids(db: Path) -> list[str]:
    return sorted(r["id"] for r in event_rows(db))


def twin(world: World, tmp_path: Path) -> Path:
    """A second database watching the same case, for an unlimited run to compare with."""
    db = tmp_path / "unlimited.db"
    setup_case(db, ransom_addresses(world.truth))
    return db


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget", "0"], "--budget must be at least 1"),
        (["--budget", "-5"], "--budget must be at least 1"),
        (["--mempool", "some"], "unknown --mempool 'some' (use hot, full or off)"),
        (["--hot-set", "-1"], "--hot-set must be 0 or more"),
    ],
)
def test_bad_cost_options_exit_2_with_one_line(world: World, args: list[str], message: str) -> None:
    result = world.watch_once(*args)
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert line.startswith("btcwatch: error: ") and message in line
    assert sum(world.server.requests.values()) == 0
    assert event_rows(world.db) == []


def test_from_height_above_the_tip_is_refused_and_nothing_is_stored(world: World) -> None:
    tip = world.chain.tip_height
    result = world.watch_once("--mode", "block", "--from-height", str(tip + 1))
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert line == (f"btcwatch: error: --from-height {tip + 1} is above the explorer's tip ({tip})")
    with Store.open(world.db) as store:
        assert scanned_blocks(store) == {}
    # The refused start left nothing behind: a normal first run still reports the past.
    again = world.watch_once("--mode", "block")
    assert again.exit_code == 0, again.stderr
    assert {r["kind"] for r in event_rows(world.db)} == {"payment_received", "payment_confirmed"}


def test_a_long_block_catch_up_moves_forward_every_tick_and_reports_once(
    world: World, tmp_path: Path
) -> None:
    heights = sorted(p["height"] for p in world.truth["payments"] if p["height"])
    start = heights[0] - 2
    world.chain.advance_to(heights[0] + 40)
    tip = world.chain.tip_height
    ticks, last = 0, start - 1
    while True:
        ticks += 1
        result = world.watch_once("--mode", "block", "--from-height", str(start), "--budget", "10")
        assert result.exit_code == 0, result.stderr
        with Store.open(world.db) as store:
            scanned = scanned_blocks(store)
        assert max(scanned) > last  # every tick moves forward
        assert sorted(scanned) == list(range(start, max(scanned) + 1))  # and skips nothing
        last = max(scanned)
        if deferred(result.stderr) == 0:
            break
        assert "blocks" in summary(result.stderr)
        assert ticks < 40
    assert last == tip and ticks > 3
    other = twin(world, tmp_path)
    unlimited = world.cli(
        "--db", str(other), "watch", "--case", "vastaamo", "--once", "--explorer", world.url,
        "--mode", "block", "--from-height", str(start),
    )  # fmt: skip
    assert deferred(unlimited.stderr) == 0
    assert ids(world.db) == ids(other)  # every event exactly once, as without a budget


def test_a_first_run_catch_up_of_addresses_is_done_in_steps(world: World, tmp_path: Path) -> None:
    ticks = []
    while True:
        result = world.watch_once("--mode", "block", "--budget", "10")
        assert result.exit_code == 0, result.stderr
        ticks.append(deferred(result.stderr))
        if ticks[-1] == 0:
            break
        assert "addresses" in summary(result.stderr)
        assert len(ticks) < 10
    assert len(ticks) > 1 and ticks == sorted(ticks, reverse=True)
    with Store.open(world.db) as store:
        assert get_state(store, "catchup_pending:vastaamo") == []
    other = twin(world, tmp_path)
    world.cli(
        "--db", str(other), "watch", "--case", "vastaamo", "--once", "--explorer", world.url,
        "--mode", "block",
    )  # fmt: skip
    assert ids(world.db) == ids(other) and ids(other)


def test_no_mempool_is_kept_as_an_alias_of_off(world: World) -> None:
    world.watch_once("--mode", "block")
    world.chain.advance(1)
    before = dict(world.server.requests)
    result = world.watch_once("--mode", "block", "--no-mempool")
    assert result.exit_code == 0, result.stderr
    asked = {k: n - before.get(k, 0) for k, n in world.server.requests.items()}
    for route in ("/txs/outspends", "/txs/mempool", "/mempool/txids", "/outspends"):
        assert not any(route in k and n for k, n in asked.items()), asked


def test_full_mempool_within_a_budget_defers_the_rest_to_the_next_tick(world: World) -> None:
    world.watch_once("--mode", "block", "--mempool", "full")
    world.server.handle("POST", "/_sim/mempool?add=40", b"")
    first = world.watch_once("--mode", "block", "--mempool", "full", "--budget", "15")
    assert first.exit_code == 0 and "mempool txs" in summary(first.stderr)
    held = deferred(first.stderr)
    assert held > 0
    second = world.watch_once("--mode", "block", "--mempool", "full", "--budget", "15")
    assert deferred(second.stderr) < held


def test_address_mode_within_a_budget_rotates_and_misses_nothing(
    world: World, tmp_path: Path
) -> None:
    other = twin(world, tmp_path)
    world.chain.advance_to(world.chain.tip_height + 40)
    held = []
    for _ in range(8):
        result = world.watch_once("--mode", "address", "--budget", "6")
        assert result.exit_code == 0, result.stderr
        held.append(deferred(result.stderr))
    assert held[0] > 0 and "addresses" in summary(result.stderr)
    world.cli(
        "--db", str(other), "watch", "--case", "vastaamo", "--once", "--explorer", world.url,
        "--mode", "address",
    )  # fmt: skip
    assert ids(world.db) == ids(other) and ids(other)
