"""Raw transactions and blocks: consensus (de)serialisation, txids, sizes.

Parsing follows Bitcoin Core's rules (segwit marker/flag, canonical varints, no superfluous
witness record), so ``serialize(parse(x)) == x`` for every ``x`` that parses. This module also
re-exports the header and block-scan API, so ``btcwatch.chain.tx`` is the one import for raw
chain data; the block-scan hot path itself lives in ``scan.py``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from btcwatch.chain.block import (
    BLK_MAGICS,
    BlockHeader,
    coinbase_height,
    coinbase_height_push,
    compact_to_target,
    iter_blk_records,
    merkle_root,
    mine,
    parse_header,
    target_to_compact,
    unframe_block,
)
from btcwatch.chain.scan import BlockScan, TxScan, scan_block, scan_tx
from btcwatch.errors import InputError, ParseError

__all__ = [
    "BLK_MAGICS",
    "BlockHeader",
    "BlockScan",
    "RawBlock",
    "RawTx",
    "RawTxIn",
    "RawTxOut",
    "TxScan",
    "coinbase_height",
    "coinbase_height_push",
    "compact_to_target",
    "iter_blk_records",
    "merkle_root",
    "mine",
    "parse_block",
    "parse_block_hex",
    "parse_header",
    "parse_tx",
    "parse_tx_hex",
    "read_varint",
    "scan_block",
    "scan_tx",
    "target_to_compact",
    "unframe_block",
    "write_varint",
]

NULL_TXID = "0" * 64
_MIN_TX_SIZE = 10  # version + empty vin + empty vout + locktime
_MIN_IN_SIZE = 41  # outpoint + empty script + sequence
_MIN_OUT_SIZE = 9  # value + empty script


def _sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


# -- varints ---------------------------------------------------------------------------------


def write_varint(n: int) -> bytes:
    """Bitcoin's CompactSize encoding of a count or length."""
    if n < 0:
        raise InputError(f"varint cannot encode a negative number: {n}")
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    if n <= 0xFFFFFFFFFFFFFFFF:
        return b"\xff" + n.to_bytes(8, "little")
    raise InputError(f"varint cannot encode more than 64 bits: {n}")


_VARINT_MIN = {0xFD: (2, 0xFD), 0xFE: (4, 0x10000), 0xFF: (8, 0x100000000)}


def read_varint(data: bytes, offset: int) -> tuple[int, int]:
    """Read a CompactSize at ``offset``; return (value, offset after it).

    Non-canonical encodings are rejected, as Bitcoin Core does, which keeps re-serialising
    byte-identical.
    """
    if offset >= len(data):
        raise ParseError(f"truncated: varint at byte {offset} is past the end ({len(data)} bytes)")
    first = data[offset]
    if first < 0xFD:
        return first, offset + 1
    size, minimum = _VARINT_MIN[first]
    end = offset + 1 + size
    if end > len(data):
        raise ParseError(
            f"truncated: varint at byte {offset} needs {size + 1} bytes, {len(data) - offset} left"
        )
    value = int.from_bytes(data[offset + 1 : end], "little")
    if value < minimum:
        raise ParseError(f"non-canonical varint at byte {offset}: {value} in {size + 1} bytes")
    return value, end


# -- values ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawTxIn:
    """An input as serialised: the outpoint it spends, scriptSig, sequence, witness stack."""

    prev_txid: str
    prev_vout: int
    script_sig: bytes
    sequence: int
    witness: tuple[bytes, ...] = ()

    @property
    def is_coinbase(self) -> bool:
        return self.prev_vout == 0xFFFFFFFF and self.prev_txid == NULL_TXID


@dataclass(frozen=True, slots=True)
class RawTxOut:
    """An output as serialised: value in satoshis and the locking script."""

    value: int
    script: bytes


