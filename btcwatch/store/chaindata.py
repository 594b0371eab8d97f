"""Transactions and the raw explorer responses they came from.

Confirmed transactions are immutable once deep enough, so they are fetched once per database and
read back from here; every stored transaction points at the evidence row it was parsed from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from btcwatch.chain.script import classify
from btcwatch.model import BlockRef, Evidence, OutPoint, Tx, TxIn, TxOut
from btcwatch.store.db import IN_CHUNK, Store, select_in
from btcwatch.timefmt import now_iso


def save_evidence(store: Store, ev: Evidence, *, keep_body: bool = True) -> int:
    """Archive one response; returns its row id. Without the body only its SHA-256 is kept."""
    with store.write() as db:
        table = db.table("evidence")
        table.insert(
            {
                "provider": ev.provider,
                "url": ev.url,
                "fetched_at": ev.fetched_at,
                "status": ev.status,
                "sha256": ev.sha256,
                "body": ev.body if keep_body else b"",
            }
        )
        return int(table.last_rowid or 0)


_UPSERT_TX = """
INSERT INTO transactions (txid, version, locktime, block_height, block_hash, block_time, fee_sat,
    size, weight, input_count, output_count, first_seen_at, updated_at, evidence_id)
VALUES (:txid, :version, :locktime, :block_height, :block_hash, :block_time, :fee_sat, :size,
    :weight, :input_count, :output_count, :now, :now, :evidence_id)
ON CONFLICT (txid) DO UPDATE SET
    block_height = excluded.block_height, block_hash = excluded.block_hash,
    block_time = excluded.block_time, fee_sat = coalesce(excluded.fee_sat, fee_sat),
    size = coalesce(excluded.size, size), weight = coalesce(excluded.weight, weight),
    updated_at = excluded.updated_at, evidence_id = coalesce(excluded.evidence_id, evidence_id)
"""
_UPSERT_INPUT = """
INSERT INTO tx_inputs (txid, vin, prev_txid, prev_vout, sequence, value_sat, address, script_hex)
VALUES (:txid, :vin, :prev_txid, :prev_vout, :sequence, :value_sat, :address, :script_hex)
ON CONFLICT (txid, vin) DO UPDATE SET
    value_sat = coalesce(excluded.value_sat, value_sat),
    address = coalesce(excluded.address, address),
    script_hex = coalesce(excluded.script_hex, script_hex)
