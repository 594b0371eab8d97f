"""Block headers, proof of work, merkle roots, BIP34 heights and blk-file framing.

Kept free of transaction types so that both the full parser (`tx.py`) and the block-scan hot
path (`scan.py`) can build on it without importing each other.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from btcwatch.errors import InputError, ParseError

HEADER_SIZE = 80

#: The four bytes that open every record of a node's blk*.dat files and every P2P message.
BLK_MAGICS: dict[str, bytes] = {
    "mainnet": bytes.fromhex("f9beb4d9"),
    "testnet": bytes.fromhex("0b110907"),
    "testnet4": bytes.fromhex("1c163f28"),
    "signet": bytes.fromhex("0a03cf40"),
    "regtest": bytes.fromhex("fabfb5da"),
}

_HEADER = struct.Struct("<i32s32sIII")
_MAX_TARGET = (1 << 256) - 1


def _sha256d(data: bytes | memoryview) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def _hex_le(text: str, what: str) -> bytes:
    """Display-order hex (as explorers print hashes) to the internal little-endian bytes."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise InputError(f"{what} is not hex: {text!r}") from None
    if len(raw) != 32:
        raise InputError(f"{what} must be 32 bytes (64 hex digits), got {len(raw)}")
    return raw[::-1]


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """The 80-byte block header; hashes are display-order hex like every txid in btcwatch."""

    version: int
    prev_hash: str
    merkle_root: str
    time: int
    bits: int
    nonce: int
    _hash: str | None = field(default=None, init=False, repr=False, compare=False)

    def serialize(self) -> bytes:
        """The consensus encoding (exactly 80 bytes); version is written as 32 raw bits."""
        return (
            (self.version & 0xFFFFFFFF).to_bytes(4, "little")
            + _hex_le(self.prev_hash, "prev_hash")
            + _hex_le(self.merkle_root, "merkle_root")
            + self.time.to_bytes(4, "little")
            + self.bits.to_bytes(4, "little")
            + self.nonce.to_bytes(4, "little")
        )

    @property
    def hash(self) -> str:
        """Block hash (cached: headers are immutable and hashed often while following tips)."""
        cached = self._hash
        if cached is None:
            cached = _sha256d(self.serialize())[::-1].hex()
            object.__setattr__(self, "_hash", cached)
        return cached

    @property
    def target(self) -> int:
        """The proof-of-work target encoded by ``bits``."""
        return compact_to_target(self.bits)

    def meets_target(self) -> bool:
        """True when the header hash is at or below its own target (False for invalid bits)."""
        try:
            target = compact_to_target(self.bits)
        except ParseError:
            return False
        return int(self.hash, 16) <= target


def parse_header(data: bytes | bytearray | memoryview) -> BlockHeader:
    """Read exactly 80 header bytes."""
    if len(data) != HEADER_SIZE:
        raise ParseError(f"a block header is {HEADER_SIZE} bytes, got {len(data)}")
    raw = bytes(data)
    version, prev, root, time, bits, nonce = _HEADER.unpack(raw)
    header = BlockHeader(version, prev[::-1].hex(), root[::-1].hex(), time, bits, nonce)
    object.__setattr__(header, "_hash", _sha256d(raw)[::-1].hex())
    return header


def compact_to_target(bits: int) -> int:
    """Expand the compact ``nBits`` form; negative or overflowing encodings raise ParseError."""
    if not 0 <= bits <= 0xFFFFFFFF:
        raise ParseError(f"compact target bits out of range: {bits:#x}")
    exponent = bits >> 24
    mantissa = bits & 0x007FFFFF
    shift = 8 * (exponent - 3)
    target = mantissa << shift if shift >= 0 else mantissa >> -shift
    if target and bits & 0x00800000:  # Core's sign test, after the shift
        raise ParseError(f"compact target bits {bits:#010x} encode a negative target")
    if target > _MAX_TARGET:
        raise ParseError(f"compact target bits {bits:#010x} overflow 256 bits")
    return target


