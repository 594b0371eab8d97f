"""Merkle branches on real mainnet blocks, the Esplora proof format, and the known attacks."""

from __future__ import annotations

import bz2
import hashlib
import json
from pathlib import Path

import pytest
from chain_realdata import BLOCK_CASES, BlockCase, block_bytes

from btcwatch.chain.merkle import (
    POW_LIMITS,
    MerkleBranch,
    branch_for,
    branches_for,
    header_problem,
    parse_esplora_proof,
    verify_branch,
)
from btcwatch.chain.tx import RawBlock, merkle_root, parse_block, parse_tx, unframe_block
from btcwatch.errors import InputError
from btcwatch.providers.esplora_raw import find_tx_json, raw_tx_from_json

DATA = Path(__file__).resolve().parents[1] / "data"
MEMPOOL = DATA / "recorded" / "mempool-space"
LOCAL = DATA / "blocks"  # copies of the two small blocks, so these tests never skip


def _local_block(file: str) -> bytes:
    data = (LOCAL / file).read_bytes()
    if file.endswith(".bz2"):
        data = bz2.decompress(data)
    if file.endswith(".txt"):
        data = bytes.fromhex(data.decode("ascii"))
    return unframe_block(data)


def _load(file: str) -> bytes:
    return _local_block(file) if (LOCAL / file).exists() else block_bytes(file)


@pytest.fixture(scope="module", params=BLOCK_CASES, ids=lambda c: c.file)
def real(request: pytest.FixtureRequest) -> tuple[BlockCase, RawBlock]:
    case: BlockCase = request.param
    return case, parse_block(_load(case.file))


def _flip(text: str) -> str:
    return ("1" if text[0] != "1" else "2") + text[1:]


