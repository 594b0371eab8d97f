"""The real CLI in subprocesses against the simulator in this process: SIGKILL mid-cycle and
after the commit, overlapping cron runs, and the --interval daemon stopped by SIGTERM.

Kills land deterministically: the simulator (or the webhook receiver) holds one chosen request
until the test has killed the process that sent it. Nothing is timed; waits are for conditions.

Delivery is at-least-once: a run killed after its commit but before a sink's delivery was
marked re-sends that alert on the next run (the webhook below receives one event twice).
Receivers deduplicate by the event id (JSON ``id``, header ``X-Btcwatch-Event``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from test_vastaamo_watch import setup_case
from vastaamo_check import check_events_match_truth, live

from btcwatch.sim import SimChain, SimServer, VastaamoScenario, vastaamo
from btcwatch.sim.server import Reply
from btcwatch.store import Store
from btcwatch.store.events import list_events
from btcwatch.watch.service import make_sinks

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "watch"))
from loopback import webhook_server
from simwatch import session

REPO = Path(__file__).resolve().parents[2]
VICTIMS = 30
WAIT = 60.0  # seconds: only ever reached when something is broken


@pytest.fixture(scope="module")
def scenario() -> VastaamoScenario:
    return vastaamo(victims=VICTIMS, seed=2020, background=3)


@pytest.fixture(scope="module")
def truth(scenario: VastaamoScenario) -> dict[str, Any]:
    return scenario.ground_truth()


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


class Hold:
    """Hold the first request matching ``when`` until released (the server's thread waits)."""

    def __init__(self, server: SimServer, when: Callable[[str], bool]) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        answer = server.handle

        def handle(method: str, target: str, body: bytes) -> tuple[Reply | None, str]:
            if not self.reached.is_set() and when(target):
                self.reached.set()
                self.release.wait(WAIT)
            return answer(method, target, body)

        self.server = server
        setattr(server, "handle", handle)  # noqa: B010 - an instance hook over the method

    def remove(self) -> None:
        self.release.set()
        delattr(self.server, "handle")


@contextmanager
def hold(server: SimServer, when: Callable[[str], bool]) -> Iterator[Hold]:
    h = Hold(server, when)
    try:
        yield h
    finally:
        h.remove()


def raw_block(target: str) -> bool:
    return "/block/" in target and target.endswith("/raw")


class Cli:
    """``python -m btcwatch --db DB watch --case vastaamo ...`` as a child process."""

    def __init__(self, tmp: Path, db: Path, url: str) -> None:
        config = tmp / "empty.toml"
        config.write_text("")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BTCWATCH_")}
        self.env["BTCWATCH_CONFIG"] = str(config)
        self.env["BTCWATCH_PRICES"] = "offline"  # never mempool.space from a test
        self.db = db
        self.url = url

    def start(self, *args: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "btcwatch", "--db", str(self.db), "watch"]
        command += ["--case", "vastaamo", "--explorer", self.url, "--mode", "block", *args]
        return subprocess.Popen(
            command,
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str) -> tuple[int, str, str]:
        proc = self.start(*args)
        out, err = proc.communicate(timeout=WAIT)
        return proc.returncode, out, err


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=WAIT)
    assert proc.returncode == -signal.SIGKILL


