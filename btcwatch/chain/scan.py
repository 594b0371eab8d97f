"""Block-scan hot path: find watched outputs and spent outpoints in raw block bytes.

This is the inner loop of block-scan watching, so it trades elegance for speed: one pass over
the bytes, no per-transaction objects, offsets kept in locals, txids hashed from memoryview
slices, and matching by ``in`` against the caller's sets, so the cost does not grow with the
number of watched scripts. It accepts exactly the bytes that ``tx.parse_block`` accepts.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Container
from dataclasses import dataclass

from btcwatch.chain.block import BlockHeader, coinbase_height, merkle_root, parse_header
from btcwatch.errors import ParseError

Paid = tuple[str, int, int, bytes]
"""(txid, vout, value, script) of an output paying a watched script."""
Spent = tuple[str, int, str, int]
"""(prev_txid, prev_vout, spending_txid, vin) of an input spending a watched outpoint."""

_U16 = struct.Struct("<H").unpack_from
_U32 = struct.Struct("<I").unpack_from
_U64 = struct.Struct("<Q").unpack_from
_I64 = struct.Struct("<q").unpack_from
_NULL_TXID = "0" * 64


@dataclass(frozen=True, slots=True)
class BlockScan:
    """What one block means for a watch list, plus what a tip follower needs of its header."""

    hash: str
    prev_hash: str
    time: int
    height: int | None
    tx_count: int
    txids: list[str]
    paid: list[Paid]
    spent: list[Spent]


@dataclass(frozen=True, slots=True)
class TxScan:
    """What one raw (e.g. mempool) transaction means for a watch list."""

    txid: str
    paid: list[Paid]
    spent: list[Spent]


def _big_varint(data: bytes, o: int) -> tuple[int, int]:
    """The rare 3/5/9-byte varints, checked for canonical form like ``read_varint``."""
    first = data[o]
    if first == 0xFD:
        value, end, minimum = _U16(data, o + 1)[0], o + 3, 0xFD
    elif first == 0xFE:
        value, end, minimum = _U32(data, o + 1)[0], o + 5, 0x10000
    else:
        value, end, minimum = _U64(data, o + 1)[0], o + 9, 0x100000000
    if value < minimum:
        raise ParseError(f"non-canonical varint at byte {o}: {value}")
    return value, end


def _scan_txs(
    data: bytes,
    o: int,
    count: int,
    scripts: Container[bytes],
    outpoints: Container[tuple[str, int]],
    txids: list[str],
    paid: list[Paid],
    spent: list[Spent],
) -> int:
    """Walk ``count`` transactions from offset ``o``; append to the lists; return the end.

    Reads past the end show up as IndexError/struct.error (OverflowError for a huge offset)
    or an offset beyond ``len(data)``; the callers turn both into ParseError.
    """
    mv = memoryview(data)
    sha256 = hashlib.sha256
    end = len(data)
    for _ in range(count):
        start = o
        o += 4
        n_in = data[o]
        if n_in < 0xFD:
            o += 1
        else:
            n_in, o = _big_varint(data, o)
        segwit = False
        body = o
        if n_in == 0:
            flags = data[o]
            o += 1
            if flags:
                if flags != 1:
                    raise ParseError(f"unknown segwit flag byte {flags:#04x} at byte {o - 1}")
                segwit = True
                body = o
                n_in = data[o]
                if n_in < 0xFD:
                    o += 1
                else:
                    n_in, o = _big_varint(data, o)
        hits_in: list[tuple[str, int, int]] = []
        for vin in range(n_in):
            key = (data[o : o + 32][::-1].hex(), _U32(data, o + 32)[0])
            o += 36
            size = data[o]
            if size < 0xFD:
                o += size + 5
            else:
                size, o = _big_varint(data, o)
                o += size + 4
            if key in outpoints:
                hits_in.append((key[0], key[1], vin))
        hits_out: list[tuple[int, int, bytes]] = []
        if n_in or segwit:
            n_out = data[o]
            if n_out < 0xFD:
                o += 1
            else:
                n_out, o = _big_varint(data, o)
            for vout in range(n_out):
                size = data[o + 8]
                if size < 0xFD:
                    s = o + 9
                else:
                    size, s = _big_varint(data, o + 8)
                script = data[s : s + size]
                if script in scripts:
                    hits_out.append((vout, _I64(data, o)[0], script))
                o = s + size
        if segwit:
            witness = o
            for _ in range(n_in):
                items = data[o]
                if items < 0xFD:
                    o += 1
                else:
                    items, o = _big_varint(data, o)
                for _ in range(items):
                    size = data[o]
                    if size < 0xFD:
                        o += size + 1
                    else:
                        size, o = _big_varint(data, o)
                        o += size
            if o - witness == n_in:  # one zero count byte per input: every witness empty
                raise ParseError("segwit flag set but every witness is empty (superfluous witness)")
            o += 4
            if o > end:
                break
            h = sha256(mv[start : start + 4])
            h.update(mv[body:witness])
            h.update(mv[o - 4 : o])
        else:
            o += 4
            if o > end:
                break
            h = sha256(mv[start:o])
        txid = sha256(h.digest()).digest()[::-1].hex()
        txids.append(txid)
        for prev_txid, prev_vout, vin in hits_in:
            if prev_vout != 0xFFFFFFFF or prev_txid != _NULL_TXID:  # never report a coinbase
                spent.append((prev_txid, prev_vout, txid, vin))
        for vout, value, script in hits_out:
            paid.append((txid, vout, value, script))
    if o > end:
        raise ParseError(f"truncated: transaction {len(txids)} runs past the end ({end} bytes)")
    return o


def _tx_count(data: bytes) -> tuple[int, int]:
    if len(data) < 81:
        raise ParseError(f"truncated: a block needs at least 81 bytes, got {len(data)}")
    count = data[80]
    o = 81
    if count >= 0xFD:
        try:
            count, o = _big_varint(data, 80)
        except (IndexError, OverflowError, struct.error):
            raise ParseError("truncated: block tx count runs past the end") from None
    if count * 10 > len(data) - o:
        left = len(data) - o
        raise ParseError(f"truncated: block tx count is {count} but only {left} bytes follow")
    return count, o


def _coinbase_script_sig(data: bytes, o: int) -> bytes | None:
    """The scriptSig of the (already validated) transaction at ``o`` if it is a coinbase."""
    o += 4
    if data[o] == 0:  # segwit marker and flag (a validated tx without inputs has neither)
        o += 2
        if data[o - 1] == 0:
            return None
    if data[o] != 1 or data[o + 33 : o + 37] != b"\xff\xff\xff\xff" or any(data[o + 1 : o + 33]):
        return None
    o += 37
    size = data[o]
    if size >= 0xFD:
        size, o = _big_varint(data, o)
    else:
        o += 1
    return data[o : o + size]


def scan_block(
    data: bytes | bytearray | memoryview,
    scripts: Container[bytes],
    outpoints: Container[tuple[str, int]],
    *,
    verify: bool = True,
) -> BlockScan:
    """Scan a serialised block for outputs paying ``scripts`` and inputs spending ``outpoints``.

    With ``verify`` (the default) the txids must hash to the header's merkle root and the
    header must meet its own target, so that bytes from an untrusted explorer cannot invent
    or hide payments; a mismatch raises ParseError.
    """
    if not isinstance(data, bytes):
        data = bytes(data)  # bytearray slices would not hash for set lookups
    count, first = _tx_count(data)
    header = parse_header(data[:80])
    txids: list[str] = []
    paid: list[Paid] = []
    spent: list[Spent] = []
    try:
        o = _scan_txs(data, first, count, scripts, outpoints, txids, paid, spent)
    except (IndexError, OverflowError, struct.error):
        raise ParseError(f"truncated: block tx {len(txids)} runs past the end") from None
    except ParseError as exc:
        raise ParseError(f"block tx {len(txids)} (of {count}): {exc}") from None
    if o != len(data):
        raise ParseError(f"block has {len(data) - o} trailing bytes after byte {o}")
    if verify:
        _verify(header, txids)
    height = None
    if header.version >= 2 and count:
        script_sig = _coinbase_script_sig(data, first)
        height = None if script_sig is None else coinbase_height(script_sig)
    return BlockScan(header.hash, header.prev_hash, header.time, height, count, txids, paid, spent)


def _verify(header: BlockHeader, txids: list[str]) -> None:
    if not txids:
        raise ParseError("a block without transactions has no merkle root")
    root = merkle_root(txids)
    if root != header.merkle_root:
        raise ParseError(
            f"block {header.hash}: txids hash to merkle root {root}, header says "
            f"{header.merkle_root}"
        )
    if not header.meets_target():
        raise ParseError(f"block {header.hash} does not meet its own target {header.bits:#010x}")


def scan_tx(
    data: bytes | bytearray | memoryview,
    scripts: Container[bytes],
    outpoints: Container[tuple[str, int]],
) -> TxScan:
    """Scan one serialised transaction (e.g. from the mempool) like ``scan_block`` does."""
    if not isinstance(data, bytes):
        data = bytes(data)
    txids: list[str] = []
    paid: list[Paid] = []
    spent: list[Spent] = []
    try:
        o = _scan_txs(data, 0, 1, scripts, outpoints, txids, paid, spent)
    except (IndexError, OverflowError, struct.error):
        raise ParseError(f"truncated: raw tx runs past the end ({len(data)} bytes)") from None
    if o != len(data):
        raise ParseError(f"raw tx has {len(data) - o} trailing bytes after byte {o}")
    return TxScan(txids[0], paid, spent)
