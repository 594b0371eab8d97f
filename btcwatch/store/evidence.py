"""Linking stored facts to the raw responses they came from.

Every response a cycle received is collected; before the cycle's facts are stored, each
transaction is matched to the response that named it (the /tx/ response itself, else the history
page or raw block containing it). Large bodies with nothing of interest (raw blocks without a
match) keep only their hash, so a year of block scanning does not archive the whole chain.

Reading it back: which response each stored transaction came from (``tx_evidence``), the
archived responses' rows (``evidence_rows``) and bodies (``evidence_body``), for reports,
bundles and graph exports.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from btcwatch.model import Evidence, Tx
from btcwatch.store.chaindata import save_evidence, save_txs
from btcwatch.store.db import Store, select_in

_HEX64 = re.compile(rb"[0-9a-f]{64}")
KEEP_BODY_LIMIT = 256 * 1024
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass
class EvidenceLog:
    """Collects a cycle's responses (the provider's on_evidence callback)."""

    items: list[Evidence] = field(default_factory=list)

    def __call__(self, evidence: Evidence) -> None:
        self.items.append(evidence)

    def drain(self) -> list[Evidence]:
        items, self.items = self.items, []
        return items


def index_by_txid(
    items: Iterable[tuple[int, Evidence]], raw_blocks: dict[str, list[str]]
) -> dict[str, int]:
    """txid -> evidence id: the /tx/<txid> response first, else any response naming it.

    ``raw_blocks`` maps a raw block's URL to the txids the scan found in it (binary bodies do
    not contain hex txids).
    """
    direct: dict[str, int] = {}
    contained: dict[str, int] = {}
    mentioned: dict[str, int] = {}
    for ev_id, ev in items:
        for txid in _contained_txids(ev):
            contained.setdefault(txid, ev_id)
        for txid in raw_blocks.get(ev.url, ()):
            mentioned.setdefault(txid, ev_id)
        marker = "/tx/"
        if marker in ev.url and ev.status == 200:
            txid = ev.url.split(marker, 1)[1][:64]
            direct.setdefault(txid, ev_id)
        if ev.status == 200 and len(ev.body) <= KEEP_BODY_LIMIT:
            for match in _HEX64.findall(ev.body):
                mentioned.setdefault(match.decode(), ev_id)
    return {**mentioned, **contained, **direct}


def _contained_txids(ev: Evidence) -> list[str]:
    """txids of the transactions a JSON answer holds (not those it merely mentions as inputs)."""
    if ev.status != 200 or ev.body[:1] not in (b"{", b"[") or len(ev.body) > KEEP_BODY_LIMIT:
        return []
    try:
        obj = json.loads(ev.body)
    except ValueError:
        return []
    items = obj if isinstance(obj, list) else [obj]
    return [
        item["txid"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("txid"), str) and "vin" in item
    ]


def keep_body(ev: Evidence, interesting_urls: set[str]) -> bool:
    return len(ev.body) <= KEEP_BODY_LIMIT or ev.url in interesting_urls


def store_with_evidence(
    store: Store,
    txs: Iterable[Tx],
    log: EvidenceLog | None,
    interesting_urls: set[str] | None = None,
    raw_blocks: dict[str, list[str]] | None = None,
) -> None:
    """Archive the drained responses, then store each tx pointing at the one it came from.

    Responses are archived in URL order, not arrival order: concurrent requests finish in any
    order, and a replay of the same requests must give every response the same evidence id.
    """
    items = sorted(log.drain(), key=lambda ev: ev.url) if log else []
    keep = interesting_urls or set()
    with store.write():
        saved = [(save_evidence(store, ev, keep_body=keep_body(ev, keep)), ev) for ev in items]
        index = index_by_txid(saved, raw_blocks or {})
        save_txs(store, txs, index)


@dataclass(frozen=True, slots=True)
class TxEvidence:
    """The archived response a stored transaction was parsed from (``id`` None: none linked)."""

    txid: str
    id: int | None
    provider: str | None = None
    url: str | None = None
    fetched_at: str | None = None
    sha256: str | None = None

    @property
    def ref(self) -> str | None:
        """ "provider URL fetched-at sha256:HEX", the way a graph export cites it."""
        if self.id is None:
            return None
        return f"{self.provider} {self.url} {self.fetched_at} sha256:{self.sha256}"


@dataclass(frozen=True, slots=True)
class ResponseRow:
    """One archived response without its body; ``body_kept`` False when only its hash was."""

    id: int
    provider: str
    url: str
    fetched_at: str
    status: int
    sha256: str
    body_kept: bool


def tx_evidence(store: Store, txids: Iterable[str]) -> dict[str, TxEvidence]:
    """txid -> the response it was stored from, for the stored ones among ``txids``.

    A transaction stored without a link has ``id`` None; one not stored is absent.
    """
    rows = select_in(
        store,
        "SELECT t.txid, e.id, e.provider, e.url, e.fetched_at, e.sha256 FROM transactions t "
        "LEFT JOIN evidence e ON e.id = t.evidence_id WHERE t.txid IN ({})",
        (t for t in txids if t),
    )
    return {row[0]: TxEvidence(*row) for row in rows}


def evidence_rows(store: Store, ids: Iterable[int]) -> list[ResponseRow]:
    """The rows of these evidence ids, by id (ids not in the table are left out)."""
    rows = select_in(
        store,
        "SELECT id, provider, url, fetched_at, status, sha256, length(body) FROM evidence "
        "WHERE id IN ({}) ORDER BY id",
        ids,
    )
    return [
        ResponseRow(
            id_, provider, url, fetched_at, status, sha256, bool(size) or sha256 == _EMPTY_SHA256
        )
        for id_, provider, url, fetched_at, status, sha256, size in rows
    ]


def evidence_body(store: Store, evidence_id: int) -> bytes:
    """The raw body of one response exactly as received (empty when only its hash was kept)."""
    row = store._db.execute("SELECT body FROM evidence WHERE id = ?", [evidence_id]).fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""
