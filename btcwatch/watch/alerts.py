"""Alert sinks and at-least-once delivery from the outbox.

An event is stored with one outbox row per sink before anything is sent; a row is marked
delivered only after its sink accepted it. A crash in between re-sends on the next run (receivers
deduplicate by the event id, sent with every alert), never drops an alert. A sink that fails
keeps its row pending with the error (``outbox.last_error``); later events for that sink wait
behind it, in order, and the next run tries again. Other sinks are not held back: each sink is
delivered to by its own task, concurrently, within its own total deadline (``SINK_DEADLINE``
seconds per run), so a webhook that never answers delays neither the JSON lines file nor the
next cycle; its row stays pending with "webhook URL timed out after N s".

Sinks and what they send (the alert is `alert_payload`: id, kind, case, address, txid, vout,
value_sat, height, block_hash, seen_at, details):

- ``stderr`` (default): `summary_line`, one line per event, e.g.
  ``payment_received [vastaamo] bc1q... 0.01808963 BTC (200.00 EUR) tx <txid>:0 unconfirmed
  demand:exact``.
- ``jsonl:PATH``: the alert as one JSON object per line (sorted keys), appended and fsynced.
- ``webhook:URL``: POST of the same JSON; headers ``Content-Type: application/json``,
  ``X-Btcwatch-Event: <id>`` and, with ``webhook_secret`` configured,
  ``X-Btcwatch-Signature: sha256=<hex HMAC-SHA256 of the body>``. 5xx, 429 and connection
  errors are tried 4 times (waits 0.5, 1, 2 s between; 10 s per try), within the sink's
  deadline; other 4xx are not retried.
- ``email:ADDRESS``: subject ``btcwatch: <summary line>``, header ``X-Btcwatch-Event``, body the
  JSON (indented); SMTP host, port, sender from config (``[smtp]``, ``BTCWATCH_SMTP_*``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import smtplib
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol, TextIO
from urllib.parse import urlsplit

import httpx

from btcwatch.config import SmtpSettings
from btcwatch.errors import ConfigError
from btcwatch.money import btc
from btcwatch.store import Store
from btcwatch.store.events import OutboxItem, StoredEvent, mark_delivery, pending_outbox

WEBHOOK_TRIES = 4
WEBHOOK_TIMEOUT = 10.0  # seconds per try (connect, each read)
SINK_DEADLINE = 30.0  # seconds one sink may take per run, all its pending alerts together


class Sink(Protocol):
    spec: str

    async def send(self, alert: dict[str, Any]) -> None: ...


def alert_payload(item: OutboxItem | StoredEvent) -> dict[str, Any]:
    """The JSON every sink sends: the stored event with its details decoded."""
    return {
        "id": item.id,
        "kind": item.kind,
        "case": item.case,
        "address": item.address,
        "txid": item.txid,
        "vout": item.vout,
        "value_sat": item.value_sat,
        "height": item.height,
        "block_hash": item.block_hash,
        "seen_at": item.seen_at,
        "details": item.details,
    }


def summary_line(alert: dict[str, Any]) -> str:
    """One human line per event, for terminals, cron mail and e-mail subjects."""
    parts = [alert["kind"], f"[{alert['case']}]"]
    if alert.get("address"):
        parts.append(alert["address"])
    if alert.get("value_sat") is not None:
        parts.append(btc(alert["value_sat"]))
        eur = ((alert.get("details") or {}).get("fiat") or {}).get("EUR") or {}
        if eur.get("value"):
            parts.append(f"({eur['value']} EUR)")
    if alert.get("txid"):
        where = alert["txid"] + (f":{alert['vout']}" if alert.get("vout") is not None else "")
        parts.append(f"tx {where}")
    parts.append("unconfirmed" if alert.get("height") is None else f"block {alert['height']}")
    verdict = ((alert.get("details") or {}).get("demand_match") or {}).get("verdict")
    if verdict:
        parts.append(f"demand:{verdict}")
    return " ".join(parts)


@dataclass
class StreamSink:
    spec: str = "stderr"
    stream: TextIO | None = None

    async def send(self, alert: dict[str, Any]) -> None:
        out = self.stream or sys.stderr
        out.write(summary_line(alert) + "\n")
        out.flush()


@dataclass
class JsonlSink:
    spec: str
    path: Path

    async def send(self, alert: dict[str, Any]) -> None:
        line = json.dumps(alert, sort_keys=True) + "\n"
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())


@dataclass
class WebhookSink:
    spec: str
    url: str
    secret: str | None = None
    transport: httpx.AsyncBaseTransport | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def send(self, alert: dict[str, Any]) -> None:
        body = json.dumps(alert, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "X-Btcwatch-Event": alert["id"]}
        if self.secret:
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Btcwatch-Signature"] = f"sha256={digest}"
        last = ""
        async with httpx.AsyncClient(transport=self.transport, timeout=WEBHOOK_TIMEOUT) as client:
            for attempt in range(WEBHOOK_TRIES):
                try:
                    response = await client.post(self.url, content=body, headers=headers)
                    if response.status_code < 300:
                        return
                    last = f"HTTP {response.status_code}"
                    if 400 <= response.status_code < 500 and response.status_code != 429:
                        break
                except httpx.TimeoutException as exc:
                    last = f"timed out after {WEBHOOK_TIMEOUT:g} s ({type(exc).__name__})"
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {' '.join(str(exc).split()) or 'no detail'}"
                if attempt + 1 < WEBHOOK_TRIES:  # no wait after the last try: the run goes on
                    await self.sleep(min(30.0, 0.5 * 2**attempt))
        raise OSError(f"webhook {self.url} failed: {last}")


@dataclass
class EmailSink:
    spec: str
    to: str
    smtp: SmtpSettings

    async def send(self, alert: dict[str, Any]) -> None:
        await asyncio.to_thread(self._send, alert)

    def _send(self, alert: dict[str, Any]) -> None:
        msg = EmailMessage()
        # Whole, not cut: the line is bounded (one address, one txid) and mail folds it.
        msg["Subject"] = f"btcwatch: {summary_line(alert)}"
        msg["From"] = self.smtp.sender
        msg["To"] = self.to
        msg["X-Btcwatch-Event"] = alert["id"]
        msg.set_content(json.dumps(alert, indent=2, sort_keys=True))
        with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=30) as smtp:
            if self.smtp.starttls:
                smtp.starttls()
            if self.smtp.username:
                smtp.login(self.smtp.username, self.smtp.password or "")
            smtp.send_message(msg)


def parse_sink(
    spec: str,
    *,
    smtp: SmtpSettings | None = None,
    secret: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Sink:
    """Turn ``stderr``, ``jsonl:PATH``, ``webhook:URL`` or ``email:ADDRESS`` into a sink."""
    kind, _, target = spec.partition(":")
    if spec == "stderr":
        return StreamSink()
    if kind == "jsonl" and target:
        return JsonlSink(spec, Path(target).expanduser())
    if kind == "webhook" and target.startswith(("http://", "https://")):
        return WebhookSink(spec, target, secret, transport)
    if kind == "email" and "@" in target:
        return EmailSink(spec, target, smtp or SmtpSettings())
    raise ConfigError(
        f"bad alert sink {spec!r} (use stderr, jsonl:PATH, webhook:URL or email:ADDRESS)"
    )


def check_sink(sink: Sink) -> None:
    """Refuse a sink that can never deliver (ConfigError, exit 2), before the watch starts."""
    if isinstance(sink, JsonlSink):
        path = sink.path
        folder = path.parent
        if not folder.is_dir():
            raise ConfigError(f"alert sink {sink.spec!r}: directory {folder} does not exist")
        if path.exists() and (path.is_dir() or not os.access(path, os.W_OK)):
            raise ConfigError(f"alert sink {sink.spec!r}: {path} is not a writable file")
        if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
            raise ConfigError(f"alert sink {sink.spec!r}: directory {folder} is not writable")
    elif isinstance(sink, WebhookSink):
        try:
            url = urlsplit(sink.url)
            url.port  # noqa: B018 - a bad port raises here
            httpx.URL(sink.url)
        except (httpx.InvalidURL, ValueError) as exc:
            raise ConfigError(f"alert sink {sink.spec!r}: not a URL ({exc})") from None
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"alert sink {sink.spec!r}: the webhook URL needs a host")


def sink_name(sink: Sink) -> str:
    """``webhook https://...``, ``jsonl /path``: what a message calls a sink."""
    kind, _, target = sink.spec.partition(":")
    return f"{kind} {target}" if target else kind