"""
_INSERT_OUTPUT = """
INSERT OR IGNORE INTO tx_outputs (txid, vout, value_sat, address, script_hex, script_type)
VALUES (:txid, :vout, :value_sat, :address, :script_hex, :script_type)
"""


def save_txs(
    store: Store, txs: Iterable[Tx], evidence: int | Mapping[str, int] | None = None
) -> int:
    """Insert or refresh transactions in one statement batch; returns how many.

    A confirmation updates the block columns; a full fetch fills in prevout values that a tx
    first stored from a raw block lacked; first_seen_at and the first evidence link are kept.
    ``evidence`` is one evidence id for all, or a txid -> id mapping.
    """
    now = now_iso()
    tx_rows: list[dict[str, Any]] = []
    in_rows: list[dict[str, Any]] = []
    out_rows: list[dict[str, Any]] = []
    for tx in txs:
        block = tx.block
        ev = evidence.get(tx.txid) if isinstance(evidence, Mapping) else evidence
        tx_rows.append(
            {
                "txid": tx.txid,
                "version": tx.version,
                "locktime": tx.locktime,
                "block_height": block.height if block else None,
                "block_hash": block.hash if block else None,
                "block_time": block.time if block else None,
                "fee_sat": tx.fee,
                "size": tx.size,
                "weight": tx.weight,
                "input_count": len(tx.inputs),
                "output_count": len(tx.outputs),
                "now": now,
                "evidence_id": ev,
            }
        )
        in_rows.extend(_input_row(tx.txid, i, txin) for i, txin in enumerate(tx.inputs))
        out_rows.extend(_output_row(tx.txid, i, out) for i, out in enumerate(tx.outputs))
    if tx_rows:
        with store.write() as db:
            db.conn.executemany(_UPSERT_TX, tx_rows)
            db.conn.executemany(_UPSERT_INPUT, in_rows)
            db.conn.executemany(_INSERT_OUTPUT, out_rows)
    return len(tx_rows)


def _input_row(txid: str, vin: int, txin: TxIn) -> dict[str, Any]:
    return {
        "txid": txid,
        "vin": vin,
        "prev_txid": txin.prevout.txid if txin.prevout else None,
        "prev_vout": txin.prevout.vout if txin.prevout else None,
        "sequence": txin.sequence,
        "value_sat": txin.prev_value,
        "address": txin.prev_address,
        "script_hex": txin.prev_script.hex() if txin.prev_script is not None else None,
    }


def _output_row(txid: str, vout: int, out: TxOut) -> dict[str, Any]:
    return {
        "txid": txid,
        "vout": vout,
        "value_sat": out.value,
        "address": out.address,
        "script_hex": out.script.hex(),
        "script_type": str(classify(out.script)),
    }


def load_txs(store: Store, txids: Sequence[str]) -> dict[str, Tx]:
    """Stored transactions by txid (those not stored are simply absent)."""
    found: dict[str, Tx] = {}
    for start in range(0, len(txids), IN_CHUNK):
        chunk = list(txids[start : start + IN_CHUNK])
        marks = ", ".join("?" for _ in chunk)
        rows = list(
            store._db.execute(
                f"SELECT * FROM transactions WHERE txid IN ({marks})", chunk
            ).fetchall()
        )
        if not rows:
            continue
        inputs = _grouped(store, "tx_inputs", "vin", chunk)
        outputs = _grouped(store, "tx_outputs", "vout", chunk)
        cols = [d[0] for d in store._db.execute("SELECT * FROM transactions LIMIT 0").description]
        for values in rows:
            r = dict(zip(cols, values, strict=True))
            txid = r["txid"]
            block = (
                BlockRef(r["block_height"], r["block_hash"], r["block_time"])
                if r["block_height"] is not None
                else None
            )
            found[txid] = Tx(
                txid,
                r["version"],
                r["locktime"],
                tuple(_txin(i) for i in inputs.get(txid, [])),
                tuple(_txout(o) for o in outputs.get(txid, [])),
                block,
                r["size"],
                r["weight"],
            )
    return found


def _grouped(
    store: Store, table: str, order: str, txids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    marks = ", ".join("?" for _ in txids)
    cursor = store._db.execute(
        f"SELECT * FROM {table} WHERE txid IN ({marks}) ORDER BY txid, {order}", txids
    )
    cols = [d[0] for d in cursor.description]
    out: dict[str, list[dict[str, Any]]] = {}
    for values in cursor.fetchall():
        row = dict(zip(cols, values, strict=True))
        out.setdefault(row["txid"], []).append(row)
    return out


def _txin(r: dict[str, Any]) -> TxIn:
    prevout = OutPoint(r["prev_txid"], r["prev_vout"]) if r["prev_txid"] else None
    script = bytes.fromhex(r["script_hex"]) if r["script_hex"] is not None else None
    return TxIn(prevout, r["sequence"], r["value_sat"], script, r["address"])


def _txout(r: dict[str, Any]) -> TxOut:
    return TxOut(r["value_sat"], bytes.fromhex(r["script_hex"]), r["address"])


def stored_spender(store: Store, outpoint: OutPoint) -> str | None:
    """The stored transaction spending ``outpoint`` that is confirmed, if one is known."""
    row = store._db.execute(
        "SELECT i.txid FROM tx_inputs i JOIN transactions t ON t.txid = i.txid "
        "WHERE i.prev_txid = ? AND i.prev_vout = ? AND t.block_height IS NOT NULL",
        [outpoint.txid, outpoint.vout],
    ).fetchone()
    return str(row[0]) if row else None


def block_times(store: Store, txids: Iterable[str]) -> dict[str, int]:
    """txid -> block time, for the stored transactions among ``txids`` that are confirmed."""
    rows = select_in(
        store,
        "SELECT txid, block_time FROM transactions WHERE block_time IS NOT NULL AND txid IN ({})",
        txids,
    )
    return {str(t): int(b) for t, b in rows}


def spender_of(store: Store, outpoint: OutPoint) -> str | None:
    """The stored transaction spending ``outpoint``, if one is known."""
    row = store._db.execute(
        "SELECT txid FROM tx_inputs WHERE prev_txid = ? AND prev_vout = ?",
        [outpoint.txid, outpoint.vout],
    ).fetchone()
    return row[0] if row else None
