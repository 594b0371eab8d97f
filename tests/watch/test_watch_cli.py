"""`btcwatch watch` and `btcwatch events` through the real CLI: exit codes, messages, JSON.

Exit codes: 0 nothing new (or no --exit-code), 3 new events with --exit-code, 1 a cycle failed
(e.g. the explorer cannot be reached), 2 bad input (nothing touched), 75 another watch holds
the lock. Every error is one line on stderr; summaries go to stderr, JSON to stdout.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from loopback import smtp_server, webhook_server
from simwatch import World, event_rows

from btcwatch.event import Event, Kind, event_id
from btcwatch.model import OutPoint, WatchedOutput
from btcwatch.store import Store
from btcwatch.store.events import list_events, record_events, set_state
from btcwatch.store.watchstate import save_outputs
from btcwatch.watch.lock import watch_lock

SUMMARY = re.compile(
    r"^(block|address) mode: tip \d+, 7 addresses, \d+ blocks scanned, \d+ requests, .+, "
    r"\d+ alerts sent in \d+\.\ds$"
)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_exit_code_3_when_new_events_then_0_when_nothing_new(world: World) -> None:
    first = world.watch_once("--exit-code")
    assert first.exit_code == 3, first.stderr
    stored = event_rows(world.db)
    assert {r["kind"] for r in stored} == {"payment_received", "payment_confirmed"}
    # The default sink prints one line per event; the cycle summary follows, all on stderr.
    lines = first.stderr.splitlines()
    assert sum(line.startswith("payment_") for line in lines) == len(stored)
    assert SUMMARY.match(lines[-1]), lines[-1]
    assert first.stdout == ""

    again = world.watch_once("--exit-code")
    assert again.exit_code == 0, again.stderr
    assert "no new events" in again.stderr
    assert len(event_rows(world.db)) == len(stored)

    world.chain.advance_to(world.chain.tip_height + 30)
    without_flag = world.watch_once()
    assert without_flag.exit_code == 0 and len(event_rows(world.db)) > len(stored)


def test_unreachable_explorer_fails_with_one_line_naming_it(world: World) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once the socket is closed
    before = digest(world.db)
    result = world.cli(
        "watch", "--case", "vastaamo", "--once", "--explorer", f"http://127.0.0.1:{port}/api",
        "--exit-code", env={"BTCWATCH_RETRIES": "2"},  # one backoff wait instead of four
    )  # fmt: skip
    assert result.exit_code == 1
    line = one_line(result.stderr)
    assert line.startswith("btcwatch: error: ") and f"127.0.0.1:{port}" in line
    assert "cannot connect" in line and "gave up after 2 tries" in line
    assert digest(world.db) == before


def test_lock_busy_exits_75_at_once_with_one_line(world: World) -> None:
    before = digest(world.db)
    with watch_lock(world.db):
        result = world.watch_once("--exit-code")
    assert result.exit_code == 75
    line = one_line(result.stderr)
    assert line.startswith("btcwatch: error: another watch is running on ")
    assert digest(world.db) == before
    assert world.server.requests.total() == 0  # it did not even ask the explorer


BAD_INPUT = {
    "unknown case": ["watch", "--case", "nope", "--once"],
    "once and interval": ["watch", "--case", "vastaamo", "--once", "--interval", "5"],
    "neither once nor interval": ["watch", "--case", "vastaamo"],
    "zero interval": ["watch", "--case", "vastaamo", "--interval", "0"],
    "bad sink": ["watch", "--case", "vastaamo", "--once", "--alert", "sms:+358401234567"],
    "empty jsonl path": ["watch", "--case", "vastaamo", "--once", "--alert", "jsonl:"],
    "unknown mode": ["watch", "--case", "vastaamo", "--once", "--mode", "turbo"],
    "no confirmations": ["watch", "--case", "vastaamo", "--once", "--confirmations", "0"],
    "unknown explorer": ["watch", "--case", "vastaamo", "--once", "--explorer", "blockfish"],
    "cross-check with one explorer": ["watch", "--case", "vastaamo", "--once", "--cross-check"],
    "unknown event kind": ["events", "--kind", "payment"],
    "bad since": ["events", "--since", "last tuesday"],
    "events of unknown case": ["events", "--case", "nope"],
}


@pytest.mark.parametrize("args", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_exits_2_with_one_line_and_changes_nothing(world: World, args: list[str]) -> None:
    explorer = [] if "--explorer" in args or args[0] == "events" else ["--explorer", world.url]
    before = digest(world.db)
    result = world.cli(*args, *explorer)
    assert result.exit_code == 2, result.stderr
    assert one_line(result.stderr).startswith("btcwatch: error: ")
    assert digest(world.db) == before
    assert world.server.requests.total() == 0
    assert not (world.db.parent / "case.db.watch.lock").exists() or args[0] == "events"


def test_unknown_case_does_not_create_a_database(tmp_path: Path, world: World) -> None:
    missing = tmp_path / "never.db"
    result = world.cli("--db", str(missing), "watch", "--case", "x", "--once")
    assert result.exit_code == 2 and "no case named 'x'" in result.stderr
    assert not missing.exists()


def test_summary_and_alerts_go_to_stderr_json_to_stdout(world: World, tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    result = world.watch_once("--alert", f"jsonl:{path}", "--alert", "stderr")
    assert result.exit_code == 0 and result.stdout == ""
    ids = [json.loads(line)["id"] for line in path.read_text().splitlines()]
    assert sorted(ids) == sorted(r["id"] for r in event_rows(world.db))
    assert sum(" [vastaamo] " in line for line in result.stderr.splitlines()) == len(ids)


# -- events ------------------------------------------------------------------------------------

TXA = "aa" * 32
TXB = "bb" * 32
BLOCK = "00" * 4 + "11" * 28


def sample_events() -> list[tuple[str, Event]]:
    received = Event(
        event_id(Kind.PAYMENT_RECEIVED, "c1", TXA, 0),
        Kind.PAYMENT_RECEIVED,
        "c1",
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        TXA,
        0,
        5000,
        None,
        None,
        {"value_btc": "0.00005000"},
    )
    confirmed = Event(
        event_id(Kind.PAYMENT_CONFIRMED, "c1", TXA, 0, BLOCK),
        Kind.PAYMENT_CONFIRMED,
        "c1",
        received.address,
        TXA,
        0,
        5000,
        100,
        BLOCK,
    )
    other = Event(
        event_id(Kind.PAYMENT_RECEIVED, "c2", TXB, 1),
        Kind.PAYMENT_RECEIVED,
        "c2",
        "13AM4VW2dhxYgXeQepoHkHSQuy6NgaEb94",
        TXB,
        1,
        7000,
        None,
        None,
    )
    return [
        ("2020-10-24T08:00:00Z", received),
        ("2020-10-24T09:00:00Z", confirmed),
        ("2020-10-25T00:00:00Z", other),
    ]


@pytest.fixture
def events_db(world: World) -> Path:
    with Store.open(world.db) as store:
        store.database_for_tests().table("cases").insert_all(
            [{"name": n, "created_at": "2020-10-24T00:00:00Z"} for n in ("c1", "c2")]
        )
        for seen_at, ev in sample_events():
            record_events(store, [ev], [], seen_at=seen_at)
        set_state(store, "tip_height", 102)
        # c2's payment, first seen unconfirmed, was mined in block 101 since.
        address = "13AM4VW2dhxYgXeQepoHkHSQuy6NgaEb94"
        save_outputs(store, [WatchedOutput("c2", address, OutPoint(TXB, 1), 7000, "", 101, BLOCK)])
    return world.db


def events_json(world: World, *args: str) -> list[dict[str, Any]]:
    result = world.cli("events", "--json", *args)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    return data


def test_events_json_has_every_field_and_matches_the_library(world: World, events_db: Path) -> None:
    data = events_json(world)
    with Store.open(events_db) as store:
        assert data == json.loads(json.dumps([row.as_dict() for row in list_events(store)]))
    required = {"id", "kind", "case", "address", "txid", "vout", "value_sat", "height"}
    required |= {"confirmations", "seen_at"}
    assert all(required <= set(row) for row in data)
    received, confirmed, other = data
    assert received["height"] is None and received["confirmations"] == 0
    assert confirmed["height"] == 100 and confirmed["confirmations"] == 3
    assert received["details"] == {"value_btc": "0.00005000"}
    assert (other["case"], other["vout"], other["value_sat"]) == ("c2", 1, 7000)
    assert (other["height"], other["confirmations"]) == (101, 2)  # mined since it was seen


def test_events_filters(world: World, events_db: Path) -> None:
    assert [r["case"] for r in events_json(world, "--case", "c2")] == ["c2"]
    kinds = events_json(world, "--kind", "payment_confirmed")
    assert [r["kind"] for r in kinds] == ["payment_confirmed"]
    both = events_json(world, "--kind", "payment_confirmed", "--kind", "payment_received")
    assert len(both) == 3
    assert len(events_json(world, "--since", "2020-10-24T08:30:00Z")) == 2
    assert len(events_json(world, "--since", "2020-10-24T10:30:00+02:00")) == 2  # 08:30 UTC
    assert len(events_json(world, "--since", "2020-10-25")) == 1
    assert events_json(world, "--since", "2021-01-01") == []
    assert events_json(world, "--case", "vastaamo") == []


def test_events_table_lists_every_event(world: World, events_db: Path) -> None:
    result = world.cli("events")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["SEEN_AT", "KIND", "CASE"]
    assert len(lines) == 4 and TXA in lines[1] and TXB in lines[3]


def test_every_sink_at_once_with_settings_from_the_environment(
    world: World, tmp_path: Path
) -> None:
    path = tmp_path / "alerts.jsonl"
    secret = "from-the-environment"
    with webhook_server() as hook, smtp_server() as box:
        env = {
            "BTCWATCH_SMTP_HOST": "127.0.0.1",
            "BTCWATCH_SMTP_PORT": str(box.port),
            "BTCWATCH_SMTP_SENDER": "watch@example.org",
            "BTCWATCH_WEBHOOK_SECRET": secret,
        }
        sinks = ["stderr", f"jsonl:{path}", f"webhook:{hook.url}", "email:ir@example.org"]
        args = [arg for sink in sinks for arg in ("--alert", sink)]
        result = world.watch_once(*args, env=env)
        assert result.exit_code == 0, result.stderr
        again = world.watch_once(*args, env=env)  # nothing new, nothing pending: nothing sent
        assert again.exit_code == 0 and "0 alerts sent" in again.stderr

    ids = sorted(r["id"] for r in event_rows(world.db))
    assert ids and sorted(json.loads(line)["id"] for line in path.read_text().splitlines()) == ids
    assert sorted(hook.event_ids()) == ids
    for got in hook.received:
        mac = hmac.new(secret.encode(), got.body, hashlib.sha256).hexdigest()
        assert got.headers["X-Btcwatch-Signature"] == f"sha256={mac}"
    assert sorted(msg["X-Btcwatch-Event"] for _, _, msg in box.messages) == ids
    assert {(sender, tuple(rcpts)) for sender, rcpts, _ in box.messages} == {
        ("watch@example.org", ("ir@example.org",))
    }
    assert sum(" [vastaamo] " in line for line in result.stderr.splitlines()) == len(ids)
    assert f"{len(ids) * len(sinks)} alerts sent" in result.stderr