async def deliver(
    store: Store, sinks: Sequence[Sink], *, deadline: float | None = None
) -> tuple[int, list[str]]:
    """Send every pending outbox row; returns (delivered, errors). Failures stay pending.

    Sinks are served concurrently, each within ``deadline`` seconds (default SINK_DEADLINE):
    one slow sink holds back neither the others nor the caller for longer than that.
    """
    limit = SINK_DEADLINE if deadline is None else deadline
    results = await asyncio.gather(*(_deliver_one(store, sink, limit) for sink in sinks))
    return sum(n for n, _ in results), [e for _, errs in results for e in errs]


async def _deliver_one(store: Store, sink: Sink, deadline: float) -> tuple[int, list[str]]:
    delivered = 0
    row: OutboxItem | None = None
    try:
        async with asyncio.timeout(deadline):
            for row in pending_outbox(store, sink.spec):
                try:
                    await sink.send(alert_payload(row))
                except Exception as exc:
                    mark_delivery(store, row.id, sink.spec, ok=False, error=str(exc)[:500])
                    return delivered, [f"{sink.spec}: {exc}"]  # keep order: later ones wait
                mark_delivery(store, row.id, sink.spec, ok=True)
                delivered += 1
    except TimeoutError:
        problem = f"{sink_name(sink)} timed out after {deadline:g} s"
        if row is not None:
            mark_delivery(store, row.id, sink.spec, ok=False, error=problem)
        return delivered, [f"{sink.spec}: {problem}"]
    return delivered, []
