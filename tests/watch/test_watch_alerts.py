"""Alert sinks for real: stderr lines, JSON lines, a signed webhook on loopback, SMTP on loopback.

Delivery goes through the outbox (`deliver`), as in a watch cycle: a row is marked delivered
only after its sink accepted it, so a failing sink keeps the row pending (with the error) for
the next run, and a delivered row is never sent again.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from loopback import smtp_server, webhook_server

from btcwatch.config import SmtpSettings
from btcwatch.errors import ConfigError
from btcwatch.event import Event, Kind, event_id
from btcwatch.prices import PriceTable
from btcwatch.store import Store
from btcwatch.store.events import list_events, record_events
from btcwatch.watch.alerts import (
    EmailSink,
    JsonlSink,
    Sink,
    StreamSink,
    WebhookSink,
    alert_payload,
    deliver,
    parse_sink,
)
from btcwatch.watch.enrich import enrich_payment

ADDRESS = "bc1qx0jp5nwz5cxfpsgss3a4ln2vexfgn8kjkra88y"
TXID = "5d27f1aac09f7491f6854dcaf7fc7f32581bc628ca7234daf10cae0626cdab03"
BLOCK = "00000000000000000003f3fbb5ac9aa8d44f0c4a3bf2bd4b3ed22a2a6a0b7e1c"
SECRET = "s3cret-for-tests"
WHEN = datetime(2020, 10, 24, 9, 0, tzinfo=UTC)


def payment(kind: Kind = Kind.PAYMENT_RECEIVED, height: int | None = None) -> Event:
    block = BLOCK if height is not None else None
    ev = Event(
        event_id(kind, "vastaamo", TXID, 0, block if kind is Kind.PAYMENT_CONFIRMED else None),
        kind,
        "vastaamo",
        ADDRESS,
        TXID,
        0,
        1_808_963,
        height,
        block,
    )
    return enrich_payment(
        ev,
        when=WHEN,
        demand="200EUR then 500EUR after 24h",
        prices=PriceTable.load_default(),
        time_source="block",
    )


def recorded(sinks: list[str], events: list[Event] | None = None) -> Store:
    store = Store.memory()
    record_events(store, events or [payment()], sinks, seen_at="2020-10-24T09:00:05Z")
    return store


def outbox(store: Store) -> list[dict[str, Any]]:
    return list(store.database_for_tests().table("outbox").rows_where(order_by="rowid"))


def run(store: Store, sinks: list[Sink]) -> tuple[int, list[str]]:
    return asyncio.run(deliver(store, sinks))


class Waits:
    """An injected sleep: records the backoff instead of waiting it out."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


# -- stderr ------------------------------------------------------------------------------------


def test_stderr_sink_writes_one_human_line_per_event(capsys: pytest.CaptureFixture[str]) -> None:
    store = recorded(["stderr"], [payment(), payment(Kind.PAYMENT_CONFIRMED, 654213)])
    assert run(store, [parse_sink("stderr")]) == (2, [])
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"payment_received [vastaamo] {ADDRESS} 0.01808963 BTC (200.00 EUR) tx {TXID}:0 "
        "unconfirmed demand:exact",
        f"payment_confirmed [vastaamo] {ADDRESS} 0.01808963 BTC (200.00 EUR) tx {TXID}:0 "
        "block 654213 demand:exact",
    ]
    assert {r["status"] for r in outbox(store)} == {"delivered"}


def test_stream_line_for_a_revert_and_a_move() -> None:
    revert = Event(
        event_id(Kind.REVERTED, "x"),
        Kind.REVERTED,
        "vastaamo",
        None,
        TXID,
        None,
        None,
        None,
        None,
        {"reverts": "x", "reason": "gone"},
    )
    buf = io.StringIO()
    store = recorded(["stderr"], [revert])
    assert run(store, [StreamSink(stream=buf)]) == (1, [])
    assert buf.getvalue() == f"reverted [vastaamo] tx {TXID} unconfirmed\n"


# -- jsonl -------------------------------------------------------------------------------------


def test_jsonl_sink_appends_one_json_object_per_event(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    spec = f"jsonl:{path}"
    store = recorded([spec])
    sink = parse_sink(spec)
    assert isinstance(sink, JsonlSink)
    assert run(store, [sink]) == (1, [])
    assert run(store, [sink]) == (0, [])  # delivered rows are never sent again
    lines = path.read_text().splitlines()
    assert len(lines) == 1
    alert = json.loads(lines[0])
    assert list(alert) == sorted(alert)
    row = list_events(store)[0].as_dict()
    assert alert["id"] == row["id"] and alert["kind"] == "payment_received"
    assert alert["case"] == "vastaamo" and alert["address"] == ADDRESS
    assert (alert["txid"], alert["vout"], alert["value_sat"]) == (TXID, 0, 1_808_963)
    assert alert["height"] is None and alert["seen_at"] == "2020-10-24T09:00:05Z"
    assert alert["details"]["value_btc"] == "0.01808963"
    assert alert["details"]["fiat"]["EUR"]["value"] == "200.00"
    assert alert["details"]["demand_match"]["verdict"] == "exact"


# -- webhook -----------------------------------------------------------------------------------


def test_webhook_posts_signed_json_with_the_event_id() -> None:
    with webhook_server() as hook:
        spec = f"webhook:{hook.url}"
        store = recorded([spec])
        assert run(store, [parse_sink(spec, secret=SECRET)]) == (1, [])
    [got] = hook.received
    assert got.path == "/hook"
    payload = json.loads(got.body)
    row = pending_rows_as_payload(store)
    assert payload == row
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Btcwatch-Event"] == payload["id"]
    expected = hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["X-Btcwatch-Signature"] == f"sha256={expected}"


def pending_rows_as_payload(store: Store) -> dict[str, Any]:
    """The payload every sink sends, rebuilt from the stored event."""
    return alert_payload(list_events(store)[0])


def test_webhook_without_a_secret_is_not_signed() -> None:
    with webhook_server() as hook:
        spec = f"webhook:{hook.url}"
        assert run(recorded([spec]), [parse_sink(spec)]) == (1, [])
    assert "X-Btcwatch-Signature" not in hook.received[0].headers


def test_webhook_retries_server_errors_with_backoff_then_succeeds() -> None:
    waits = Waits()
    with webhook_server([500, 503, 200]) as hook:
        spec = f"webhook:{hook.url}"
        store = recorded([spec])
        sink = WebhookSink(spec, hook.url, SECRET, sleep=waits)
        assert run(store, [sink]) == (1, [])
        assert run(store, [sink]) == (0, [])
    assert waits.seconds == [0.5, 1.0]
    assert len(hook.received) == 3
    assert len(set(hook.event_ids())) == 1
    [row] = outbox(store)
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 1, None)


