"""Alert sinks and at-least-once delivery from the outbox.

An event is stored with one outbox row per sink before anything is sent; a row is marked
delivered only after its sink accepted it. A crash in between re-sends on the next run (receivers
deduplicate by the event id, sent with every alert), never drops an alert. A sink that fails
keeps its row pending with the error (``outbox.last_error``); later events for that sink wait
behind it, in order, and the next run tries again. Other sinks are not held back.

Sinks and what they send (the alert is `alert_payload`: id, kind, case, address, txid, vout,
value_sat, height, block_hash, seen_at, details):

- ``stderr`` (default): `summary_line`, one line per event, e.g.
  ``payment_received [vastaamo] bc1q... 0.01808963 BTC (200.00 EUR) tx <txid>:0 unconfirmed
  demand:exact``.
- ``jsonl:PATH``: the alert as one JSON object per line (sorted keys), appended and fsynced.
- ``webhook:URL``: POST of the same JSON; headers ``Content-Type: application/json``,
  ``X-Btcwatch-Event: <id>`` and, with ``webhook_secret`` configured,
  ``X-Btcwatch-Signature: sha256=<hex HMAC-SHA256 of the body>``. 5xx, 429 and connection
  errors are tried 4 times (waits 0.5, 1, 2 s between); other 4xx are not retried.
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

import httpx

from btcwatch.config import SmtpSettings
from btcwatch.errors import ConfigError
from btcwatch.money import format_btc
from btcwatch.store import Store
from btcwatch.store.events import mark_delivery, pending_outbox

WEBHOOK_TRIES = 4


class Sink(Protocol):
    spec: str

    async def send(self, alert: dict[str, Any]) -> None: ...


def alert_payload(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON every sink sends: the event row with its details decoded."""
    details = row.get("details")
    if isinstance(details, str):
        details = json.loads(details or "{}")
    return {
        "id": row["id"],
        "kind": row["kind"],
        "case": row.get("case_name", row.get("case")),
        "address": row["address"],
        "txid": row["txid"],
        "vout": row["vout"],
        "value_sat": row["value_sat"],
        "height": row["height"],
        "block_hash": row["block_hash"],
        "seen_at": row["seen_at"],
        "details": details,
    }


def summary_line(alert: dict[str, Any]) -> str:
    """One human line per event, for terminals, cron mail and e-mail subjects."""
    parts = [alert["kind"], f"[{alert['case']}]"]
    if alert.get("address"):
        parts.append(alert["address"])
    if alert.get("value_sat") is not None:
        parts.append(f"{format_btc(alert['value_sat'])} BTC")
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
        async with httpx.AsyncClient(transport=self.transport, timeout=15.0) as client:
            for attempt in range(WEBHOOK_TRIES):
                try:
                    response = await client.post(self.url, content=body, headers=headers)
                    if response.status_code < 300:
                        return
                    last = f"HTTP {response.status_code}"
                    if 400 <= response.status_code < 500 and response.status_code != 429:
                        break
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
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


async def deliver(store: Store, sinks: Sequence[Sink]) -> tuple[int, list[str]]:
    """Send every pending outbox row; returns (delivered, errors). Failures stay pending."""
    delivered = 0
    errors: list[str] = []
    for sink in sinks:
        for row in pending_outbox(store, sink.spec):
            try:
                await sink.send(alert_payload(row))
            except Exception as exc:
                mark_delivery(store, row["id"], sink.spec, ok=False, error=str(exc)[:500])
                errors.append(f"{sink.spec}: {exc}")
                break  # keep order: later events wait for the earlier one
            mark_delivery(store, row["id"], sink.spec, ok=True)
            delivered += 1
    return delivered, errors
