"""Inclusion proofs and block headers (migration m008): stored once, kept forever.

A proof is immutable once its block is deep: the raw transaction bytes, the Merkle branch and
the block it leads to. Headers are shared by every proof in their block.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from btcwatch.store.db import Store, select_in
from btcwatch.timefmt import now_iso


@dataclass(frozen=True, slots=True)
class StoredHeader:
    """An 80-byte header and how its height was established (bip34, explorer)."""

    hash: str
    height: int
    header_hex: str
    height_source: str
    evidence_id: int | None


@dataclass(frozen=True, slots=True)
class StoredProof:
    """A transaction's raw bytes and Merkle branch into one block."""

    txid: str
    block_hash: str
    block_height: int
    pos: int
    merkle: tuple[str, ...]
    raw_hex: str
    source: str  # raw-block, esplora
    evidence_id: int | None


@dataclass(frozen=True, slots=True)
class ConfirmedTx:
    """A stored transaction as the proof fetcher needs it."""

    txid: str
    block_hash: str | None
    block_height: int | None
    evidence_id: int | None


def save_header(store: Store, header: StoredHeader) -> None:
    with store.write() as db:
        db.conn.execute(
            "INSERT OR IGNORE INTO block_headers (hash, height, header_hex, height_source, "
            "evidence_id, stored_at) VALUES (?, ?, ?, ?, ?, ?)",
            [
                header.hash,
                header.height,
                header.header_hex,
                header.height_source,
                header.evidence_id,
                now_iso(),
            ],
        )


def save_proof(store: Store, proof: StoredProof) -> None:
    with store.write() as db:
        db.conn.execute(
            "INSERT OR REPLACE INTO tx_proofs (txid, block_hash, block_height, pos, merkle, "
            "raw_hex, source, evidence_id, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                proof.txid,
                proof.block_hash,
                proof.block_height,
                proof.pos,
                json.dumps(list(proof.merkle)),
                proof.raw_hex,
                proof.source,
                proof.evidence_id,
                now_iso(),
            ],
        )


def headers(store: Store, hashes: Iterable[str] | None = None) -> dict[str, StoredHeader]:
    """Stored headers by hash (all of them when ``hashes`` is None)."""
    sql = "SELECT hash, height, header_hex, height_source, evidence_id FROM block_headers"
    if hashes is None:
        return {r[0]: StoredHeader(*r) for r in store._db.execute(sql).fetchall()}
    return {r[0]: StoredHeader(*r) for r in select_in(store, sql + " WHERE hash IN ({})", hashes)}


def proofs(store: Store, txids: Iterable[str] | None = None) -> dict[str, StoredProof]:
    """Stored proofs by txid (all of them when ``txids`` is None)."""
    sql = (
        "SELECT txid, block_hash, block_height, pos, merkle, raw_hex, source, evidence_id "
        "FROM tx_proofs"
    )

    def row(r: Sequence[object]) -> StoredProof:
        merkle = tuple(json.loads(str(r[4])))
        return StoredProof(
            str(r[0]),
            str(r[1]),
            int(str(r[2])),
            int(str(r[3])),
            merkle,
            str(r[5]),
            str(r[6]),
            None if r[7] is None else int(str(r[7])),
        )

    if txids is None:
        return {p.txid: p for p in map(row, store._db.execute(sql).fetchall())}
    found = map(row, select_in(store, sql + " WHERE txid IN ({})", txids))
    return {p.txid: p for p in found}


def confirmed_txs(store: Store, txids: Iterable[str]) -> dict[str, ConfirmedTx]:
    """Block position and evidence link of stored transactions (unknown txids are absent)."""
    sql = "SELECT txid, block_hash, block_height, evidence_id FROM transactions WHERE txid IN ({})"
    return {r[0]: ConfirmedTx(*r) for r in select_in(store, sql, txids)}


def all_txids(store: Store) -> list[str]:
    return [r[0] for r in store._db.execute("SELECT txid FROM transactions ORDER BY txid")]


def evidence_record(store: Store, evidence_id: int) -> tuple[str, bytes] | None:
    """(url, body) of one archived response (body empty when only the hash was kept)."""
    row = store._db.execute("SELECT url, body FROM evidence WHERE id = ?", [evidence_id]).fetchone()
    return (str(row[0]), bytes(row[1])) if row else None
