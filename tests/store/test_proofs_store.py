"""Inclusion proofs from stored raw blocks (no request), offline marking, and the m008 tables."""

from __future__ import annotations

import asyncio
import bz2
import hashlib
from pathlib import Path

from btcwatch.chain.tx import parse_block, unframe_block
from btcwatch.model import BlockRef, Evidence, OutPoint, Tx, TxIn, TxOut
from btcwatch.proofs import ensure_proofs, proof_status
from btcwatch.store import Store
from btcwatch.store.chaindata import save_evidence, save_txs
from btcwatch.store.proofs import headers, proofs

BLOCK = Path(__file__).resolve().parents[1] / "data" / "blocks" / "277647.dat.bz2"


def _stored_block(store: Store) -> tuple[list[str], str]:
    """Block 277647 archived as a raw-block answer, three of its txs stored from it."""
    body = unframe_block(bz2.decompress(BLOCK.read_bytes()))
    block = parse_block(body)
    url = f"https://esplora.test/api/block/{block.hash}/raw"

    ev = Evidence("esplora.test", url, "2026-01-01T00:00:00Z", 200,
                  hashlib.sha256(body).hexdigest(), body)  # fmt: skip
    ev_id = save_evidence(store, ev)
    chosen = [block.txs[0], block.txs[1], block.txs[-1]]
    ref = BlockRef(277647, block.hash, block.header.time)
    txs = [
        Tx(
            t.txid, t.version, t.locktime,
            tuple(TxIn(None if i.is_coinbase else OutPoint(i.prev_txid, i.prev_vout), i.sequence)
                  for i in t.inputs),
            tuple(TxOut(o.value, o.script, None) for o in t.outputs),
            ref,
        )
        for t in chosen
    ]  # fmt: skip
    save_txs(store, txs, ev_id)
    return [t.txid for t in chosen], block.hash


def test_proofs_come_from_a_stored_raw_block_with_its_bip34_height(store: Store) -> None:
    txids, block_hash = _stored_block(store)
    run = asyncio.run(ensure_proofs(store, [*txids, "ab" * 32]))  # no provider: offline
    assert run.proven == set(txids) and run.requests == 0
    assert run.unproven == {"ab" * 32: "not stored"}
    stored = proofs(store, txids)
    assert {p.source for p in stored.values()} == {"raw-block"}
    assert headers(store)[block_hash].height_source == "bip34"
    status = proof_status(store, txids, "mainnet")
    assert set(status.values()) == {"proven in block 277647"}
    # a regtest-only limit would call real mainnet work fine too; a testnet case as well
    assert set(proof_status(store, txids, "testnet").values()) == {"proven in block 277647"}


def test_without_a_raw_block_and_offline_nothing_is_proven(store: Store) -> None:
    tx = Tx("cd" * 32, 1, 0, (TxIn(OutPoint("ef" * 32, 0), 0),), (TxOut(1, b"\x51", None),),
            BlockRef(5, "11" * 32, 0))  # fmt: skip
    save_txs(store, [tx])
    run = asyncio.run(ensure_proofs(store, [tx.txid]))
    assert run.unproven == {tx.txid: "offline"}
    assert proof_status(store, [tx.txid], "mainnet") == {tx.txid: "not proven (no proof fetched)"}


def test_m008_is_applied(store: Store) -> None:
    names = set(store.database_for_tests().table_names())
    assert {"tx_proofs", "block_headers"} <= names
