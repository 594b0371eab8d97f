"""The watcher's memory between cycles: watched outputs, address summaries, scanned blocks.

`save_cycle` writes everything one watch cycle learned in one transaction (the runner builds
the `CycleRecord`), so the watcher never sees a half-stored cycle.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from btcwatch.event import Event, Kind
from btcwatch.model import AddressStats, OutPoint, Tx, WatchedOutput
from btcwatch.store.db import Store
from btcwatch.store.events import record_events, set_state
from btcwatch.store.evidence import EvidenceLog, store_with_evidence
from btcwatch.store.followups import queue_followups
from btcwatch.timefmt import now_iso

# A block scan's row: (height, hash, previous hash, block time).
ScannedBlock = tuple[int, str, str | None, int | None]


@dataclass(slots=True)
class CycleRecord:
    """Everything one watch cycle stores, applied by `save_cycle` in this order."""

    events: Sequence[Event]  # planned; record_events keeps only the new ones
    sinks: Sequence[str] = ()  # sink specs each new event is queued for (the outbox)
    txs: Sequence[Tx] = ()
    evidence: EvidenceLog | None = None  # drained into the archive; txs point at their response
    interesting_urls: set[str] = field(default_factory=set)  # bodies kept whatever their size
    raw_blocks: dict[str, list[str]] = field(default_factory=dict)  # raw block URL -> txids
    orphaned_blocks: Iterable[str] = ()  # their outputs and spends go back to unconfirmed
    start_marker: tuple[int, str] | None = None  # block mode's first run: where the scan starts
    reorg_fork: int | None = None  # scanned blocks above it are forgotten
    outputs: Sequence[WatchedOutput] = ()
    gone_txids: Iterable[str] = ()  # left the chain and the mempool
    stats: Sequence[AddressStats] = ()
    scanned: Sequence[ScannedBlock] = ()
    state: Mapping[str, Any] = field(default_factory=dict)  # watch_state keys
    follow: bool = False  # `--follow`: owe a trace for each case whose money moved


def save_cycle(store: Store, record: CycleRecord) -> list[Event]:
    """Store a cycle in one transaction; returns the events that were new (to alert on)."""
    with store.write():
        store_with_evidence(
            store, record.txs, record.evidence, record.interesting_urls, record.raw_blocks
        )
        unconfirm_blocks(store, record.orphaned_blocks)
        if record.start_marker is not None:
            save_scanned(store, *record.start_marker, None, None)
        if record.reorg_fork is not None:
            drop_scanned_above(store, record.reorg_fork)
        save_outputs(store, record.outputs)
        forget_txids(store, record.gone_txids)
        save_address_stats(store, record.stats)
        for height, block_hash, prev, block_time in record.scanned:
            save_scanned(store, height, block_hash, prev, block_time)
        for key, value in record.state.items():
            set_state(store, key, value)
        new = record_events(store, record.events, record.sinks)
        if record.follow:  # durable work, in this same transaction (see store/followups.py)
            queue_followups(store, (ev.case for ev in new if ev.kind is Kind.FUNDS_MOVED))
        return new


def _output(r: dict[str, Any]) -> WatchedOutput:
    return WatchedOutput(
        r["case_name"],
        r["address"],
        OutPoint(r["txid"], r["vout"]),
        r["value_sat"],
        r["script_hex"],
        r["height"],
        r["block_hash"],
        r["spent_by"],
        r["spent_vin"],
        r["spent_height"],
    )


def watched_outputs(
    store: Store, case: str | None = None, address: str | None = None
) -> list[WatchedOutput]:
    where: list[str] = []
    params: list[Any] = []
    if case:
        where.append("case_name = ?")
        params.append(case)
    if address:
        where.append("address = ?")
        params.append(address)
    rows = store._db.table("watched_outputs").rows_where(" AND ".join(where) or None, params)
    return [_output(r) for r in rows]


def unspent_outputs(store: Store, case: str | None = None) -> list[WatchedOutput]:
    return [o for o in watched_outputs(store, case) if o.spent_by is None]


def save_outputs(store: Store, outputs: Iterable[WatchedOutput]) -> None:
    """Insert or update watched outputs (confirmation, spend) in one transaction."""
    with store.write() as db:
        db.table("watched_outputs").upsert_all(
            [
                {
                    "case_name": o.case,
                    "address": o.address,
                    "txid": o.outpoint.txid,
                    "vout": o.outpoint.vout,
                    "value_sat": o.value,
                    "script_hex": o.script_hex,
                    "height": o.height,
                    "block_hash": o.block_hash,
                    "spent_by": o.spent_by,
                    "spent_vin": o.spent_vin,
                    "spent_height": o.spent_height,
                }
                for o in outputs
            ],
            pk=("case_name", "txid", "vout"),
        )


def forget_txids(store: Store, txids: Iterable[str]) -> None:
    """A tx left the chain and the mempool: drop outputs it created, undo spends it made."""
    ids = list(txids)
    if not ids:
        return
    marks = ", ".join("?" for _ in ids)
    with store.write() as db:
        db.execute(f"DELETE FROM watched_outputs WHERE txid IN ({marks})", ids)
        db.execute(
            "UPDATE watched_outputs SET spent_by = NULL, spent_vin = NULL, spent_height = NULL "
            f"WHERE spent_by IN ({marks})",
            ids,
        )


def unconfirm_blocks(store: Store, hashes: Iterable[str]) -> None:
    """Outputs and spends confirmed in orphaned blocks go back to unconfirmed."""
    ids = list(hashes)
    if not ids:
        return
    marks = ", ".join("?" for _ in ids)
    with store.write() as db:
        db.execute(
            f"UPDATE watched_outputs SET height = NULL, block_hash = NULL "
            f"WHERE block_hash IN ({marks})",
            ids,
        )


def address_stats(store: Store) -> dict[str, AddressStats]:
    """The last summary seen per address (address mode compares against it)."""
    out: dict[str, AddressStats] = {}
    for r in store._db.table("address_state").rows:
        if r["stats"]:
            out[r["address"]] = AddressStats(**json.loads(r["stats"]))
    return out


def save_address_stats(store: Store, stats: Sequence[AddressStats]) -> None:
    from dataclasses import asdict

    now = now_iso()
    with store.write() as db:
        db.table("address_state").upsert_all(
            [
                {"address": s.address, "stats": json.dumps(asdict(s)), "synced_at": now}
                for s in stats
            ],
            pk="address",
        )


def scanned_blocks(store: Store, since_height: int | None = None) -> dict[int, str]:
    """height -> hash of the blocks block-scan mode has processed."""
    where, params = ("height >= ?", [since_height]) if since_height is not None else (None, [])
    return {
        r["height"]: r["hash"] for r in store._db.table("scanned_blocks").rows_where(where, params)
    }


def last_scanned(store: Store) -> tuple[int, str] | None:
    row = store._db.execute(
        "SELECT height, hash FROM scanned_blocks ORDER BY height DESC LIMIT 1"
    ).fetchone()
    return (row[0], row[1]) if row else None


def save_scanned(
    store: Store, height: int, block_hash: str, prev_hash: str | None, time: int | None
) -> None:
    with store.write() as db:
        db.table("scanned_blocks").upsert(
            {
                "height": height,
                "hash": block_hash,
                "prev_hash": prev_hash,
                "time": time,
                "scanned_at": now_iso(),
            },
            pk="height",
        )


def drop_scanned_above(store: Store, height: int) -> list[str]:
    """Forget scanned blocks above ``height`` (a reorg); returns their hashes."""
    with store.write() as db:
        rows = db.execute(
            "SELECT hash FROM scanned_blocks WHERE height > ? ORDER BY height", [height]
        ).fetchall()
        db.execute("DELETE FROM scanned_blocks WHERE height > ?", [height])
    return [r[0] for r in rows]


def scanned_block_time(store: Store, block_hash: str) -> int | None:
    """The time of a block block-scan mode has processed, if it is known."""
    row = store._db.execute(
        "SELECT time FROM scanned_blocks WHERE hash = ? AND time IS NOT NULL", [block_hash]
    ).fetchone()
    return None if row is None else int(row[0])


def last_address_id(store: Store) -> int:
    """The newest watchlist row id: addresses added later have larger ids."""
    row = store._db.execute("SELECT MAX(id) FROM addresses").fetchone()
    return int(row[0] or 0)


def addresses_after(store: Store, after_id: int, case: str | None = None) -> list[str]:
    """Watched addresses added after row ``after_id`` (of one case, or of all)."""
    sql = "SELECT DISTINCT address FROM addresses WHERE id > ?"
    params: list[Any] = [after_id]
    if case:
        sql += " AND case_name = ?"
        params.append(case)
    return [r[0] for r in store._db.execute(sql + " ORDER BY id", params)]
