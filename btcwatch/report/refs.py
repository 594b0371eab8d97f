"""Which archived response each transaction was stored from, and those responses' rows.

A report cites the response (``transactions.evidence_id``) behind every transaction it names;
the evidence table at its end and the bundle's raw files are built from the cited ids. The
lookups themselves are the store's (``store/evidence.py``); this module keeps the report's view.
"""

from __future__ import annotations

from collections.abc import Iterable

from btcwatch.report.facts import EvidenceRow, Refs
from btcwatch.store import Store, chaindata, evidence


class EvidenceIndex:
    """txid -> evidence id, looked up once; unknown txids and txs stored without one cite none."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._ids: dict[str, int | None] = {}

    def load(self, txids: Iterable[str]) -> None:
        wanted = sorted({t for t in txids if t and t not in self._ids})
        found = evidence.tx_evidence(self._store, wanted)
        for txid in wanted:
            link = found.get(txid)
            self._ids[txid] = link.id if link is not None else None

    def refs(self, *txids: str | None) -> Refs:
        """The evidence ids behind these transactions, sorted, without duplicates."""
        self.load(t for t in txids if t)
        ids = {self._ids.get(t) for t in txids if t}
        return tuple(sorted(i for i in ids if i is not None))

    def block_times(self, txids: Iterable[str]) -> dict[str, int]:
        """txid -> block time of the stored transactions that are confirmed."""
        return chaindata.block_times(self._store, txids)


def evidence_rows(store: Store, ids: Iterable[int]) -> tuple[EvidenceRow, ...]:
    """The rows of these evidence ids, by id (ids not in the table are left out)."""
    return tuple(
        EvidenceRow(r.id, r.provider, r.url, r.fetched_at, r.status, r.sha256, r.body_kept)
        for r in evidence.evidence_rows(store, ids)
    )
