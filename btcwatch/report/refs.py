"""Which archived response each transaction was stored from, and those responses' rows.

A report cites the response (``transactions.evidence_id``) behind every transaction it names;
the evidence table at its end and the bundle's raw files are built from the cited ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence

from btcwatch.report.facts import EvidenceRow, Refs
from btcwatch.store import Store

_CHUNK = 500
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _chunks(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start : start + _CHUNK])


class EvidenceIndex:
    """txid -> evidence id, looked up once; unknown txids and txs stored without one cite none."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._ids: dict[str, int | None] = {}

    def load(self, txids: Iterable[str]) -> None:
        wanted = sorted({t for t in txids if t and t not in self._ids})
        for chunk in _chunks(wanted):
            marks = ", ".join("?" for _ in chunk)
            rows = self._store.db.execute(
                f"SELECT txid, evidence_id FROM transactions WHERE txid IN ({marks})", chunk
            ).fetchall()
            found = dict(rows)
            for txid in chunk:
                self._ids[txid] = found.get(txid)

    def refs(self, *txids: str | None) -> Refs:
        """The evidence ids behind these transactions, sorted, without duplicates."""
        self.load(t for t in txids if t)
        ids = {self._ids.get(t) for t in txids if t}
        return tuple(sorted(i for i in ids if i is not None))

    def block_times(self, txids: Iterable[str]) -> dict[str, int]:
        """txid -> block time of the stored transactions that are confirmed."""
        wanted = sorted(set(txids))
        times: dict[str, int] = {}
        for chunk in _chunks(wanted):
            marks = ", ".join("?" for _ in chunk)
            rows = self._store.db.execute(
                "SELECT txid, block_time FROM transactions "
                f"WHERE block_time IS NOT NULL AND txid IN ({marks})",
                chunk,
            ).fetchall()
            times.update(dict(rows))
        return times


def evidence_rows(store: Store, ids: Iterable[int]) -> tuple[EvidenceRow, ...]:
    """The rows of these evidence ids, by id (ids not in the table are left out)."""
    wanted = sorted(set(ids))
    rows: list[EvidenceRow] = []
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        marks = ", ".join("?" for _ in chunk)
        cursor = store.db.execute(
            "SELECT id, provider, url, fetched_at, status, sha256, length(body) FROM evidence "
            f"WHERE id IN ({marks}) ORDER BY id",
            chunk,
        )
        for id_, provider, url, fetched_at, status, sha256, size in cursor.fetchall():
            kept = bool(size) or sha256 == _EMPTY_SHA256
            rows.append(EvidenceRow(id_, provider, url, fetched_at, status, sha256, kept))
    return tuple(rows)


def evidence_body(store: Store, evidence_id: int) -> bytes:
    """The raw body of one response exactly as received (empty when only its hash was kept)."""
    row = store.db.execute("SELECT body FROM evidence WHERE id = ?", [evidence_id]).fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""
