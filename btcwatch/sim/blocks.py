"""Block assembly for the simulator: coinbases, witness commitments, headers, mining, dates.

Blocks are mined at regtest difficulty (bits 0x207fffff: about two hashes per block), so a
chain of thousands of blocks is built in well under a second of proof of work while every
header still meets its own target.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from btcwatch.chain.network import Network
from btcwatch.chain.script import op_return
from btcwatch.chain.tx import (
    BlockHeader,
    RawBlock,
    RawTx,
    RawTxIn,
    RawTxOut,
    coinbase_height_push,
    merkle_root,
    mine,
    write_varint,
)

__all__ = [
    "BLOCK_INTERVAL",
    "BLOCK_VERSION",
    "REGTEST_BITS",
    "MempoolOnly",
    "PlannedBlock",
    "Scenario",
    "assemble",
    "block_wtxids",
    "coinbase_tx",
    "estimated_height",
    "subsidy",
]

REGTEST_BITS = 0x207FFFFF
BLOCK_VERSION = 0x20000000
BLOCK_INTERVAL = 600
NULL_TXID = "0" * 64
_WITNESS_MAGIC = bytes.fromhex("aa21a9ed")
_WITNESS_RESERVED = bytes(32)
_HALVING = 210_000
_COIN = 100_000_000

# Real mainnet anchors (date, height) to place a simulated chain near the height of its date.
_ANCHORS: tuple[tuple[date, int], ...] = (
    (date(2009, 1, 3), 0),
    (date(2012, 11, 28), 210_000),
    (date(2016, 7, 9), 420_000),
    (date(2020, 5, 11), 630_000),
    (date(2024, 4, 20), 840_000),
)


def subsidy(height: int) -> int:
    """The block reward in sats at ``height`` (halving every 210,000 blocks)."""
    halvings = height // _HALVING
    return 0 if halvings >= 64 else (50 * _COIN) >> halvings


def estimated_height(when: datetime) -> int:
    """Roughly the real mainnet height at ``when`` (linear between halving dates)."""
    day = when.astimezone(UTC).date() if when.tzinfo else when.date()
    prev = _ANCHORS[0]
    for anchor in _ANCHORS[1:]:
        if day < anchor[0]:
            break
        prev = anchor
    else:  # after the last anchor: 144 blocks a day
        return prev[1] + (day - prev[0]).days * 144
    span = (anchor[0] - prev[0]).days
    return prev[1] + (anchor[1] - prev[1]) * (day - prev[0]).days // span


def _witness_commitment(wtxids: Sequence[str]) -> bytes:
    """BIP141: sha256d(witness merkle root || reserved value), the coinbase wtxid being zero."""
    root = bytes.fromhex(merkle_root([NULL_TXID, *wtxids]))[::-1]
    return hashlib.sha256(hashlib.sha256(root + _WITNESS_RESERVED).digest()).digest()


def coinbase_tx(
    height: int,
    payout_script: bytes,
    value: int,
    wtxids: Sequence[str] | None,
    *,
    tag: bytes = b"/btcwatch-sim/",
    extranonce: int = 0,
) -> RawTx:
    """A coinbase paying ``value`` to ``payout_script`` with its BIP34 height.

    ``wtxids`` are those of the block's other transactions when any of them has a witness:
    the coinbase then carries the BIP141 witness commitment and the reserved value as its
    witness; None for a block without segwit transactions.
    """
    script_sig = coinbase_height_push(height) + bytes((4,)) + extranonce.to_bytes(4, "little")
    script_sig += bytes((len(tag),)) + tag
    outputs = [RawTxOut(value, payout_script)]
    witness: tuple[bytes, ...] = ()
    if wtxids is not None:
        commitment = _witness_commitment(wtxids)
        outputs.append(RawTxOut(0, op_return(_WITNESS_MAGIC + commitment)))
        witness = (_WITNESS_RESERVED,)
    txin = RawTxIn(NULL_TXID, 0xFFFFFFFF, script_sig, 0xFFFFFFFF, witness)
    return RawTx(2, (txin,), tuple(outputs), 0)


def block_wtxids(txs: Sequence[RawTx]) -> list[str] | None:
    """What `coinbase_tx` needs: the wtxids when any tx has a witness, else None."""
    return [tx.wtxid for tx in txs] if any(tx.has_witness for tx in txs) else None


def assemble(prev_hash: str, time: int, txids: Sequence[str], *, nonce: int = 0) -> BlockHeader:
    """A mined header over ``txids`` (coinbase first)."""
    root = merkle_root(txids)
    return mine(BlockHeader(BLOCK_VERSION, prev_hash, root, time, REGTEST_BITS, nonce))


@dataclass(frozen=True, slots=True)
class PlannedBlock:
    """A block of a scenario, as first mined, with what the mempool saw before it.

    ``seen_at`` maps a txid to the tip height at which it entered the mempool, for the
    transactions the scenario broadcasts more than one block early. ``stale`` marks a block
    that is orphaned by the next block of the stream (same height): the chain serves it as
    the tip until it advances past it.
    """

    height: int
    header: BlockHeader
    txs: tuple[RawTx, ...]
    seen_at: Mapping[str, int] = field(default_factory=dict)
    stale: bool = False

    @property
    def hash(self) -> str:
        return self.header.hash

    @property
    def time(self) -> int:
        return self.header.time

    def raw(self) -> RawBlock:
        return RawBlock(self.header, self.txs)

    def serialize(self) -> bytes:
        parts = [self.header.serialize(), write_varint(len(self.txs))]
        parts += (tx.serialize() for tx in self.txs)
        return b"".join(parts)


class Scenario(Protocol):
    """What SimChain and the file writer need from a scenario."""

    name: str
    network: Network

    def iter_blocks(self) -> Iterator[PlannedBlock]:
        """Generate the blocks in order (a stale block right before its sibling)."""
        ...

    def mempool_only(self) -> list[MempoolOnly]:
        """Transactions that are broadcast but never mined (valid after generation)."""
        ...

    def default_tip(self) -> int:
        """The height a served chain starts at."""
        ...

    def ground_truth(self) -> dict[str, Any]: ...

    def write_ground_truth(self, path: Path | str) -> Path: ...

    def write_tagpack(self, path: Path | str) -> Path: ...

    def write_ransom_emails(self, path: Path | str) -> Path: ...


@dataclass(frozen=True, slots=True)
class MempoolOnly:
    """A transaction that was broadcast but never confirmed (e.g. replaced by fee)."""

    tx: RawTx
    seen_at: int
    gone_at: int
    replaced_by: str | None = None
