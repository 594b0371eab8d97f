"""Merkle inclusion proofs: the branch from a txid to its block header's Merkle root.

A branch is what Esplora's ``/tx/:txid/merkle-proof`` answers (Electrum's ``get_merkle``
format): the sibling hashes from the leaf upwards, in display order, plus the position of the
transaction in the block. Two known weaknesses are refused rather than trusted:

- CVE-2012-2459: a level with an odd count pairs its last hash with itself, so a block whose
  last txids repeat has the same root as one without. A branch whose sibling equals the node it
  is paired with on the left is a duplicated pair and is accepted only where the duplication is
  forced (the node is last on its level); ``branch_for`` never produces another.
- 64-byte "transactions": the inner nodes of the tree are 64-byte concatenations, so a 64-byte
  string can pass as a leaf. A branch is never accepted for raw bytes of that length.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from btcwatch.chain.block import compact_to_target, parse_header
from btcwatch.errors import InputError, ParseError

#: Raw bytes of this length could be an inner node of the tree posing as a transaction.
AMBIGUOUS_TX_SIZE = 64


def _sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def _le(text: str, what: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise InputError(f"{what} is not hex: {text[:70]!r}") from None
    if len(raw) != 32:
        raise InputError(f"{what} must be 32 bytes (64 hex digits), got {len(raw)}")
    return raw[::-1]


@dataclass(frozen=True, slots=True)
class MerkleBranch:
    """A txid's position in its block and the sibling hashes up to the root (display order)."""

    pos: int
    siblings: tuple[str, ...]

    def root(self, txid: str) -> str:
        """The Merkle root this branch leads to from ``txid`` (InputError on a bad shape)."""
        if self.pos < 0 or self.pos >= 1 << len(self.siblings):
            raise InputError(f"position {self.pos} does not fit a branch of {len(self.siblings)}")
        node = _le(txid, "txid")
        index = self.pos
        for depth, text in enumerate(self.siblings):
            sibling = _le(text, f"branch hash {depth}")
            if index & 1:
                if sibling == node:
                    # Only a duplicated last node pairs with itself, and it is always on the right.
                    raise InputError(f"branch hash {depth} duplicates its left partner")
                node = _sha256d(sibling + node)
            else:
                node = _sha256d(node + sibling)
            index >>= 1
        return node[::-1].hex()

    def to_json(self) -> dict[str, object]:
        return {"pos": self.pos, "merkle": list(self.siblings)}


def branch_for(txids: Sequence[str], pos: int) -> MerkleBranch:
    """The branch for the transaction at ``pos`` among a block's ``txids`` (in block order)."""
    if not 0 <= pos < len(txids):
        raise InputError(f"position {pos} is outside a block of {len(txids)} transactions")
    level = [_le(t, "txid") for t in txids]
    if len(set(level)) != len(level):
        raise InputError("the block lists a txid twice (CVE-2012-2459 duplicate)")
    siblings: list[str] = []
    index = pos
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        siblings.append(level[index ^ 1][::-1].hex())
        level = [_sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        index >>= 1
    return MerkleBranch(pos, tuple(siblings))


def branches_for(txids: Sequence[str]) -> list[MerkleBranch]:
    """Every transaction's branch in one pass over the tree (block mode holds whole blocks)."""
    level = [_le(t, "txid") for t in txids]
    if not level:
        raise InputError("a block needs at least one transaction")
    if len(set(level)) != len(level):
        raise InputError("the block lists a txid twice (CVE-2012-2459 duplicate)")
    paths: list[list[str]] = [[] for _ in level]
    members: list[list[int]] = [[i] for i in range(len(level))]
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
            members.append([])
        for i, group in enumerate(members):
            sibling = level[i ^ 1][::-1].hex()
            for leaf in group:
                paths[leaf].append(sibling)
        level = [_sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        members = [members[i] + members[i + 1] for i in range(0, len(members), 2)]
    return [MerkleBranch(i, tuple(p)) for i, p in enumerate(paths)]


def verify_branch(raw_tx: bytes, txid: str, branch: MerkleBranch, merkle_root: str) -> str | None:
    """None when ``raw_tx`` hashes to ``txid`` and the branch leads to ``merkle_root``.

    Otherwise the reason, in words fit for a verification report.
    """
    from btcwatch.chain.tx import parse_tx
    from btcwatch.errors import ParseError

    try:
        base = parse_tx(raw_tx).serialize(witness=False)
    except ParseError as exc:
        return f"the raw transaction does not parse: {exc}"
    if len(base) == AMBIGUOUS_TX_SIZE:
        return "a 64-byte transaction is ambiguous with an inner Merkle node; not accepted"
    computed = _sha256d(base)[::-1].hex()
    if computed != txid:
        return f"the raw transaction hashes to {computed}, not {txid}"
    try:
        root = branch.root(txid)
    except InputError as exc:
        return f"the Merkle branch is malformed: {exc}"
    if root != merkle_root:
        return f"the Merkle branch leads to {root}, not the header's root {merkle_root}"
    return None


def parse_esplora_proof(obj: object) -> tuple[int, MerkleBranch]:
    """``/tx/:txid/merkle-proof`` (``{block_height, merkle: [hex...], pos}``) -> height, branch."""
    if not isinstance(obj, dict):
        raise InputError("a merkle proof must be a JSON object")
    height, merkle, pos = obj.get("block_height"), obj.get("merkle"), obj.get("pos")
    if isinstance(height, bool) or not isinstance(height, int) or height < 0:
        raise InputError(f"merkle proof block_height is {height!r}, expected an int >= 0")
    if isinstance(pos, bool) or not isinstance(pos, int) or pos < 0:
        raise InputError(f"merkle proof pos is {pos!r}, expected an int >= 0")
    if not isinstance(merkle, list) or not all(isinstance(h, str) for h in merkle):
        raise InputError("merkle proof merkle must be a list of hex hashes")
    for i, text in enumerate(merkle):
        _le(text, f"merkle[{i}]")
    return height, MerkleBranch(pos, tuple(h.lower() for h in merkle))


#: The easiest target each network allows (Bitcoin Core's ``powLimit``). The simulator mines at
#: regtest difficulty whatever the address network, so a simulated case is checked as regtest.
POW_LIMITS: dict[str, int] = {
    "mainnet": 0x00000000FFFF << 208,
    "testnet": 0x00000000FFFF << 208,
    "signet": 0x00000377AE << 208,
    "regtest": 0x7FFFFF << 232,
}


def header_problem(header: bytes, block_hash: str, pow_limit: int) -> str | None:
    """None when the 80 bytes hash to ``block_hash`` and carry enough proof of work."""
    try:
        parsed = parse_header(header)
        target = compact_to_target(parsed.bits)
    except ParseError as exc:
        return f"header of block {block_hash} is malformed: {exc}"
    if parsed.hash != block_hash:
        return f"header stored for block {block_hash} hashes to {parsed.hash}"
    if target > pow_limit:
        return f"block {block_hash} claims a target above the network's proof-of-work limit"
    if int(parsed.hash, 16) > target:
        return f"block {block_hash} does not meet its own target"
    return None