def test_webhook_client_error_is_not_retried() -> None:
    waits = Waits()
    with webhook_server([400]) as hook:
        spec = f"webhook:{hook.url}"
        store = recorded([spec])
        delivered, errors = run(store, [WebhookSink(spec, hook.url, sleep=waits)])
    assert delivered == 0 and "HTTP 400" in errors[0]
    assert len(hook.received) == 1 and waits.seconds == []


def test_failing_webhook_keeps_alerts_pending_until_a_later_run_delivers_them_once() -> None:
    events = [payment(), payment(Kind.PAYMENT_CONFIRMED, 654213)]
    waits = Waits()
    with webhook_server([500]) as hook:
        spec = f"webhook:{hook.url}"
        store = recorded([spec], events)
        sink = WebhookSink(spec, hook.url, SECRET, sleep=waits)

        delivered, errors = run(store, [sink])
        assert delivered == 0 and len(errors) == 1
        assert f"webhook {hook.url} failed: HTTP 500" in errors[0]
        first, second = outbox(store)
        assert first["status"] == "pending" and first["attempts"] == 1
        assert "HTTP 500" in first["last_error"]
        # Order is kept: the second alert waits behind the first instead of overtaking it.
        assert second["status"] == "pending" and second["attempts"] == 0
        assert hook.event_ids() == [events[0].id] * 4  # four tries, then give up for this run
        assert waits.seconds == [0.5, 1.0, 2.0]  # between tries, none after the last

        hook.statuses = [200]
        failed_posts = len(hook.received)
        assert run(store, [sink]) == (2, [])
        assert run(store, [sink]) == (0, [])  # never sent twice after success
        later = hook.event_ids()[failed_posts:]
    assert later == [events[0].id, events[1].id]
    assert [(r["status"], r["attempts"], r["last_error"]) for r in outbox(store)] == [
        ("delivered", 2, None),
        ("delivered", 1, None),
    ]


def test_one_failing_sink_does_not_hold_back_the_others(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with webhook_server([500]) as hook:
        specs = [f"webhook:{hook.url}", f"jsonl:{path}"]
        store = recorded(specs)
        sinks: list[Sink] = [WebhookSink(specs[0], hook.url, sleep=Waits()), parse_sink(specs[1])]
        delivered, errors = run(store, sinks)
    assert delivered == 1 and len(errors) == 1
    assert len(path.read_text().splitlines()) == 1
    assert {(r["sink"], r["status"]) for r in outbox(store)} == {
        (specs[0], "pending"),
        (specs[1], "delivered"),
    }


# -- e-mail ------------------------------------------------------------------------------------


def test_email_sink_sends_the_alert_through_smtp() -> None:
    with smtp_server() as box:
        smtp = SmtpSettings(host="127.0.0.1", port=box.port, sender="btcwatch@example.org")
        spec = "email:investigator@example.org"
        store = recorded([spec])
        sink = parse_sink(spec, smtp=smtp)
        assert isinstance(sink, EmailSink)
        assert run(store, [sink]) == (1, [])
    [(sender, rcpts, msg)] = box.messages
    assert sender == "btcwatch@example.org" and rcpts == ["investigator@example.org"]
    assert msg["From"] == "btcwatch@example.org" and msg["To"] == "investigator@example.org"
    assert msg["Subject"] == (
        f"btcwatch: payment_received [vastaamo] {ADDRESS} 0.01808963 BTC (200.00 EUR) "
        f"tx {TXID}:0 unconfirmed demand:exact"
    )
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = json.loads(payload)
    assert msg["X-Btcwatch-Event"] == body["id"]
    assert body == pending_rows_as_payload(store)


def test_unreachable_smtp_server_keeps_the_alert_pending() -> None:
    with smtp_server() as box:
        port = box.port  # closed again when the block ends
    smtp = SmtpSettings(host="127.0.0.1", port=port)
    store = recorded(["email:a@example.org"])
    delivered, errors = run(store, [parse_sink("email:a@example.org", smtp=smtp)])
    assert delivered == 0 and errors[0].startswith("email:a@example.org: ")
    [row] = outbox(store)
    assert row["status"] == "pending" and row["last_error"]


# -- specs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec", ["", "jsonl:", "webhook:ftp://x", "webhook:", "email:nobody", "sms:+358", "stdout"]
)
def test_bad_sink_specs_are_refused_with_the_spec_named(spec: str) -> None:
    with pytest.raises(ConfigError, match="bad alert sink"):
        parse_sink(spec)
