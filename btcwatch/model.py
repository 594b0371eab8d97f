"""The values that flow through the pipeline: frozen, hashable, amounts in int satoshis.

Every provider normalises its explorer's JSON into these types, so the rest of btcwatch never
knows which explorer answered. The scriptPubKey (bytes) is an output's identity; `address` is
its rendering for the network and is ``None`` where a script has no address form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from btcwatch.errors import InputError

COIN = 100_000_000


class OutPoint(NamedTuple):
    """A transaction output's identity: the node of a money flow.

    A named tuple, not a dataclass: a trace of a million transactions hashes, compares and
    builds millions of these, and a tuple does that in C (same fields, order and hash).
    """

    txid: str
    vout: int

    def __str__(self) -> str:
        return f"{self.txid}:{self.vout}"

    @classmethod
    def parse(cls, text: str) -> OutPoint:
        """Read ``TXID:VOUT``; the txid is normalised to lower-case hex."""
        txid, sep, vout = text.strip().partition(":")
        if not sep or not is_txid(txid) or not vout.isdigit():
            raise InputError(f"not an outpoint (expected TXID:VOUT): {text!r}")
        return cls(txid.lower(), int(vout))


def is_txid(text: str) -> bool:
    """True for 64 hex digits (either case)."""
    if len(text) != 64:
        return False
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class BlockRef:
    """Where a transaction was confirmed. ``hash`` is None where the explorer does not say."""

    height: int
    hash: str | None
    time: int


@dataclass(frozen=True, slots=True)
class TxOut:
    """One output: value in sats, the locking script, its address when it has one."""

    value: int
    script: bytes
    address: str | None


@dataclass(frozen=True, slots=True)
class TxIn:
    """One input. ``prevout`` is None for a coinbase; prev_* describe the output it spends."""

    prevout: OutPoint | None
    sequence: int
    prev_value: int | None = None
    prev_script: bytes | None = None
    prev_address: str | None = None

    @property
    def is_coinbase(self) -> bool:
        return self.prevout is None


@dataclass(frozen=True, slots=True)
class Tx:
    """A normalised transaction, identical whichever explorer it came from."""

    txid: str
    version: int
    locktime: int
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    block: BlockRef | None = None
    # Explorer-reported, not part of identity: compare=False keeps the contract test honest.
    size: int | None = field(default=None, compare=False)
    weight: int | None = field(default=None, compare=False)

    @property
    def confirmed(self) -> bool:
        return self.block is not None

    @property
    def is_coinbase(self) -> bool:
        return len(self.inputs) == 1 and self.inputs[0].is_coinbase

    @property
    def input_value(self) -> int | None:
        """Sum of spent values, or None when any is unknown."""
        total = 0
        for txin in self.inputs:
            if txin.prev_value is None:
                return None
            total += txin.prev_value
        return total

    @property
    def output_value(self) -> int:
        return sum(o.value for o in self.outputs)

    @property
    def fee(self) -> int | None:
        if self.is_coinbase:
            return 0
        spent = self.input_value
        return None if spent is None else spent - self.output_value

    def outpoint(self, vout: int) -> OutPoint:
        return OutPoint(self.txid, vout)


@dataclass(frozen=True, slots=True)
class OutSpend:
    """Whether an output is spent, and by what (None fields while unspent)."""

    spent: bool
    txid: str | None = None
    vin: int | None = None
    block: BlockRef | None = None


@dataclass(frozen=True, slots=True)
class AddressStats:
    """Funded/spent counts and sums of an address, confirmed and in the mempool.

    A change in this summary is what tells address-mode polling to fetch new history.
    """

    address: str
    funded_txo_count: int
    funded_txo_sum: int
    spent_txo_count: int
    spent_txo_sum: int
    tx_count: int
    mempool_funded_txo_count: int = 0
    mempool_funded_txo_sum: int = 0
    mempool_spent_txo_count: int = 0
    mempool_spent_txo_sum: int = 0
    mempool_tx_count: int = 0

    @property
    def balance(self) -> int:
        return (
            self.funded_txo_sum
            - self.spent_txo_sum
            + self.mempool_funded_txo_sum
            - self.mempool_spent_txo_sum
        )


@dataclass(frozen=True, slots=True)
class Tip:
    """The best block an explorer knows."""

    height: int
    hash: str


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """A block header as explorers report it: enough to follow the tip and spot reorgs."""

    height: int
    hash: str
    prev_hash: str | None
    time: int
    tx_count: int | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """One raw explorer response that a stored fact rests on.

    ``sha256`` is of ``body`` exactly as received, so a third party can check the archive.
    """

    provider: str
    url: str
    fetched_at: str  # ISO 8601 UTC, e.g. 2026-11-29T18:30:00Z
    status: int
    sha256: str
    body: bytes


@dataclass(frozen=True, slots=True)
class CaseOutput:
    """An output paying a watched address of a case (height None while unconfirmed).

    The one definition of what the watcher knows of a payment: a poll's `watch.diff.Payment`
    adds when its block was mined, the stored `WatchedOutput` adds what spent it.
    """

    case: str
    address: str
    outpoint: OutPoint
    value: int
    script_hex: str
    height: int | None
    block_hash: str | None


@dataclass(frozen=True, slots=True)
class WatchedOutput(CaseOutput):
    """A watched output as the watcher remembers it between cycles, with its spend once known."""

    spent_by: str | None = None
    spent_vin: int | None = None
    spent_height: int | None = None

    @classmethod
    def of(
        cls,
        out: CaseOutput,
        spent_by: str | None = None,
        spent_vin: int | None = None,
        spent_height: int | None = None,
    ) -> WatchedOutput:
        """``out`` (a payment seen now, or a stored output) with the given spend."""
        return cls(
            out.case,
            out.address,
            out.outpoint,
            out.value,
            out.script_hex,
            out.height,
            out.block_hash,
            spent_by,
            spent_vin,
            spent_height,
        )
