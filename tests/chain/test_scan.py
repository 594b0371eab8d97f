"""The block-scan hot path must agree with the full parser on every real block."""

from __future__ import annotations

import random
from collections.abc import Container

import pytest
from chain_realdata import BLOCK_CASES, BlockCase, block_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

from btcwatch.chain.tx import RawBlock, parse_block, parse_tx, scan_block, scan_tx, write_varint
from btcwatch.errors import ParseError

DECOYS = 100_000


def _reference(
    block: RawBlock, scripts: Container[bytes], outpoints: Container[tuple[str, int]]
) -> tuple[list[tuple[str, int, int, bytes]], list[tuple[str, int, str, int]]]:
    """The obvious slow way: full objects and plain loops."""
    paid = [
        (tx.txid, n, out.value, out.script)
        for tx in block.txs
        for n, out in enumerate(tx.outputs)
        if out.script in scripts
    ]
    spent = [
        (txin.prev_txid, txin.prev_vout, tx.txid, n)
        for tx in block.txs
        for n, txin in enumerate(tx.inputs)
        if not txin.is_coinbase and (txin.prev_txid, txin.prev_vout) in outpoints
    ]
    return paid, spent


@pytest.fixture(scope="module")
def decoys() -> tuple[set[bytes], set[tuple[str, int]]]:
    rng = random.Random(20240601)
    scripts = {
        (b"\x00\x14" + rng.randbytes(20))
        if i % 2
        else (b"\x76\xa9\x14" + rng.randbytes(20) + b"\x88\xac")
        for i in range(DECOYS)
    }
    outpoints = {(rng.randbytes(32).hex(), rng.randrange(8)) for _ in range(DECOYS)}
    return scripts, outpoints


@pytest.mark.parametrize("case", BLOCK_CASES, ids=lambda case: case.file[:24])
def test_scan_matches_the_reference_on_real_blocks(
    case: BlockCase, decoys: tuple[set[bytes], set[tuple[str, int]]]
) -> None:
    raw = block_bytes(case.file)
    block = parse_block(raw)
    scripts = set(decoys[0])
    outpoints = set(decoys[1])
    all_outputs = [out.script for tx in block.txs for out in tx.outputs]
    all_inputs = [(i.prev_txid, i.prev_vout) for tx in block.txs[1:] for i in tx.inputs]
    scripts.update(all_outputs[::7])
    outpoints.update(all_inputs[::5])
    outpoints.add(("0" * 64, 0xFFFFFFFF))  # a coinbase "outpoint" is never reported as spent

    scan = scan_block(raw, scripts, outpoints)

    paid, spent = _reference(block, scripts, outpoints)
    assert scan.paid == paid
    assert scan.spent == spent
    assert len(paid) >= len(all_outputs[::7]) and len(spent) >= len(all_inputs[::5])
    assert scan.txids == [tx.txid for tx in block.txs]
    assert (scan.hash, scan.prev_hash, scan.time) == (
        block.hash,
        block.header.prev_hash,
        block.header.time,
    )
    assert scan.height == case.height == block.height_from_coinbase()
    assert scan.tx_count == len(block.txs)


def test_scan_finds_every_output_and_no_decoy(
    decoys: tuple[set[bytes], set[tuple[str, int]]],
) -> None:
    raw = block_bytes("block702861.raw")
    block = parse_block(raw)
    everything = {out.script for tx in block.txs for out in tx.outputs}
    scan = scan_block(raw, everything, set())
    assert len(scan.paid) == sum(len(tx.outputs) for tx in block.txs)
    assert sum(value for _t, _n, value, _s in scan.paid) == sum(
        out.value for tx in block.txs for out in tx.outputs
    )
    assert scan.spent == []
    nothing = scan_block(raw, decoys[0], decoys[1])
    assert (nothing.paid, nothing.spent) == ([], [])


def test_in_block_spends_of_277647() -> None:
    """The data README records 62 in-block spend links in block 277647."""
    raw = block_bytes("277647.dat.bz2")
    block = parse_block(raw)
    created = {(tx.txid, n) for tx in block.txs for n in range(len(tx.outputs))}
    scan = scan_block(raw, set(), created)
    assert len(scan.spent) == 62
    position = {txid: i for i, txid in enumerate(scan.txids)}
    for prev_txid, _vout, spender, _vin in scan.spent:
        assert position[prev_txid] < position[spender]  # parents come first in a block


