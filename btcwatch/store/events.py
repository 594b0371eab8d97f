"""Events, the alert outbox and the watcher's state in the database.

Events and their outbox rows are written in one transaction, before any alert goes out: a crash
after the commit re-sends from the outbox, a crash before it re-plans the same ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from btcwatch.event import Event, Kind
from btcwatch.store.db import Store
from btcwatch.timefmt import now_iso


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A stored event as listed: where its tx stands now, its confirmations, its revert."""

    id: str
    kind: str
    case: str
    address: str | None
    txid: str | None
    vout: int | None
    value_sat: int | None
    height: int | None
    block_hash: str | None
    confirmations: int
    seen_at: str
    reverted_by: str | None
    details: dict[str, Any] = field(hash=False)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``btcwatch events --json`` (the field names, in this order)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """An event waiting for delivery to one sink, as stored (``details`` decoded)."""

    id: str
    kind: str
    case: str
    address: str | None
    txid: str | None
    vout: int | None
    value_sat: int | None
    height: int | None
    block_hash: str | None
    seen_at: str
    details: dict[str, Any] = field(hash=False)
    attempts: int


def _event(row: dict[str, Any]) -> Event:
    return Event(
        row["id"],
        Kind(row["kind"]),
        row["case_name"],
        row["address"],
        row["txid"],
        row["vout"],
        row["value_sat"],
        row["height"],
        row["block_hash"],
        json.loads(row["details"] or "{}"),
    )


def record_events(
    store: Store, events: Sequence[Event], sinks: Sequence[str], seen_at: str | None = None
) -> list[Event]:
    """Insert new events (ignoring known ids), queue them for each sink, apply reverts.

    Returns the events that were actually new.
    """
    now = seen_at or now_iso()
    new: list[Event] = []
    with store.write() as db:
        for ev in events:
            if db.table("events").count_where("id = ?", [ev.id]):
                continue
            db.table("events").insert(
                {
                    "id": ev.id,
                    "kind": ev.kind.value,
                    "case_name": ev.case,
                    "address": ev.address,
                    "txid": ev.txid,
                    "vout": ev.vout,
                    "value_sat": ev.value_sat,
                    "height": ev.height,
                    "block_hash": ev.block_hash,
                    "seen_at": now,
                    "details": json.dumps(dict(ev.details), sort_keys=True),
                }
            )
            if ev.kind is Kind.REVERTED:
                db.execute(
                    "UPDATE events SET reverted_by = ?, reverted_at = ? WHERE id = ?",
                    [ev.id, now, ev.details["reverts"]],
                )
            for sink in sinks:
                db.table("outbox").insert(
                    {
                        "event_id": ev.id,
                        "sink": sink,
                        "status": "pending",
                        "attempts": 0,
                        "updated_at": now,
                    }
                )
            new.append(ev)
    return new


def stored_events(store: Store, case: str | None = None) -> tuple[list[Event], set[str]]:
    """Every stored event (of one case or all) and the ids that were reverted."""
    where, params = ("case_name = ?", [case]) if case else (None, [])
    rows = list(store._db.table("events").rows_where(where, params, order_by="rowid"))
    return [_event(r) for r in rows], {r["id"] for r in rows if r["reverted_by"]}


def list_events(
    store: Store,
    *,
    case: str | None = None,
    kinds: Iterable[str] = (),
    since: str | None = None,
    include_reverted: bool = True,
) -> list[StoredEvent]:
    """Events for listing and JSON, oldest first, as the chain stands now.

    ``height`` is the block the event's tx is in: as recorded, or, for an event first seen
    unconfirmed, the block that has mined it since (None while it is still unconfirmed).
    ``confirmations`` counts from the last tip the watcher saw; a reverted event has none.
    """
    where: list[str] = []
    params: list[Any] = []
    if case:
        where.append("case_name = ?")
        params.append(case)
    kinds = list(kinds)
    if kinds:
        where.append(f"kind IN ({', '.join('?' for _ in kinds)})")
        params.extend(kinds)
    if since:
        where.append("seen_at >= ?")
        params.append(since)
    if not include_reverted:
        where.append("reverted_by IS NULL")
    tip = get_state(store, "tip_height")
    mined = _mined_heights(store)
    rows: list[StoredEvent] = []
    for r in store._db.table("events").rows_where(
        " AND ".join(where) or None, params, order_by="seen_at, rowid"
    ):
        height = r["height"]
        if height is None and r["txid"] and not r["reverted_by"]:
            height = mined.get(r["txid"])  # first seen unconfirmed, mined since
        live = height is not None and tip is not None and not r["reverted_by"]
        confs = max(0, int(tip) - height + 1) if live and height is not None else 0
        rows.append(
            StoredEvent(
                id=r["id"],
                kind=r["kind"],
                case=r["case_name"],
                address=r["address"],
                txid=r["txid"],
                vout=r["vout"],
                value_sat=r["value_sat"],
                height=height,
                block_hash=r["block_hash"],
                confirmations=confs,
                seen_at=r["seen_at"],
                reverted_by=r["reverted_by"],
                details=json.loads(r["details"] or "{}"),
            )
        )
    return rows


def _mined_heights(store: Store) -> dict[str, int]:
    """txid -> height, for watched payments and spends confirmed in the best chain now."""
    out: dict[str, int] = {}
    for txid, height in store._db.execute(
        "SELECT txid, height FROM watched_outputs WHERE height IS NOT NULL "
        "UNION SELECT spent_by, spent_height FROM watched_outputs "
        "WHERE spent_by IS NOT NULL AND spent_height IS NOT NULL"
    ):
        out[txid] = height
    return out


def pending_outbox(store: Store, sink: str) -> list[OutboxItem]:
    """Events not yet delivered to ``sink``, oldest first."""
    sql = (
        "SELECT e.id, e.kind, e.case_name, e.address, e.txid, e.vout, e.value_sat, e.height, "
        "e.block_hash, e.seen_at, e.details, o.attempts FROM outbox o "
        "JOIN events e ON e.id = o.event_id "
        "WHERE o.sink = ? AND o.status = 'pending' ORDER BY e.seen_at, e.rowid"
    )
    return [
        OutboxItem(
            id=id_,
            kind=kind,
            case=case,
            address=address,
            txid=txid,
            vout=vout,
            value_sat=value_sat,
            height=height,
            block_hash=block_hash,
            seen_at=seen_at,
            details=json.loads(details or "{}"),
            attempts=attempts,
        )
        for (
            id_,
            kind,
            case,
            address,
            txid,
            vout,
            value_sat,
            height,
            block_hash,
            seen_at,
            details,
            attempts,
        ) in store._db.execute(sql, [sink]).fetchall()
    ]


def mark_delivery(
    store: Store, event_id: str, sink: str, *, ok: bool, error: str | None = None
) -> None:
    with store.write() as db:
        db.execute(
            "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, "
            "updated_at = ? WHERE event_id = ? AND sink = ?",
            ["delivered" if ok else "pending", error, now_iso(), event_id, sink],
        )


def get_state(store: Store, key: str) -> Any:
    rows = list(store._db.table("watch_state").rows_where("key = ?", [key]))
    return json.loads(rows[0]["value"]) if rows else None


def set_state(store: Store, key: str, value: Any) -> None:
    with store.write() as db:
        db.table("watch_state").upsert({"key": key, "value": json.dumps(value)}, pk="key")
