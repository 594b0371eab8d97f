"""Issue 12, items 12, 19, 20, 13, 14, 21: sinks, exit codes and signals, each hostile case run.

- 12: a webhook that never answers: the JSON lines sink gets every event in the same tick and
  the tick ends within the sink deadline; the message says what happened.
- 19: impossible sinks are refused when the watch starts (exit 2, one line).
- 20: `--exit-code` exits 4 while alerts stay undelivered.
- 13: Ctrl-C while retrying under `watch --once --exit-code`: exit 130 and a message.
- 14: `--interval nan|inf|0|-5`: exit 2, one line.
- 21: a second SIGTERM abandons the cycle, stores nothing and exits 143.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from loopback import webhook_server
from typer.testing import CliRunner

from btcwatch.cli import app
from btcwatch.event import Event, Kind, event_id
from btcwatch.intake import add_addresses, create_case
from btcwatch.providers import PoolSettings
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.store import Store
from btcwatch.store.events import list_events, record_events
from btcwatch.watch import alerts
from btcwatch.watch.alerts import WebhookSink, deliver, parse_sink
from btcwatch.watch.runner import WatchOptions
from btcwatch.watch.service import WatchRun, run_watch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "providers"))
from hostile import hostile_explorer

REPO = Path(__file__).resolve().parents[2]
TXID = "5d27f1aac09f7491f6854dcaf7fc7f32581bc628ca7234daf10cae0626cdab03"
ADDRESS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
WAIT = 60.0


def events(n: int) -> list[Event]:
    return [
        Event(
            event_id(Kind.PAYMENT_RECEIVED, "c", TXID, i),
            Kind.PAYMENT_RECEIVED,
            "c",
            ADDRESS,
            TXID,
            i,
            1000 + i,
            None,
            None,
        )
        for i in range(n)
    ]


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


# --- 12: sinks are independent, each within its own deadline ------------------------------


def test_hanging_webhook_holds_back_neither_jsonl_nor_the_caller(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with webhook_server() as hook:
        hook.hold = threading.Event()  # never answers while the test runs
        specs = [f"webhook:{hook.url}", f"jsonl:{path}"]
        store = Store.memory()
        record_events(store, events(3), specs)
        sinks = [parse_sink(s) for s in specs]
        delivered, errors = asyncio.run(deliver(store, sinks, deadline=1.0))
        assert hook.held.is_set()
    assert delivered == 3
    assert len(path.read_text().splitlines()) == 3
    assert errors == [f"webhook:{hook.url}: webhook {hook.url} timed out after 1 s"]
    rows = list(
        store.database_for_tests()
        .table("outbox")
        .rows_where("sink = ?", [specs[0]], order_by="rowid")
    )
    assert [r["status"] for r in rows] == ["pending"] * 3
    assert rows[0]["last_error"] == f"webhook {hook.url} timed out after 1 s"


def test_webhook_timeout_message_names_what_happened() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("", request=request)

    async def no_wait(seconds: float) -> None:
        pass

    sink = WebhookSink("webhook:http://h.test/x", "http://h.test/x", None, None, no_wait)
    sink.transport = httpx.MockTransport(handler)
    with pytest.raises(OSError) as caught:
        asyncio.run(sink.send({"id": "x"}))
    assert str(caught.value) == (
        "webhook http://h.test/x failed: timed out after 10 s (ReadTimeout)"
    )


def test_a_tick_with_a_hanging_webhook_ends_and_jsonl_has_every_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alerts, "SINK_DEADLINE", 1.0)
    scenario = vastaamo(victims=6, seed=5, background=1)
    truth = scenario.ground_truth()
    chain = SimChain.from_scenario(scenario, tip="end")
    db = tmp_path / "v.db"
    with Store.open(db) as store:
        create_case(store, "v")
        add_addresses(store, "v", [r["address"] for r in truth["ransom_addresses"]])
    path = tmp_path / "alerts.jsonl"
    with SimServer(chain) as server, webhook_server() as hook:
        hook.hold = threading.Event()
        run = WatchRun(
            WatchOptions("v", "address"),
            alerts=[f"webhook:{hook.url}", f"jsonl:{path}"],
            pool=PoolSettings(explorers=(server.url,)),
        )
        (report,) = run_watch(db, run)
    with Store.open(db) as store:
        stored = {e.id for e in list_events(store, case="v")}
    assert stored and {json.loads(x)["id"] for x in path.read_text().splitlines()} == stored
    assert report.alert_errors == [f"webhook:{hook.url}: webhook {hook.url} timed out after 1 s"]


# --- 19 and 14: refused at the start, exit 2, one line ------------------------------------


@pytest.mark.parametrize(
    ("alert", "says"),
    [
        ("jsonl:/nonexistent/dir/x.jsonl", "directory /nonexistent/dir does not exist"),
        ("webhook:http://", "the webhook URL needs a host"),
        ("webhook:http://h:99999/x", "not a URL"),
    ],
)
def test_impossible_sinks_are_refused_at_start(tmp_path: Path, alert: str, says: str) -> None:
    db = tmp_path / "x.db"
    result = CliRunner().invoke(app, ["--db", str(db), "watch", "--once", "--alert", alert], env={})
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("btcwatch: error: ") and says in lines[0]
    assert not db.exists()


def test_a_directory_is_not_a_jsonl_sink(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["--db", str(tmp_path / "x.db"), "watch", "--once", "--alert", f"jsonl:{tmp_path}"]
    )
    assert result.exit_code == 2 and "is not a writable file" in result.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-5"])
def test_bad_intervals_are_refused(tmp_path: Path, value: str) -> None:
    result = CliRunner().invoke(
        app, ["--db", str(tmp_path / "x.db"), "watch", "--interval", value], env={}
    )
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("btcwatch: error: --interval must be a positive number of seconds")


# --- 20, 13, 21: exit codes of the real CLI -----------------------------------------------


class Cli:
    def __init__(self, tmp: Path) -> None:
        config = tmp / "empty.toml"
        config.write_text("")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BTCWATCH_")}
        self.env["BTCWATCH_CONFIG"] = str(config)
        self.db = tmp / "c.db"
        with Store.open(self.db) as store:
            create_case(store, "c")
            add_addresses(store, "c", [ADDRESS])

    def start(self, url: str, *args: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "btcwatch", "--db", str(self.db), "watch"]
        command += ["--case", "c", "--mode", "address", "--explorer", url, *args]
        return subprocess.Popen(
            command,
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def test_exit_code_4_while_alerts_stay_undelivered(tmp_path: Path) -> None:
    scenario = vastaamo(victims=3, seed=5, background=1)
    truth = scenario.ground_truth()
    chain = SimChain.from_scenario(scenario, tip="end")
    cli = Cli(tmp_path)
    with Store.open(cli.db) as store:
        add_addresses(store, "c", [r["address"] for r in truth["ransom_addresses"]])
    with SimServer(chain) as server:
        dead = ["--alert", f"webhook:{closed_port_url()}", "--exit-code", "--once"]
        proc = cli.start(server.url, *dead)
        _, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 4, err
        assert "alert not delivered (will retry)" in err
        proc = cli.start(server.url, *dead)  # nothing new, still pending: still 4
        _, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 4, err
    with Store.open(cli.db) as store:
        pending = store.database_for_tests().table("outbox").count_where("status = 'pending'")
        stored = len(list_events(store, case="c"))
    assert pending == stored > 0


def test_ctrl_c_while_retrying_exits_130_with_a_message(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    with hostile_explorer("busy") as busy:
        proc = cli.start(busy.url, "--once", "--exit-code")
        wait_for(lambda: busy.requests >= 2, "a retry")  # it is in its backoff now
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "btcwatch: error: interrupted"


def test_second_sigterm_abandons_the_cycle_and_exits_143(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    with hostile_explorer("trickle", every=0.5) as slow:
        proc = cli.start(slow.url, "--interval", "60")
        wait_for(lambda: slow.requests >= 1, "the cycle's first request")
        proc.send_signal(signal.SIGTERM)  # finish the cycle, then stop ...
        time.sleep(0.2)  # let the first signal land first (ordering only, nothing asserted)
        proc.send_signal(signal.SIGTERM)  # ... no: abandon it
        _, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == (
        "btcwatch: error: second SIGTERM: the cycle in progress was abandoned, nothing stored"
    )
    with Store.open(cli.db) as store:
        assert list_events(store, case="c") == []
