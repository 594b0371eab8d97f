"""`watch --follow` is crash-safe (issue 12, item 3): the follow-up trace is durable work.

- A trace that fails on an explorer error stays owed and the next tick does it.
- A trace run left `running` by a process that is gone is marked failed and its trace redone.
- The crash-torture run: `watch --once --follow` subprocesses SIGKILLed at random moments
  (0.05-3 s), then clean ticks, end with exactly the events of an uninterrupted run,
  funds_at_exchange included, and no trace run left `running`.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from btcwatch.cli import app
from btcwatch.followup import after_cycle
from btcwatch.intake import add_addresses, create_case
from btcwatch.providers import PoolSettings
from btcwatch.sim import SimChain, SimServer, VastaamoScenario, vastaamo
from btcwatch.sim.server import Reply
from btcwatch.store import Store
from btcwatch.store.events import list_events
from btcwatch.store.followups import owed_followups
from btcwatch.store.traces import list_runs
from btcwatch.watch.runner import WatchOptions
from btcwatch.watch.service import WatchRun, run_watch

REPO = Path(__file__).resolve().parents[2]
WAIT = 120.0


@pytest.fixture(scope="module")
def scenario() -> VastaamoScenario:
    return vastaamo(victims=40, seed=2020, background=3)


def setup(tmp: Path, scenario: VastaamoScenario, name: str = "v.db") -> Path:
    truth: dict[str, Any] = scenario.ground_truth()
    db = tmp / name
    with Store.open(db) as store:
        create_case(store, "v")
        add_addresses(store, "v", [r["address"] for r in truth["ransom_addresses"]])
    scenario.write_tagpack(tmp / "ex.yaml")
    done = CliRunner().invoke(app, ["--db", str(db), "tags", "import", str(tmp / "ex.yaml")])
    assert done.exit_code == 0, done.output
    return db


def tick(db: Path, url: str, retries: int = 5) -> list[Any]:
    run = WatchRun(
        WatchOptions("v", "address", follow=True),
        alerts=[],
        after_cycle=after_cycle,
        pool=PoolSettings(explorers=(url,), retries=retries),
    )
    return run_watch(db, run)


def event_ids(db: Path) -> set[tuple[str, str]]:
    with Store.open(db) as store:
        return {(e.kind, e.id) for e in list_events(store, case="v")}


def statuses(db: Path) -> list[str]:
    with Store.open(db) as store:
        return [r.status for r in list_runs(store, "v")]


def owed(db: Path) -> list[str]:
    with Store.open(db) as store:
        return [o.case for o in owed_followups(store)]


def settle(db: Path, url: str) -> set[tuple[str, str]]:
    """Clean ticks until one adds nothing (the trail's new addresses are polled a tick later)."""
    found = event_ids(db)
    for _ in range(10):
        tick(db, url)
        now = event_ids(db)
        if now == found and not owed(db):
            return now
        found = now
    raise AssertionError("the watch never settled")


def reference(tmp: Path, scenario: VastaamoScenario, url: str) -> set[tuple[str, str]]:
    db = setup(tmp, scenario, "reference.db")
    return settle(db, url)


def test_failed_and_abandoned_traces_stay_owed_and_are_redone(
    tmp_path: Path, scenario: VastaamoScenario
) -> None:
    truth: dict[str, Any] = scenario.ground_truth()
    chain = SimChain.from_scenario(scenario, tip="end")
    db = setup(tmp_path, scenario)
    with SimServer(chain) as server:
        expected = reference(tmp_path, scenario, server.url)
        answer = server.handle
        failing = [True]

        def handle(method: str, target: str, body: bytes) -> tuple[Reply | None, str]:
            if (
                failing[0] and "/api/tx/" in target
            ):  # the trace asks for txs and spends; the cycle not
                return Reply(503, b"down", "text/plain"), "outspends"
            return answer(method, target, body)

        server.handle = handle  # type: ignore[method-assign]
        (report,) = tick(db, server.url, retries=1)
        assert any(e.kind.value == "funds_moved" for e in report.events)
        assert report.followup_errors and "will retry" in report.followup_errors[0]
        assert owed(db) == ["v"]  # the explorer error did not lose the follow-up
        assert statuses(db) == ["failed"]
        assert not {k for k, _ in event_ids(db)} & {"funds_at_exchange"}

        # A process that died mid-trace: its run says `running`, its pid is gone.
        dead = subprocess.Popen(["true"])
        dead.wait()
        conn = sqlite3.connect(db)
        with conn:
            conn.execute(
                "INSERT INTO trace_runs (case_name, sources, params, status, started_at,"
                " owner_host, owner_pid) VALUES ('v', '[]', '{}', 'running', '2026', ?, ?)",
                [socket.gethostname(), dead.pid],
            )
        conn.close()

        failing[0] = False
        settle(db, server.url)
    assert owed(db) == []
    runs = statuses(db)
    assert "running" not in runs and runs[-1] == "done"
    with Store.open(db) as store:
        abandoned = list_runs(store, "v")[1]
    assert abandoned.summary["error"].startswith(f"abandoned: process {dead.pid}")
    assert event_ids(db) == expected
    flagged = {i for k, i in expected if k == "funds_at_exchange"}
    assert len(flagged) == len(truth["peels"])


@pytest.mark.slow
def test_crash_torture_ends_with_the_events_of_an_uninterrupted_run(
    tmp_path: Path, scenario: VastaamoScenario
) -> None:
    chain = SimChain.from_scenario(scenario, tip="end")
    db = setup(tmp_path, scenario)
    config = tmp_path / "empty.toml"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BTCWATCH_")}
    env["BTCWATCH_CONFIG"] = str(config)
    rng = random.Random(12)
    with SimServer(chain) as server:
        expected = reference(tmp_path, scenario, server.url)
        command = [sys.executable, "-m", "btcwatch", "--db", str(db), "watch", "--once"]
        command += ["--follow", "--case", "v", "--mode", "address", "--explorer", server.url]
        command += ["--alert", f"jsonl:{tmp_path / 'alerts.jsonl'}"]
        killed = 0
        for _ in range(10):
            proc = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            try:
                proc.wait(timeout=rng.uniform(0.05, 3.0))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            proc.communicate(timeout=WAIT)
            assert proc.returncode in (0, -signal.SIGKILL), proc.returncode
        assert killed >= 3  # the torture did torture
        found = settle(db, server.url)
    assert found == expected
    flagged = [i for k, i in found if k == "funds_at_exchange"]
    assert len(flagged) == len(scenario.ground_truth()["peels"])
    assert "running" not in statuses(db)
    assert owed(db) == []
    alerts = tmp_path / "alerts.jsonl"
    lines = alerts.read_text().splitlines() if alerts.exists() else []
    assert {json.loads(line)["id"] for line in lines} <= {i for _, i in expected}