def dump(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def events(db: Path) -> list[dict[str, Any]]:
    with Store.open(db) as store:
        return [row.as_dict() for row in list_events(store, case="vastaamo")]


def tip_seen(db: Path) -> int | None:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT value FROM watch_state WHERE key = 'tip_height'").fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()
    return None if row is None else int(json.loads(row[0]))


def jsonl_ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def check_prefix(found: list[dict[str, Any]], truth: dict[str, Any], tip: int) -> None:
    """Every payment mined up to ``tip`` reported received and confirmed, once, and no other."""
    mined = Counter(
        (p["txid"], p["vout"]) for p in truth["payments"] if p["height"] and p["height"] <= tip
    )
    assert mined
    assert Counter((e["txid"], e["vout"]) for e in live(found, "payment_confirmed")) == mined
    assert Counter((e["txid"], e["vout"]) for e in live(found, "payment_received")) == mined
    assert len({e["id"] for e in found}) == len(found)


@pytest.mark.slow
def test_sigkill_mid_cycle_and_after_commit_then_restart(
    tmp_path: Path, scenario: VastaamoScenario, truth: dict[str, Any]
) -> None:
    start = truth["start_tip_height"]
    chain = SimChain.from_scenario(scenario, tip=start + 1)
    db = tmp_path / "v.db"
    alerts = tmp_path / "alerts.jsonl"
    setup_case(db, truth)
    with SimServer(chain) as server, webhook_server() as hook:
        cli = Cli(tmp_path, db, server.url)
        sinks = ["--once", "--alert", f"jsonl:{alerts}", "--alert", f"webhook:{hook.url}"]

        code, _, err = cli.run(*sinks, "--exit-code")
        assert code == 3, err
        first = events(db)
        assert first

        # 1. Killed while it waits for a raw block: nothing of that cycle is stored.
        chain.advance(7)
        before = dump(db)
        with hold(server, raw_block) as held:
            proc = cli.start(*sinks)
            assert held.reached.wait(WAIT)
            kill(proc)
        assert dump(db) == before

        # ... and the next run (the kernel dropped the lock with the process) does it all.
        code, _, err = cli.run(*sinks, "--exit-code")
        assert code == 3, err
        check_prefix(events(db), truth, chain.tip_height)

        # 2. Killed after the commit, while the webhook holds its first alert unanswered.
        chain.advance(8)
        hook.hold = threading.Event()
        proc = cli.start(*sinks)
        assert hook.held.wait(WAIT)
        kill(proc)
        committed = events(db)
        check_prefix(committed, truth, chain.tip_height)  # the commit is whole
        held_id = hook.event_ids()[-1]
        waiting, hook.hold = hook.hold, None
        waiting.set()  # the receiver's thread answers a dead socket and moves on

        code, _, err = cli.run(*sinks)
        assert code == 0, err
        assert events(db) == committed  # nothing new on the chain: nothing new stored

        # 3. Then on to the end of the story, cron-style, with the same sinks.
        run_to_end(db, chain, server.url, [f"jsonl:{alerts}", f"webhook:{hook.url}"])

    final = events(db)
    check_events_match_truth(final, truth)
    ids = sorted(e["id"] for e in final)
    # The JSON lines file has every event exactly once: its deliveries were all marked before
    # the kills. The webhook got every event, and the one held when the process died twice.
    assert sorted(jsonl_ids(alerts)) == ids
    received = Counter(hook.event_ids())
    assert sorted(received) == ids
    assert {i: n for i, n in received.items() if n > 1} == {held_id: 2}


def run_to_end(db: Path, chain: SimChain, url: str, alerts: list[str]) -> None:
    """Cycle after cycle in this process (one provider, as the daemon) to the last block."""

    async def run() -> None:
        async with session(db, url, "block", sinks=make_sinks(alerts)) as s:
            while True:
                await s.cycle()
                if chain.tip_height >= chain.last_planned_height:
                    return
                chain.advance(min(2, chain.last_planned_height - chain.tip_height))

    asyncio.run(run())


def test_overlapping_runs_one_works_the_other_exits_75(
    tmp_path: Path, scenario: VastaamoScenario, truth: dict[str, Any]
) -> None:
    chain = SimChain.from_scenario(scenario, tip=truth["start_tip_height"] + 8)
    db = tmp_path / "v.db"
    setup_case(db, truth)
    with SimServer(chain) as server:
        cli = Cli(tmp_path, db, server.url)
        with hold(server, lambda target: True) as held:
            first = cli.start("--once", "--exit-code", "--alert", "stderr")
            assert held.reached.wait(WAIT)  # the first run holds the lock, mid-cycle
            code, out, err = cli.run("--once", "--exit-code")
            assert code == 75
            assert out == ""
            lines = err.strip().splitlines()
            assert len(lines) == 1
            assert lines[0].startswith(f"btcwatch: error: another watch is running on {db}")
            assert f"(pid {first.pid})" in lines[0]
        out, err = first.communicate(timeout=WAIT)
        assert first.returncode == 3, err
        code, _, err = cli.run("--once", "--exit-code")
        assert code == 0, err
    check_prefix(events(db), truth, chain.tip_height)


def test_interval_daemon_follows_the_tip_and_stops_cleanly_on_sigterm(
    tmp_path: Path, scenario: VastaamoScenario, truth: dict[str, Any]
) -> None:
    start = truth["start_tip_height"]
    chain = SimChain.from_scenario(scenario, tip=start)
    db = tmp_path / "v.db"
    alerts = tmp_path / "alerts.jsonl"
    setup_case(db, truth)
    with SimServer(chain) as server:
        cli = Cli(tmp_path, db, server.url)
        daemon = cli.start("--interval", "0.2", "--alert", f"jsonl:{alerts}")
        try:
            wait_for(lambda: tip_seen(db) == chain.tip_height, "the first cycle")
            for _ in range(8):  # the tip moves; the daemon keeps up, cycle after cycle
                chain.advance()
                wait_for(lambda: tip_seen(db) == chain.tip_height, f"tip {chain.tip_height}")
            # SIGTERM while a cycle waits for a block: the cycle is finished, then it exits.
            with hold(server, raw_block) as held:
                chain.advance(8)
                assert held.reached.wait(WAIT)
                daemon.send_signal(signal.SIGTERM)
                time.sleep(0.1)  # let the signal arrive before the answer does (not asserted)
            out, err = daemon.communicate(timeout=WAIT)
        finally:
            if daemon.poll() is None:
                daemon.kill()
    assert daemon.returncode == 0, err
    assert tip_seen(db) == chain.tip_height == start + 16
    found = events(db)
    check_prefix(found, truth, chain.tip_height)
    assert sorted(jsonl_ids(alerts)) == sorted(e["id"] for e in found)
    assert out == ""
    summaries = [line for line in err.splitlines() if line.startswith("block mode: tip ")]
    assert len(summaries) >= 10
    assert summaries[-1].startswith(f"block mode: tip {chain.tip_height}, {VICTIMS} addresses")
    assert "error" not in err


def test_sigterm_between_cycles_exits_0_at_once(
    tmp_path: Path, scenario: VastaamoScenario, truth: dict[str, Any]
) -> None:
    chain = SimChain.from_scenario(scenario, tip=truth["start_tip_height"] + 1)
    db = tmp_path / "v.db"
    setup_case(db, truth)
    with SimServer(chain) as server:
        daemon = Cli(tmp_path, db, server.url).start("--interval", "3600")
        try:
            wait_for(lambda: tip_seen(db) == chain.tip_height, "the first cycle")
            daemon.send_signal(signal.SIGTERM)  # asleep for an hour: wakes up and leaves
            _, err = daemon.communicate(timeout=WAIT)
        finally:
            if daemon.poll() is None:
                daemon.kill()
    assert daemon.returncode == 0, err
    check_prefix(events(db), truth, chain.tip_height)