def test_every_branch_of_a_real_block_leads_to_its_header(
    real: tuple[BlockCase, RawBlock],
) -> None:
    _, block = real
    txids = [t.txid for t in block.txs]
    root = block.header.merkle_root
    branches = branches_for(txids)
    assert len(branches) == len(txids)
    for pos, (tx, branch) in enumerate(zip(block.txs, branches, strict=True)):
        assert branch.pos == pos
        assert branch.root(tx.txid) == root
        assert verify_branch(tx.serialize(), tx.txid, branch, root) is None
    # branch_for (one position) agrees with the one-pass computation, first, middle, last
    for pos in {0, len(txids) // 2, len(txids) - 1}:
        assert branch_for(txids, pos) == branches[pos]


def test_a_branch_for_the_wrong_position_or_a_flipped_hash_fails(
    real: tuple[BlockCase, RawBlock],
) -> None:
    _, block = real
    txids = [t.txid for t in block.txs]
    root = block.header.merkle_root
    tx = block.txs[len(txids) // 2]
    good = branch_for(txids, len(txids) // 2)
    wrong_pos = MerkleBranch(good.pos ^ 1, good.siblings)
    problem = verify_branch(tx.serialize(), tx.txid, wrong_pos, root)
    assert problem is not None and "leads to" in problem
    for depth in range(len(good.siblings)):
        flipped = list(good.siblings)
        flipped[depth] = _flip(flipped[depth])
        bad = MerkleBranch(good.pos, tuple(flipped))
        assert verify_branch(tx.serialize(), tx.txid, bad, root) is not None
    other = block.txs[0]  # the raw bytes must be the proven tx's, not a neighbour's
    assert "hashes to" in str(verify_branch(other.serialize(), tx.txid, good, root))
    assert "leads to" in str(verify_branch(tx.serialize(), tx.txid, good, _flip(root)))


def test_esplora_merkle_proof_answers_parse_and_verify() -> None:
    block = parse_block(_load("block-2011-hex.txt"))
    txids = [t.txid for t in block.txs]
    for pos in (0, 1, 57, len(txids) - 1):
        mine = branch_for(txids, pos)
        # exactly what GET /tx/:txid/merkle-proof answers (Electrum get_merkle, display order)
        body = json.dumps({"block_height": 150000, "merkle": list(mine.siblings), "pos": pos})
        height, branch = parse_esplora_proof(json.loads(body))
        assert height == 150000
        assert branch == mine
        assert branch.root(txids[pos]) == block.header.merkle_root


@pytest.mark.parametrize(
    "answer",
    [
        [],
        {"block_height": -1, "merkle": [], "pos": 0},
        {"block_height": 1, "merkle": "ab", "pos": 0},
        {"block_height": 1, "merkle": ["zz"], "pos": 0},
        {"block_height": 1, "merkle": ["00" * 31], "pos": 0},
        {"block_height": 1, "merkle": [], "pos": True},
        {"merkle": [], "pos": 0},
    ],
)
def test_malformed_merkle_proof_answers_are_refused(answer: object) -> None:
    with pytest.raises(InputError):
        parse_esplora_proof(answer)


def test_duplicate_last_hash_cve_2012_2459_is_refused() -> None:
    block = parse_block(_load("block-2011-hex.txt"))
    txids = [t.txid for t in block.txs]
    if len(txids) % 2 == 0:
        txids = txids[:-1]
    root = merkle_root(txids)
    assert merkle_root([*txids, txids[-1]]) == root  # the weakness itself
    # a proof that the repeated last tx sits one position further on is refused
    ghost = MerkleBranch(len(txids), (txids[-1], *branch_for(txids, len(txids) - 1).siblings[1:]))
    with pytest.raises(InputError, match="duplicates"):
        ghost.root(txids[-1])
    with pytest.raises(InputError, match="twice"):
        branches_for([*txids, txids[-1]])
    with pytest.raises(InputError, match="twice"):
        branch_for([*txids, txids[-1]], 0)
    # the honest last position (paired with its own copy, on the right) is fine
    assert branch_for(txids, len(txids) - 1).root(txids[-1]) == root


def test_a_64_byte_transaction_is_never_accepted() -> None:
    # A 64-byte string is also the concatenation of two tree nodes: refuse it as a leaf.
    left, right = hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()
    node = left + right
    txid = hashlib.sha256(hashlib.sha256(node).digest()).digest()[::-1].hex()
    branch = MerkleBranch(0, (txid,))
    assert verify_branch(node, txid, branch, branch.root(txid)) is not None
    # a well-formed 64-byte tx (1 input, 1 output with a 4-byte script) is refused as well
    raw = (
        (1).to_bytes(4, "little")
        + b"\x01"
        + b"\x11" * 32
        + (0).to_bytes(4, "little")
        + b"\x00"
        + b"\xff" * 4
        + b"\x01"
        + (5).to_bytes(8, "little")
        + b"\x04\x51\x51\x51\x51"
        + (0).to_bytes(4, "little")
    )
    assert len(raw) == 64
    tx = parse_tx(raw)
    good = MerkleBranch(0, (tx.txid,))
    problem = verify_branch(raw, tx.txid, good, good.root(tx.txid))
    assert problem is not None and "64-byte" in problem


def test_header_checks_on_a_real_header() -> None:
    block = parse_block(_load("277647.dat.bz2"))
    raw = block.header.serialize()
    body = _load("277647.dat.bz2")[80:]
    assert header_problem(raw, block.hash, POW_LIMITS["mainnet"]) is None
    assert "hashes to" in str(header_problem(raw, _flip(block.hash), POW_LIMITS["mainnet"]))
    swapped = raw[:76] + (int.from_bytes(raw[76:], "little") + 1).to_bytes(4, "little")
    other = parse_block(bytes(swapped) + body).hash
    assert "own target" in str(header_problem(swapped, other, POW_LIMITS["mainnet"]))
    easy = raw[:72] + (0x207FFFFF).to_bytes(4, "little") + raw[76:]
    easy_hash = parse_block(bytes(easy) + body).hash
    assert "limit" in str(header_problem(easy, easy_hash, POW_LIMITS["mainnet"]))


@pytest.mark.parametrize(
    "file",
    ["mainnet_tx_cached.json", "details_rbf_tx01_api_cached.json", "details_rbf_tx02_api_tx.json"],
)
def test_raw_bytes_rebuilt_from_real_esplora_json_hash_to_the_txid(file: str) -> None:
    obj = json.loads((MEMPOOL / file).read_text())
    raw = raw_tx_from_json(obj)
    assert (
        hashlib.sha256(hashlib.sha256(parse_block_free(raw)).digest()).digest()[::-1].hex()
        == (obj["txid"])
    )
    assert find_tx_json([obj], obj["txid"]) is obj
    tampered = json.loads(json.dumps(obj))
    tampered["vout"][0]["value"] += 1
    assert (
        hashlib.sha256(hashlib.sha256(parse_block_free(raw_tx_from_json(tampered))).digest())
        .digest()[::-1]
        .hex()
        != obj["txid"]
    )


def parse_block_free(raw: bytes) -> bytes:
    """The txid preimage (no witness) of raw tx bytes."""
    return parse_tx(raw).serialize(witness=False)
