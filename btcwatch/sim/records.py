"""The simulator's records: a transaction, a block and an address history as SimChain keeps them.

Transactions are stored as raw bytes plus a compact view of their inputs and outputs, and
parsed again only when rendered; a block not mined yet is a `Plan`. `SimChain` (sim/chain.py)
moves these between states; `ChainIndex` (sim/chain_index.py) answers from them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from btcwatch.chain.tx import BlockHeader, RawTx, parse_tx, write_varint

__all__ = [
    "CONFIRMED",
    "FUTURE",
    "GONE",
    "MEMPOOL",
    "AddressRecord",
    "BlockRecord",
    "Plan",
    "Stats",
    "TxEntry",
    "script_hash",
    "sha256d",
    "spent_by",
]

FUTURE, MEMPOOL, CONFIRMED, GONE = 0, 1, 2, 3
_STATE_NAMES = {FUTURE: "future", MEMPOOL: "mempool", CONFIRMED: "confirmed", GONE: "gone"}


def sha256d(data: bytes) -> bytes:
    """Bitcoin's double SHA-256 (txids, wtxids, block hashes)."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def script_hash(script: bytes) -> bytes:
    """Electrum/Esplora script hash: sha256 of the scriptPubKey (bytes, internal order)."""
    return hashlib.sha256(script).digest()


class TxEntry:
    """One transaction: raw bytes, a compact view of inputs/outputs, and where it stands."""

    __slots__ = (
        "block",
        "fee",
        "gone_at",
        "ins",
        "order",
        "outs",
        "plan",
        "raw",
        "replaced_by",
        "seq",
        "spent",
        "state",
        "txid",
        "weight",
    )

    def __init__(
        self,
        txid: str,
        raw: bytes,
        ins: tuple[tuple[str, int], ...],
        outs: tuple[tuple[bytes, int], ...],
        fee: int,
        weight: int,
        order: int,
    ) -> None:
        self.txid = txid
        self.raw = raw
        self.ins = ins
        self.outs = outs
        self.fee = fee
        self.weight = weight
        self.order = order  # topological: parents always have a smaller order
        self.state = FUTURE
        self.block: BlockRecord | None = None
        self.plan: Plan | None = None
        self.seq = 0  # position in the confirmed chain, for paging address histories
        self.spent: list[TxEntry | None] | None = None  # confirmed spender of each output
        self.gone_at: int | None = None
        self.replaced_by: str | None = None

    @property
    def is_coinbase(self) -> bool:
        return not self.ins

    @property
    def size(self) -> int:
        return len(self.raw)

    @property
    def vsize(self) -> int:
        return (self.weight + 3) // 4

    @property
    def status(self) -> str:
        return _STATE_NAMES[self.state]

    def parse(self) -> RawTx:
        return parse_tx(self.raw)


class BlockRecord:
    """A block that has been connected at least once (orphaned ones stay, not in best chain)."""

    __slots__ = ("best", "entries", "hash", "header", "height", "size", "weight")

    def __init__(self, height: int, header: BlockHeader, entries: list[TxEntry]) -> None:
        self.height = height
        self.header = header
        self.hash = header.hash
        self.entries = entries
        count = write_varint(len(entries))
        self.size = 80 + len(count) + sum(e.size for e in entries)
        self.weight = 4 * (80 + len(count)) + sum(e.weight for e in entries)
        self.best = False

    @property
    def time(self) -> int:
        return self.header.time

    def serialize(self) -> bytes:
        parts = [self.header.serialize(), write_varint(len(self.entries))]
        parts += (e.raw for e in self.entries)
        return b"".join(parts)


@dataclass(frozen=True, slots=True)
class AddressRecord:
    """A view of one script's history: confirmed (chain order) and mempool (arrival order).

    The lists are the chain's own (read them under ``chain.lock``); sums are computed from
    them on demand by `SimChain.chain_stats`, which keeps the index at one list per script.
    """

    script: bytes
    history: Sequence[TxEntry]
    mempool: Sequence[TxEntry]


class Plan:
    """A block not mined yet: the scenario's header and transactions (coinbase first)."""

    __slots__ = ("done", "entries", "header", "height", "stale")

    def __init__(
        self, height: int, header: BlockHeader, entries: list[TxEntry], stale: bool
    ) -> None:
        self.height = height
        self.header = header
        self.entries = entries
        self.stale = stale
        self.done = False


@dataclass(frozen=True, slots=True)
class Stats:
    """Esplora's chain_stats / mempool_stats of an address."""

    funded_txo_count: int
    funded_txo_sum: int
    spent_txo_count: int
    spent_txo_sum: int
    tx_count: int


def spent_by(entry: TxEntry, vout: int) -> TxEntry | None:
    """The confirmed spender of output ``vout`` of ``entry``, if any."""
    spent = entry.spent
    return None if spent is None else spent[vout]
