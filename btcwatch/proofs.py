"""Inclusion proofs for the transactions a case relies on: derive, fetch, check, store.

Where a proof comes from, cheapest first:

- a stored raw block (block mode keeps the bodies it matched): raw tx, branch, header and the
  BIP34 height all come from the block itself, at no request;
- otherwise the raw tx is rebuilt from the stored Esplora JSON it was parsed from (or, when
  that is not possible, ``/tx/:txid/hex``), the branch is ``/tx/:txid/merkle-proof`` (one
  request per transaction) and the header ``/block/:hash/header`` (one per distinct block).

Everything is stored (m008) and never fetched again. ``check_proof`` is the one judgement that
both the fetcher and ``btcwatch verify`` apply.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from btcwatch.chain.block import parse_header
from btcwatch.chain.merkle import (
    POW_LIMITS,
    MerkleBranch,
    branches_for,
    header_problem,
    verify_branch,
)
from btcwatch.chain.tx import RawBlock, parse_block
from btcwatch.errors import BtcwatchError, InputError, NotFound, ParseError
from btcwatch.providers.base import Capability, Provider, gather_limited
from btcwatch.providers.esplora_raw import find_tx_json, raw_tx_from_json
from btcwatch.store import Store
from btcwatch.store.chaindata import save_evidence
from btcwatch.store.evidence import EvidenceLog
from btcwatch.store.proofs import (
    ConfirmedTx,
    StoredHeader,
    StoredProof,
    confirmed_txs,
    evidence_record,
    headers,
    proofs,
    save_header,
    save_proof,
)

__all__ = ["ProofRun", "check_proof", "ensure_proofs", "pow_limit_for", "proof_status"]


def pow_limit_for(network: str, *, simulated: bool = False) -> int:
    """The proof-of-work limit headers are held to (the simulator mines at regtest's)."""
    return POW_LIMITS["regtest"] if simulated else POW_LIMITS.get(network, POW_LIMITS["mainnet"])


def check_proof(proof: StoredProof, header: StoredHeader | None, pow_limit: int) -> str | None:
    """None when the proof holds: txid from the bytes, branch to a header with enough work."""
    if header is None:
        return f"no header for block {proof.block_hash}"
    if header.height != proof.block_height:
        return f"proof says height {proof.block_height}, header says {header.height}"
    try:
        raw_header = bytes.fromhex(header.header_hex)
    except ValueError:
        return f"header of block {proof.block_hash} is not hex"
    problem = header_problem(raw_header, proof.block_hash, pow_limit)
    if problem:
        return problem
    try:
        raw_tx = bytes.fromhex(proof.raw_hex)
    except ValueError:
        return "raw transaction is not hex"
    root = parse_header(raw_header).merkle_root
    return verify_branch(raw_tx, proof.txid, MerkleBranch(proof.pos, proof.merkle), root)


@dataclass
class ProofRun:
    """What one pass did: proven txids, and why each other one is not proven."""

    proven: set[str] = field(default_factory=set)
    unproven: dict[str, str] = field(default_factory=dict)
    requests: int = 0


def known_proofs(store: Store, txids: Iterable[str]) -> ProofRun:
    """The proofs already stored, for a database that must not be written (an evidence
    bundle's): nothing is derived or fetched, every other tx says why."""
    wanted = sorted(set(txids))
    stored = confirmed_txs(store, wanted)
    run = ProofRun()
    for txid, p in proofs(store, wanted).items():
        if txid in stored and stored[txid].block_hash == p.block_hash:
            run.proven.add(txid)
    for txid in wanted:
        if txid not in run.proven:
            run.unproven[txid] = "no stored proof (read-only database)"
    return run


def proof_status(store: Store, txids: Iterable[str], network: str) -> dict[str, str]:
    """txid -> "proven in block H" or "not proven (why)", from the store alone.

    Headers are held to ``network``'s proof-of-work limit; a header that only meets regtest's
    (the simulator's chain) is named as such and does not count as proven.
    """
    wanted = sorted(set(txids))
    stored = proofs(store, wanted)
    heads = headers(store, {p.block_hash for p in stored.values()})
    known = confirmed_txs(store, wanted)
    limit = pow_limit_for(network)
    status: dict[str, str] = {}
    for txid in wanted:
        proof = stored.get(txid)
        if proof is None:
            tx = known.get(txid)
            why = "unconfirmed" if tx is not None and tx.block_hash is None else "no proof fetched"
            status[txid] = f"not proven ({why})"
            continue
        header = heads.get(proof.block_hash)
        problem = check_proof(proof, header, limit)
        if problem is None:
            status[txid] = f"proven in block {proof.block_height}"
        elif check_proof(proof, header, POW_LIMITS["regtest"]) is None:
            status[txid] = (
                f"not proven (block {proof.block_height} has only regtest proof of work: "
                "a simulated chain)"
            )
        else:
            status[txid] = f"not proven ({problem})"
    return status


_Parsed = tuple[RawBlock, list[str], list[MerkleBranch]]


def _from_raw_block(
    store: Store, tx: ConfirmedTx, body: bytes, run: ProofRun, cache: dict[bytes, _Parsed | None]
) -> bool:
    """Derive and store a tx's proof from the stored raw block it came from; True if it did."""
    key = hashlib.sha256(body).digest()
    if key not in cache:
        try:
            parsed = parse_block(body)
            ids = [t.txid for t in parsed.txs]
            cache[key] = (parsed, ids, branches_for(ids))
        except (ParseError, InputError):
            cache[key] = None
    entry = cache[key]
    if entry is None:
        return False
    block, txids, branches = entry
    if block.header.hash != tx.block_hash or tx.txid not in txids:
        return False
    height = block.height_from_coinbase() if block.header.version >= 2 else None
    source = "bip34"
    if height is None:
        height, source = tx.block_height, "explorer"
    if height is None or height != tx.block_height:
        run.unproven[tx.txid] = f"coinbase height {height} differs from {tx.block_height}"
        return True
    save_header(
        store,
        StoredHeader(block.header.hash, height, block.header.serialize().hex(), source, None),
    )
    pos = txids.index(tx.txid)
    branch = branches[pos]
    raw = block.txs[pos].serialize().hex()
    save_proof(
        store,
        StoredProof(
            tx.txid,
            block.header.hash,
            height,
            pos,
            branch.siblings,
            raw,
            "raw-block",
            tx.evidence_id,
        ),
    )
    return True


def _raw_from_evidence(url: str, body: bytes, txid: str) -> bytes | None:
    if url.endswith(f"/tx/{txid}/hex"):
        try:
            return bytes.fromhex(body.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            return None
    if body[:1] not in (b"{", b"["):
        return None
    try:
        obj = find_tx_json(json.loads(body), txid)
        return None if obj is None else raw_tx_from_json(obj)
    except (ValueError, ParseError):
        return None


class _Fetcher:
    """One tx's raw bytes and branch; after the explorer fails once, the rest are not asked."""

    def __init__(self, store: Store, provider: Provider) -> None:
        self.store, self.provider = store, provider
        self.down: str | None = None

    async def one(self, tx: ConfirmedTx) -> tuple[ConfirmedTx, bytes, int, MerkleBranch] | str:
        assert tx.block_hash is not None
        raw = None
        if tx.evidence_id is not None:
            record = evidence_record(self.store, tx.evidence_id)
            if record is not None:
                raw = _raw_from_evidence(record[0], record[1], tx.txid)
        if self.down is not None:
            return self.down
        try:
            if raw is None:
                raw = await self.provider.tx_raw(tx.txid)
            height, branch = await self.provider.merkle_proof(tx.txid)
        except NotFound as exc:
            return f"explorer: {exc}"
        except BtcwatchError as exc:
            self.down = f"explorer: {exc}"
            return self.down
        return tx, raw, height, branch


async def ensure_proofs(
    store: Store,
    txids: Iterable[str],
    *,
    provider: Provider | None = None,
    log: EvidenceLog | None = None,
) -> ProofRun:
    """Prove every confirmed stored tx in ``txids`` that has no proof yet.

    Stored raw blocks first (no request); then, with a ``provider`` that serves Merkle proofs,
    the explorer. ``log`` is the provider's evidence sink: its responses are archived too.
    Headers are checked here only for their own target (regtest's limit, so the simulator's
    proofs are kept); the network's limit is applied when a proof is judged (`proof_status`,
    ``btcwatch verify``).
    """
    pow_limit = POW_LIMITS["regtest"]
    run = ProofRun()
    wanted = sorted(set(txids))
    stored = confirmed_txs(store, wanted)
    # a proof into a block the tx is no longer in (a reorg since) is proven again
    have = {
        txid: p
        for txid, p in proofs(store, wanted).items()
        if txid in stored and stored[txid].block_hash == p.block_hash
    }
    run.proven.update(have)
    todo: list[ConfirmedTx] = []
    cache: dict[bytes, _Parsed | None] = {}
    for txid in wanted:
        tx = stored.get(txid)
        if txid in have:
            continue
        if tx is None:
            run.unproven[txid] = "not stored"
            continue
        if tx.block_hash is None:
            run.unproven[txid] = "unconfirmed"
            continue
        record = evidence_record(store, tx.evidence_id) if tx.evidence_id is not None else None
        from_block = record is not None and record[0].endswith("/raw") and bool(record[1])
        if from_block and record is not None and _from_raw_block(store, tx, record[1], run, cache):
            if txid not in run.unproven:
                run.proven.add(txid)
            continue
        todo.append(tx)
    if not todo:
        return run
    if provider is None or not provider.supports(Capability.MERKLE_PROOF):
        why = "offline" if provider is None else f"{provider.name} serves no Merkle proofs"
        run.unproven.update({t.txid: why for t in todo})
        return run
    before = provider.requests
    fetcher = _Fetcher(store, provider)
    answers = await gather_limited(todo, fetcher.one)
    blocks = sorted({t.block_hash for t in todo if t.block_hash is not None})
    known = headers(store, blocks)

    async def head(block_hash: str) -> bytes | str:
        if block_hash in known:
            return bytes.fromhex(known[block_hash].header_hex)
        try:
            return await provider.block_header(block_hash)
        except BtcwatchError as exc:
            return f"explorer: {exc}"

    fetched = await gather_limited(blocks, head) if fetcher.down is None else {}
    ids = _archive(store, log)
    for tx, answer in answers.items():
        if isinstance(answer, str):
            run.unproven[tx.txid] = answer
            continue
        _, raw, height, branch = answer
        assert tx.block_hash is not None
        raw_header = fetched.get(tx.block_hash, fetcher.down or "no header")
        if isinstance(raw_header, str):
            run.unproven[tx.txid] = raw_header
            continue
        if height != tx.block_height:
            run.unproven[tx.txid] = f"explorer proof says height {height}, stored {tx.block_height}"
            continue
        header = known.get(tx.block_hash) or StoredHeader(
            tx.block_hash,
            height,
            raw_header.hex(),
            "explorer",
            ids.get(f"/block/{tx.block_hash}/header"),
        )
        proof = StoredProof(
            tx.txid,
            tx.block_hash,
            height,
            branch.pos,
            branch.siblings,
            raw.hex(),
            "esplora",
            ids.get(f"/tx/{tx.txid}/merkle-proof"),
        )
        problem = check_proof(proof, header, pow_limit)
        if problem is not None:
            run.unproven[tx.txid] = problem
            continue
        save_header(store, header)
        known[tx.block_hash] = header
        save_proof(store, proof)
        run.proven.add(tx.txid)
    run.requests = provider.requests - before
    return run


def _archive(store: Store, log: EvidenceLog | None) -> dict[str, int]:
    """Archive the proof responses; path suffix -> evidence id."""
    ids: dict[str, int] = {}
    items = sorted(log.drain(), key=lambda ev: ev.url) if log is not None else []
    with store.write():
        for ev in items:
            ev_id = save_evidence(store, ev)
            for marker in ("/tx/", "/block/"):
                if marker in ev.url:
                    ids[marker + ev.url.split(marker, 1)[1]] = ev_id
    return ids