@dataclass(frozen=True, slots=True)
class RawTx:
    """A transaction as serialised on the wire.

    txid, wtxid and sizes are computed once and cached in private slots (parsing fills them
    from the bytes it already holds), so asking repeatedly is free; they do not take part in
    equality or hashing.
    """

    version: int
    inputs: tuple[RawTxIn, ...]
    outputs: tuple[RawTxOut, ...]
    locktime: int
    _txid: str | None = field(default=None, init=False, repr=False, compare=False)
    _wtxid: str | None = field(default=None, init=False, repr=False, compare=False)
    _size: int | None = field(default=None, init=False, repr=False, compare=False)
    _base_size: int | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def has_witness(self) -> bool:
        return any(txin.witness for txin in self.inputs)

    def serialize(self, witness: bool = True) -> bytes:
        """Consensus bytes; the segwit form only when asked for and some input has a witness."""
        segwit = witness and self.has_witness
        parts = [(self.version & 0xFFFFFFFF).to_bytes(4, "little")]
        if segwit:
            parts.append(b"\x00\x01")
        parts.append(write_varint(len(self.inputs)))
        for txin in self.inputs:
            parts += (
                _txid_bytes(txin.prev_txid),
                txin.prev_vout.to_bytes(4, "little"),
                write_varint(len(txin.script_sig)),
                txin.script_sig,
                txin.sequence.to_bytes(4, "little"),
            )
        parts.append(write_varint(len(self.outputs)))
        for txout in self.outputs:
            parts += (
                (txout.value & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little"),
                write_varint(len(txout.script)),
                txout.script,
            )
        if segwit:
            for txin in self.inputs:
                parts.append(write_varint(len(txin.witness)))
                for item in txin.witness:
                    parts += (write_varint(len(item)), item)
        parts.append(self.locktime.to_bytes(4, "little"))
        return b"".join(parts)

    @property
    def txid(self) -> str:
        """Display-order hex of sha256d over the serialisation without witness."""
        cached = self._txid
        if cached is None:
            base = self.serialize(witness=False)
            cached = _sha256d(base)[::-1].hex()
            object.__setattr__(self, "_txid", cached)
            object.__setattr__(self, "_base_size", len(base))
        return cached

    @property
    def wtxid(self) -> str:
        """Like txid but over the witness serialisation (equal to txid without witness)."""
        cached = self._wtxid
        if cached is None:
            if self.has_witness:
                full = self.serialize()
                cached = _sha256d(full)[::-1].hex()
                object.__setattr__(self, "_size", len(full))
            else:
                cached = self.txid
            object.__setattr__(self, "_wtxid", cached)
        return cached

    @property
    def size(self) -> int:
        """Total serialised size in bytes, witness included."""
        cached = self._size
        if cached is None:
            cached = len(self.serialize())
            object.__setattr__(self, "_size", cached)
        return cached

    @property
    def base_size(self) -> int:
        """Serialised size without witness data."""
        cached = self._base_size
        if cached is None:
            cached = len(self.serialize(witness=False))
            object.__setattr__(self, "_base_size", cached)
        return cached

    @property
    def weight(self) -> int:
        """BIP141 weight: base size counts four times, witness bytes once."""
        return 3 * self.base_size + self.size

    @property
    def vsize(self) -> int:
        """Virtual size: weight / 4 rounded up."""
        return (self.weight + 3) // 4


def _txid_bytes(txid: str) -> bytes:
    try:
        raw = bytes.fromhex(txid)
    except ValueError:
        raise InputError(f"prev_txid is not hex: {txid!r}") from None
    if len(raw) != 32:
        raise InputError(f"prev_txid must be 64 hex digits, got {len(txid)}")
    return raw[::-1]


@dataclass(frozen=True, slots=True)
class RawBlock:
    """A header and its transactions, coinbase first."""

    header: BlockHeader
    txs: tuple[RawTx, ...]

    def serialize(self) -> bytes:
        parts = [self.header.serialize(), write_varint(len(self.txs))]
        parts += (tx.serialize() for tx in self.txs)
        return b"".join(parts)

    @property
    def hash(self) -> str:
        return self.header.hash

    def computed_merkle_root(self) -> str:
        """The merkle root of the txids we hold; compare with ``header.merkle_root``."""
        return merkle_root([tx.txid for tx in self.txs])

    def height_from_coinbase(self) -> int | None:
        """The BIP34 height (None before version-2 blocks or without a coinbase)."""
        if self.header.version < 2 or not self.txs or not self.txs[0].inputs:
            return None
        first = self.txs[0].inputs[0]
        return coinbase_height(first.script_sig) if first.is_coinbase else None


# -- parsing ---------------------------------------------------------------------------------


def _need(data: bytes, offset: int, size: int, what: str) -> None:
    if offset + size > len(data):
        left = max(len(data) - offset, 0)
        raise ParseError(f"truncated: {what} needs {size} bytes at byte {offset}, {left} left")


def _count(data: bytes, offset: int, what: str, min_item: int) -> tuple[int, int]:
    """A varint count, refused when its items could not fit in what is left."""
    value, offset = read_varint(data, offset)
    if value * min_item > len(data) - offset:
        raise ParseError(
            f"truncated: {what} is {value} but only {len(data) - offset} bytes follow at byte "
            f"{offset}"
        )
    return value, offset


def _read_tx(data: bytes, offset: int) -> tuple[RawTx, int]:
    """Parse one transaction at ``offset``; return it and the offset after it."""
    start = offset
    _need(data, offset, 4, "version")
    version = int.from_bytes(data[offset : offset + 4], "little", signed=True)
    offset += 4
    n_in, offset = _count(data, offset, "input count", _MIN_IN_SIZE)
    flags = 0
    body = start + 4
    if n_in == 0:  # either a segwit marker or a tx without inputs (Core reads it the same way)
        _need(data, offset, 1, "segwit flag")
        flags = data[offset]
        offset += 1
        if flags:
            body = offset
            n_in, offset = _count(data, offset, "input count", _MIN_IN_SIZE)
    raw_ins: list[tuple[str, int, bytes, int]] = []
    for i in range(n_in):
        _need(data, offset, 36, f"input {i} outpoint")
        prev = data[offset : offset + 32][::-1].hex()
        vout = int.from_bytes(data[offset + 32 : offset + 36], "little")
        size, offset = read_varint(data, offset + 36)
        _need(data, offset, size + 4, f"input {i} scriptSig and sequence")
        script = data[offset : offset + size]
        offset += size
        raw_ins.append((prev, vout, script, int.from_bytes(data[offset : offset + 4], "little")))
        offset += 4
    outputs: list[RawTxOut] = []
    if n_in or flags:
        n_out, offset = _count(data, offset, "output count", _MIN_OUT_SIZE)
        for i in range(n_out):
            _need(data, offset, 8, f"output {i} value")
            value = int.from_bytes(data[offset : offset + 8], "little", signed=True)
            size, offset = read_varint(data, offset + 8)
            _need(data, offset, size, f"output {i} script")
            outputs.append(RawTxOut(value, data[offset : offset + size]))
            offset += size
    body_end = offset
    witnesses: list[tuple[bytes, ...]] = [()] * n_in
    if flags & 1:
        flags ^= 1
        for i in range(n_in):
            n_items, offset = _count(data, offset, f"input {i} witness item count", 1)
            items = []
            for j in range(n_items):
                size, offset = read_varint(data, offset)
                _need(data, offset, size, f"input {i} witness item {j}")
                items.append(data[offset : offset + size])
                offset += size
            witnesses[i] = tuple(items)
        if not any(witnesses):
            raise ParseError("segwit flag set but every witness is empty (superfluous witness)")
    if flags:
        raise ParseError(f"unknown segwit flag byte {flags:#04x} at byte {body - 1}")
    _need(data, offset, 4, "locktime")
    locktime = int.from_bytes(data[offset : offset + 4], "little")
    offset += 4
    tx = RawTx(
        version,
        tuple(RawTxIn(p, v, s, q, w) for (p, v, s, q), w in zip(raw_ins, witnesses, strict=True)),
        tuple(outputs),
        locktime,
    )
    size = offset - start
    if body == start + 4:  # no witness: the bytes are the txid preimage
        digest = _sha256d(data[start:offset])
        txid = digest[::-1].hex()
        object.__setattr__(tx, "_wtxid", txid)
        base_size = size
    else:
        base = data[start : start + 4] + data[body:body_end] + data[offset - 4 : offset]
        digest = _sha256d(base)
        txid = digest[::-1].hex()
        base_size = len(base)
    object.__setattr__(tx, "_txid", txid)
    object.__setattr__(tx, "_size", size)
    object.__setattr__(tx, "_base_size", base_size)
    return tx, offset


def parse_tx(data: bytes | bytearray | memoryview) -> RawTx:
    """Parse exactly one serialised transaction (segwit or legacy)."""
    raw = bytes(data)
    tx, end = _read_tx(raw, 0)
    if end != len(raw):
        raise ParseError(f"raw tx has {len(raw) - end} trailing bytes after byte {end}")
    return tx


def _from_hex(text: str, what: str) -> bytes:
    try:
        return bytes.fromhex(text.strip())
    except ValueError as exc:
        raise ParseError(f"{what} hex is not valid hex: {exc}") from None


def parse_tx_hex(text: str) -> RawTx:
    """Parse a transaction given as hex (as explorers' ``/tx/:txid/hex`` return it)."""
    return parse_tx(_from_hex(text, "raw tx"))


def parse_block(data: bytes | bytearray | memoryview) -> RawBlock:
    """Parse a full serialised block into header and transactions (no validation)."""
    raw = bytes(data)
    if len(raw) < 81:
        raise ParseError(f"truncated: a block needs at least 81 bytes, got {len(raw)}")
    header = parse_header(raw[:80])
    count, offset = _count(raw, 80, "block tx count", _MIN_TX_SIZE)
    txs: list[RawTx] = []
    for i in range(count):
        try:
            tx, offset = _read_tx(raw, offset)
        except ParseError as exc:
            raise ParseError(f"block tx {i} (of {count}): {exc}") from None
        txs.append(tx)
    if offset != len(raw):
        raise ParseError(f"block has {len(raw) - offset} trailing bytes after byte {offset}")
    return RawBlock(header, tuple(txs))


def parse_block_hex(text: str) -> RawBlock:
    """Parse a block given as hex (as explorers' ``/block/:hash/raw`` hex variants return it)."""
    return parse_block(_from_hex(text, "raw block"))