def target_to_compact(target: int) -> int:
    """The compact ``nBits`` form of a target (rounding down, as Bitcoin Core does)."""
    if not 0 <= target <= _MAX_TARGET:
        raise InputError(f"target out of range: {target:#x}")
    size = (target.bit_length() + 7) // 8
    shift = 8 * (size - 3)
    mantissa = target >> shift if shift >= 0 else target << -shift
    if mantissa & 0x00800000:  # keep the sign bit clear
        mantissa >>= 8
        size += 1
    return (size << 24) | mantissa


def mine(header: BlockHeader) -> BlockHeader:
    """Raise the nonce from ``header.nonce`` until the hash meets the target (for regtest).

    The 76-byte prefix is hashed once and its state copied per try, so easy targets cost
    microseconds; a target that no nonce meets raises InputError instead of looping forever.
    """
    target = compact_to_target(header.bits)
    raw = header.serialize()
    prefix = hashlib.sha256(raw[:76])
    for nonce in range(header.nonce, 1 << 32):
        inner = prefix.copy()
        inner.update(nonce.to_bytes(4, "little"))
        digest = hashlib.sha256(inner.digest()).digest()
        if int.from_bytes(digest, "little") <= target:
            mined = replace(header, nonce=nonce)
            object.__setattr__(mined, "_hash", digest[::-1].hex())
            return mined
    raise InputError(f"no nonce from {header.nonce} meets target bits {header.bits:#010x}")


def merkle_root(txids: Sequence[str]) -> str:
    """The merkle root over display-order txids (odd levels repeat their last hash)."""
    if not txids:
        raise InputError("a merkle root needs at least one txid")
    level = [_hex_le(t, "txid") for t in txids]
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [_sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0][::-1].hex()


def coinbase_height(script_sig: bytes) -> int | None:
    """The BIP34 height pushed first in a coinbase scriptSig, or None when there is none.

    Accepts OP_0 and OP_1..OP_16 (how Bitcoin Core writes heights 0-16 on regtest) and
    direct pushes of 1-8 bytes read as a script number. Only meaningful for version >= 2
    blocks: earlier coinbases start with arbitrary pushes.
    """
    if not script_sig:
        return None
    op = script_sig[0]
    if op == 0x00:
        return 0
    if 0x51 <= op <= 0x60:
        return op - 0x50
    if not 1 <= op <= 8 or len(script_sig) < 1 + op:
        return None
    value = int.from_bytes(script_sig[1 : 1 + op], "little")
    if value >> (8 * op - 1):  # sign bit set: a negative number is no height
        return None
    return value


def coinbase_height_push(height: int) -> bytes:
    """The scriptSig prefix that commits to ``height`` the way Bitcoin Core's miner does."""
    if height < 0:
        raise InputError(f"block height cannot be negative: {height}")
    if height == 0:
        return b"\x00"
    if height <= 16:
        return bytes((0x50 + height,))
    size = (height.bit_length() + 8) // 8  # room for a clear sign bit
    return bytes((size,)) + height.to_bytes(size, "little")


def unframe_block(data: bytes) -> bytes:
    """Strip a blk-file record prefix (4-byte network magic + 4-byte length) if present.

    Raw blocks never start with a magic: read as a version it would be negative.
    """
    if len(data) >= 8 and data[:4] in BLK_MAGICS.values():
        length = int.from_bytes(data[4:8], "little")
        if length != len(data) - 8:
            raise ParseError(
                f"blk record says {length} bytes but {len(data) - 8} follow the 8-byte prefix"
            )
        return data[8:]
    return data


def iter_blk_records(data: bytes, magic: bytes = BLK_MAGICS["mainnet"]) -> Iterator[bytes]:
    """Yield each block of a node's blk*.dat file (records of magic + length + block).

    Zero bytes between or after records (files are preallocated) are skipped.
    """
    offset, end = 0, len(data)
    while offset < end:
        found = data.find(magic, offset)
        gap = (end if found < 0 else found) - offset
        if data.count(0, offset, offset + gap) != gap:
            raise ParseError(f"blk file: expected magic {magic.hex()} at byte {offset}")
        if found < 0:
            return
        if found + 8 > end:
            raise ParseError(f"blk file: record at byte {found} truncated in its length")
        length = int.from_bytes(data[found + 4 : found + 8], "little")
        start = found + 8
        if start + length > end:
            raise ParseError(
                f"blk file: record at byte {found} claims {length} bytes, {end - start} left"
            )
        yield data[start : start + length]
        offset = start + length
