"""Events, the alert outbox and the watcher's state in the database.

Events and their outbox rows are written in one transaction, before any alert goes out: a crash
after the commit re-sends from the outbox, a crash before it re-plans the same ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from btcwatch.event import Event, Kind
from btcwatch.store.db import Store
from btcwatch.timefmt import now_iso


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
    rows = list(store.db.table("events").rows_where(where, params, order_by="rowid"))
    return [_event(r) for r in rows], {r["id"] for r in rows if r["reverted_by"]}


def list_events(
    store: Store,
    *,
    case: str | None = None,
    kinds: Iterable[str] = (),
    since: str | None = None,
    include_reverted: bool = True,
) -> list[dict[str, Any]]:
    """Events as rows for listing and JSON, oldest first, as the chain stands now.

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
    rows = []
    for r in store.db.table("events").rows_where(
        " AND ".join(where) or None, params, order_by="seen_at, rowid"
    ):
        height = r["height"]
        if height is None and r["txid"] and not r["reverted_by"]:
            height = mined.get(r["txid"])  # first seen unconfirmed, mined since
        live = height is not None and tip is not None and not r["reverted_by"]
        confs = max(0, int(tip) - height + 1) if live and height is not None else 0
        rows.append(
            {
                "id": r["id"],
                "kind": r["kind"],
                "case": r["case_name"],
                "address": r["address"],
                "txid": r["txid"],
                "vout": r["vout"],
                "value_sat": r["value_sat"],
                "height": height,
                "block_hash": r["block_hash"],
                "confirmations": confs,
                "seen_at": r["seen_at"],
                "reverted_by": r["reverted_by"],
                "details": json.loads(r["details"] or "{}"),
            }
        )
    return rows


def _mined_heights(store: Store) -> dict[str, int]:
    """txid -> height, for watched payments and spends confirmed in the best chain now."""
    out: dict[str, int] = {}
    for txid, height in store.db.execute(
        "SELECT txid, height FROM watched_outputs WHERE height IS NOT NULL "
        "UNION SELECT spent_by, spent_height FROM watched_outputs "
        "WHERE spent_by IS NOT NULL AND spent_height IS NOT NULL"
    ):
        out[txid] = height
    return out


def pending_outbox(store: Store, sink: str) -> list[dict[str, Any]]:
    """Events not yet delivered to ``sink``, oldest first."""
    sql = (
        "SELECT e.*, o.attempts FROM outbox o JOIN events e ON e.id = o.event_id "
        "WHERE o.sink = ? AND o.status = 'pending' ORDER BY e.seen_at, e.rowid"
    )
    cursor = store.db.execute(sql, [sink])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


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
    rows = list(store.db.table("watch_state").rows_where("key = ?", [key]))
    return json.loads(rows[0]["value"]) if rows else None


def set_state(store: Store, key: str, value: Any) -> None:
    with store.write() as db:
        db.table("watch_state").upsert({"key": key, "value": json.dumps(value)}, pk="key")
