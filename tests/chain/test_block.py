"""Headers, merkle roots, proof of work and full block parsing, on real mainnet blocks."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from chain_realdata import BLOCK_CASES, GENESIS_HASH, BlockCase, blk_file, block_bytes, shared

from btcwatch.chain.tx import (
    BlockHeader,
    RawBlock,
    RawTx,
    RawTxIn,
    RawTxOut,
    coinbase_height,
    coinbase_height_push,
    compact_to_target,
    iter_blk_records,
    merkle_root,
    mine,
    parse_block,
    parse_block_hex,
    parse_header,
    parse_tx,
    target_to_compact,
    unframe_block,
    write_varint,
)
from btcwatch.errors import InputError, ParseError

MAX_BLOCK_WEIGHT = 4_000_000
WITNESS_COMMITMENT = bytes.fromhex("6a24aa21a9ed")  # OP_RETURN push-36 + BIP141 tag


def _sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


@pytest.fixture(scope="module", params=BLOCK_CASES, ids=lambda case: case.file[:24])
def real(request: pytest.FixtureRequest) -> tuple[BlockCase, bytes, RawBlock]:
    case: BlockCase = request.param
    raw = block_bytes(case.file)
    return case, raw, parse_block(raw)


def test_real_block_header_and_merkle_root(real: tuple[BlockCase, bytes, RawBlock]) -> None:
    case, raw, block = real
    assert block.header == parse_header(raw[:80])
    assert block.header.serialize() == raw[:80]
    assert block.computed_merkle_root() == block.header.merkle_root
    assert block.header.meets_target()
    assert int(block.hash, 16) <= block.header.target
    if case.hash is not None:
        assert block.hash == case.hash
    assert block.height_from_coinbase() == case.height


def test_real_block_reserialises_byte_for_byte(real: tuple[BlockCase, bytes, RawBlock]) -> None:
    _case, raw, block = real
    assert block.serialize() == raw
    offset = 80 + len(write_varint(len(block.txs)))
    for tx in block.txs:
        chunk = raw[offset : offset + tx.size]
        assert tx.serialize() == chunk
        assert parse_tx(chunk) == tx
        offset += tx.size
    assert offset == len(raw)


def test_real_block_ids_recomputed_without_the_parse_cache(
    real: tuple[BlockCase, bytes, RawBlock],
) -> None:
    _case, _raw, block = real
    for tx in block.txs:
        fresh = replace(tx)  # parse filled txid/wtxid/sizes from the bytes; recompute them
        assert (fresh.txid, fresh.wtxid, fresh.size, fresh.base_size) == (
            tx.txid,
            tx.wtxid,
            tx.size,
            tx.base_size,
        )
    assert len({tx.txid for tx in block.txs}) == len(block.txs)


def test_real_block_weight_within_consensus_limit(real: tuple[BlockCase, bytes, RawBlock]) -> None:
    _case, raw, block = real
    overhead = 80 + len(write_varint(len(block.txs)))
    weight = 4 * overhead + sum(tx.weight for tx in block.txs)
    assert weight <= MAX_BLOCK_WEIGHT
    assert overhead + sum(tx.size for tx in block.txs) == len(raw)


def test_real_segwit_blocks_commit_to_our_wtxids(real: tuple[BlockCase, bytes, RawBlock]) -> None:
    """BIP141: the coinbase commits to the merkle root of all wtxids, an independent check."""
    _case, _raw, block = real
    coinbase = block.txs[0]
    commitments = [
        out.script[6:38] for out in coinbase.outputs if out.script[:6] == WITNESS_COMMITMENT
    ]
    if not any(tx.has_witness for tx in block.txs[1:]):
        return
    assert commitments, "a block with witness txs must carry a witness commitment"
    wtxids = ["00" * 32] + [tx.wtxid for tx in block.txs[1:]]
    root = bytes.fromhex(merkle_root(wtxids))[::-1]
    (reserved,) = coinbase.inputs[0].witness
    assert _sha256d(root + reserved) == commitments[-1]


def test_at_least_three_real_blocks_have_witness_data() -> None:
    witness_blocks = [
        case.file
        for case in BLOCK_CASES
        if any(tx.has_witness for tx in parse_block(block_bytes(case.file)).txs)
    ]
    assert len(witness_blocks) >= 3


def test_blocks_1_to_255_chain_from_genesis() -> None:
    blocks = [parse_block(record) for record in iter_blk_records(blk_file("blocks1-256.bz2"))]
    assert len(blocks) == 255
    prev = GENESIS_HASH
    for block in blocks:
        assert block.header.prev_hash == prev
        assert block.header.meets_target()
        assert block.header.bits == 0x1D00FFFF
        assert block.computed_merkle_root() == block.header.merkle_root
        assert block.height_from_coinbase() is None  # version 1: no BIP34 height
        assert block.txs[0].inputs[0].is_coinbase
        assert block.txs[0].outputs[0].value == 50 * 100_000_000
        prev = block.hash
    assert blocks[0].hash == "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048"


def test_header_file_matches_the_blocks() -> None:
    lines = shared("blocks", "blockheaders-mainnet-1-11.txt").read_text().split()
    headers = [parse_header(bytes.fromhex(line)) for line in lines]
    records = list(iter_blk_records(blk_file("blocks1-256.bz2")))
    assert len(headers) == 11
    for header, record in zip(headers, records, strict=False):
        assert header == parse_block(record).header
        assert header.hash == parse_block(record).hash


def test_hex_and_blk_framed_inputs() -> None:
    raw = block_bytes("block-2011-hex.txt")
    framed = blk_file("block-2011-hex.txt")
    assert framed[:4] == bytes.fromhex("f9beb4d9") and framed[8:] == raw
    assert unframe_block(raw) == raw
    assert parse_block_hex(raw.hex()) == parse_block(raw)
    assert list(iter_blk_records(framed + b"\x00" * 100 + framed)) == [raw, raw]
    with pytest.raises(ParseError, match="blk record says"):
        unframe_block(framed[:-1])
    with pytest.raises(ParseError, match="expected magic f9beb4d9 at byte 0"):
        list(iter_blk_records(raw))
    with pytest.raises(ParseError, match="claims 49179 bytes, 49178 left"):
        list(iter_blk_records(framed[:-1]))


def test_277647_parses() -> None:
    block = parse_block(block_bytes("277647.dat.bz2"))
    assert len(block.txs) == 213
    assert block.height_from_coinbase() == 277647


# -- malformed blocks ------------------------------------------------------------------------


def test_truncated_and_padded_blocks_are_parse_errors() -> None:
    raw = block_bytes("block-2011-hex.txt")
    for cut in (0, 50, 80, 81, 200, len(raw) // 2, len(raw) - 1):
        with pytest.raises(ParseError, match="truncated"):
            parse_block(raw[:cut])
    with pytest.raises(ParseError, match="block tx count is 162 but only 69 bytes follow"):
        parse_block(raw[:150])
    with pytest.raises(ParseError, match=r"block tx \d+ \(of 162\): truncated: input \d+"):
        parse_block(raw[:5000])
    with pytest.raises(ParseError, match="block has 1 trailing bytes"):
        parse_block(raw + b"\x00")
    with pytest.raises(ParseError, match="block tx count is 4000000"):
        parse_block(raw[:80] + write_varint(4_000_000) + raw[81:])
    with pytest.raises(ParseError, match="not valid hex"):
        parse_block_hex("xyz")


def test_parse_header_needs_80_bytes() -> None:
    with pytest.raises(ParseError, match="a block header is 80 bytes, got 79"):
        parse_header(bytes(79))


# -- proof of work ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bits", "target", "compact"),
    [  # Bitcoin Core src/test/arith_uint256_tests.cpp (bignum_SetCompact)
        (0x00000000, 0, 0),
        (0x00123456, 0, 0),
        (0x01003456, 0, 0),
        (0x02000056, 0, 0),
        (0x03000000, 0, 0),
        (0x04000000, 0, 0),
        (0x00923456, 0, 0),
        (0x01803456, 0, 0),
        (0x02800056, 0, 0),
        (0x03800000, 0, 0),
        (0x04800000, 0, 0),
        (0x01123456, 0x12, 0x01120000),
        (0x02123456, 0x1234, 0x02123400),
        (0x03123456, 0x123456, 0x03123456),
        (0x04123456, 0x12345600, 0x04123456),
        (0x05009234, 0x92340000, 0x05009234),
        (0x20123456, 0x123456 << 232, 0x20123456),
        (0x1D00FFFF, 0xFFFF << 208, 0x1D00FFFF),
    ],
)
def test_compact_targets_like_core(bits: int, target: int, compact: int) -> None:
    assert compact_to_target(bits) == target
    assert target_to_compact(target) == compact


def test_compact_target_never_sets_the_sign_bit() -> None:
    assert target_to_compact(0x80) == 0x02008000


@pytest.mark.parametrize(
    ("bits", "problem"),
    [(0x01FEDCBA, "negative"), (0x04923456, "negative"), (0xFF123456, "overflow")],
)
def test_invalid_compact_targets(bits: int, problem: str) -> None:
    with pytest.raises(ParseError, match=problem):
        compact_to_target(bits)
    header = BlockHeader(1, "00" * 32, "00" * 32, 0, bits, 0)
    assert not header.meets_target()


def _regtest_block(height: int, prev: str) -> RawBlock:
    coinbase = RawTx(
        version=2,
        inputs=(RawTxIn("0" * 64, 0xFFFFFFFF, coinbase_height_push(height) + b"\x00", 0),),
        outputs=(RawTxOut(50 * 100_000_000, bytes.fromhex("0014" + "22" * 20)),),
        locktime=0,
    )
    header = BlockHeader(
        0x20000000, prev, merkle_root([coinbase.txid]), 1_700_000_000, 0x207FFFFF, 0
    )
    return RawBlock(mine(header), (coinbase,))


def test_mine_a_regtest_chain() -> None:
    prev = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"  # regtest genesis
    for height in range(1, 6):
        block = _regtest_block(height, prev)
        assert block.header.meets_target()
        assert block.header.nonce < 100  # target ~2^255: half of all hashes meet it
        assert replace(block.header).hash == block.hash  # cached hash equals a fresh one
        parsed = parse_block(block.serialize())
        assert parsed == block
        assert parsed.height_from_coinbase() == height
        assert parsed.computed_merkle_root() == parsed.header.merkle_root
        prev = block.hash


def test_mine_gives_up_on_an_impossible_target() -> None:
    header = BlockHeader(1, "00" * 32, "00" * 32, 0, 0x03000001, 0xFFFFFF00)
    with pytest.raises(InputError, match="no nonce from 4294967040 meets target"):
        mine(header)


def test_negative_header_version_round_trips() -> None:
    header = BlockHeader(-1, "11" * 32, "22" * 32, 3, 0x1D00FFFF, 5)
    assert parse_header(header.serialize()) == header


def test_header_with_bad_hash_hex_is_an_input_error() -> None:
    with pytest.raises(InputError, match="prev_hash must be 32 bytes"):
        BlockHeader(1, "00", "00" * 32, 0, 0, 0).serialize()


# -- merkle roots and BIP34 ------------------------------------------------------------------


def test_merkle_root_of_one_tx_is_its_txid_and_needs_one() -> None:
    txid = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"  # genesis coinbase
    assert merkle_root([txid]) == txid
    with pytest.raises(InputError, match="at least one txid"):
        merkle_root([])


@pytest.mark.parametrize(
    "height", [0, 1, 16, 17, 127, 128, 255, 256, 32767, 32768, 8388607, 8388608, 413567, 794466]
)
def test_coinbase_height_push_round_trips(height: int) -> None:
    push = coinbase_height_push(height)
    assert coinbase_height(push + b"\x2f\x50\x32\x53\x48\x2f") == height


def test_coinbase_height_encodings() -> None:
    assert coinbase_height_push(5) == b"\x55"  # OP_5, as Core's miner writes small heights
    assert coinbase_height_push(128) == b"\x02\x80\x00"  # sign bit kept clear
    assert coinbase_height_push(413567) == bytes.fromhex("037f4f06")
    assert coinbase_height(b"") is None
    assert coinbase_height(b"\x04\xff\xff\x00\x1d") == 0x1D00FFFF  # a 2009 coinbase "height"
    assert coinbase_height(b"\x01\x80") is None  # negative number
    assert coinbase_height(b"\x03\x01") is None  # push runs past the end
    with pytest.raises(InputError, match="negative"):
        coinbase_height_push(-1)