def test_scan_tx_agrees_with_parse_tx_on_real_txs() -> None:
    raw = block_bytes("block794466-hex.txt")
    block = parse_block(raw)
    offset = 80 + len(write_varint(len(block.txs)))
    for tx in block.txs[:300]:
        chunk = raw[offset : offset + tx.size]
        offset += tx.size
        scripts = {out.script for out in tx.outputs}
        outpoints = {(i.prev_txid, i.prev_vout) for i in tx.inputs}
        result = scan_tx(chunk, scripts, outpoints)
        assert result.txid == tx.txid
        assert [p[:2] for p in result.paid] == [(tx.txid, n) for n in range(len(tx.outputs))]
        expected = [] if tx.inputs[0].is_coinbase else list(range(len(tx.inputs)))
        assert [s[3] for s in result.spent] == expected


def test_scan_accepts_bytearray_and_memoryview() -> None:
    raw = block_bytes("block-2011-hex.txt")
    script = parse_block(raw).txs[5].outputs[0].script
    expected = scan_block(raw, {script}, set())
    assert expected.paid
    assert scan_block(bytearray(raw), {script}, set()) == expected
    assert scan_block(memoryview(raw), {script}, set()) == expected


# -- untrusted bytes -------------------------------------------------------------------------


def test_tampered_tx_breaks_the_merkle_root() -> None:
    raw = bytearray(block_bytes("block-2011-hex.txt"))
    block = parse_block(bytes(raw))
    value_at = bytes(raw).index(block.txs[1].serialize()) + len(block.txs[1].serialize()) - 40
    raw[value_at] ^= 0x01
    with pytest.raises(ParseError, match="txids hash to merkle root"):
        scan_block(bytes(raw), set(), set())
    assert scan_block(bytes(raw), set(), set(), verify=False).tx_count == 162


def test_header_that_misses_its_target_is_refused() -> None:
    raw = bytearray(block_bytes("block-2011-hex.txt"))
    raw[76] ^= 0x01  # nonce
    with pytest.raises(ParseError, match="does not meet its own target"):
        scan_block(bytes(raw), set(), set())
    assert scan_block(bytes(raw), set(), set(), verify=False).tx_count == 162


def test_truncated_and_padded_blocks_are_parse_errors() -> None:
    raw = block_bytes("block702861.raw")
    for cut in (0, 80, 81, 5000, 500_000, len(raw) - 4, len(raw) - 1):
        with pytest.raises(ParseError, match="truncated"):
            scan_block(raw[:cut], set(), set())
    with pytest.raises(ParseError, match="block has 3 trailing bytes"):
        scan_block(raw + b"abc", set(), set())
    with pytest.raises(ParseError, match="block tx count is 3000000"):
        scan_block(raw[:80] + write_varint(3_000_000) + raw[83:], set(), set())


def test_scan_tx_errors() -> None:
    block = parse_block(block_bytes("block-2011-hex.txt"))
    raw = block.txs[3].serialize()
    assert parse_tx(raw) == block.txs[3]
    with pytest.raises(ParseError, match="1 trailing bytes"):
        scan_tx(raw + b"\x00", set(), set())
    for cut in range(0, len(raw), 7):
        with pytest.raises(ParseError, match="truncated"):
            scan_tx(raw[:cut], set(), set())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 49_178), st.integers(0, 255)), min_size=1, max_size=3))
def test_mutated_block_scan_and_parse_agree(edits: list[tuple[int, int]]) -> None:
    """Whatever the bytes, the hot path accepts exactly what the full parser accepts."""
    raw = bytearray(block_bytes("block-2011-hex.txt"))
    for where, value in edits:
        raw[where % len(raw)] = value
    data = bytes(raw)
    try:
        block = parse_block(data)
    except ParseError:
        with pytest.raises(ParseError):
            scan_block(data, set(), set(), verify=False)
        return
    scan = scan_block(data, set(), set(), verify=False)
    assert scan.txids == [tx.txid for tx in block.txs]
