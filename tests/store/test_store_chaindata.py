"""store/chaindata: transactions in and out, refreshed not duplicated, spenders and block times.

Real data: two recorded mainnet transactions (breez-esplora, see tests/data/recorded/
PROVENANCE.md); 5e0668bf... spends output 0 of 07c9d3fb..., both confirmed.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from btcwatch.model import OutPoint, Tx
from btcwatch.providers.esplora import parse_tx
from btcwatch.store import Store
from btcwatch.store.chaindata import (
    block_times,
    load_txs,
    save_txs,
    spender_of,
    stored_spender,
)

RECORDED = Path(__file__).resolve().parents[1] / "data" / "recorded" / "breez-esplora"
PAGE = RECORDED / "address_bc1qvhykeqcpdzu0pdvy99xnh9ckhwzcfskct6h6l2_txs.json"


def recorded() -> dict[str, Tx]:
    txs = [parse_tx(obj) for obj in json.loads(PAGE.read_text())]
    return {tx.txid[:8]: tx for tx in txs}


@pytest.fixture
def txs() -> dict[str, Tx]:
    return recorded()


def count(store: Store, table: str) -> int:
    return int(store.database_for_tests().table(table).count)


def test_saved_transactions_load_back_equal_with_their_prevouts(
    store: Store, txs: dict[str, Tx]
) -> None:
    assert save_txs(store, txs.values()) == 2
    loaded = load_txs(store, [tx.txid for tx in txs.values()])
    assert loaded == {tx.txid: tx for tx in txs.values()}
    spend = loaded[txs["5e0668bf"].txid]
    assert [i.prev_value for i in spend.inputs] == [i.prev_value for i in txs["5e0668bf"].inputs]
    assert all(i.prev_script is not None for i in spend.inputs)
    assert spend.size == txs["5e0668bf"].size and spend.weight == txs["5e0668bf"].weight


def test_saving_again_refreshes_and_never_duplicates(store: Store, txs: dict[str, Tx]) -> None:
    save_txs(store, txs.values())
    rows = (count(store, "transactions"), count(store, "tx_inputs"), count(store, "tx_outputs"))
    assert rows == (2, 5, 4)
    assert save_txs(store, txs.values()) == 2
    assert (
        count(store, "transactions"),
        count(store, "tx_inputs"),
        count(store, "tx_outputs"),
    ) == rows


def test_a_confirmation_updates_the_block_of_a_tx_first_seen_unconfirmed(
    store: Store, txs: dict[str, Tx]
) -> None:
    tx = txs["5e0668bf"]
    save_txs(store, [replace(tx, block=None)])
    assert load_txs(store, [tx.txid])[tx.txid].block is None
    save_txs(store, [tx])
    assert tx.block is not None
    assert load_txs(store, [tx.txid])[tx.txid].block == tx.block


def test_unknown_txids_are_absent_also_beyond_one_query_chunk(
    store: Store, txs: dict[str, Tx]
) -> None:
    save_txs(store, txs.values())
    unknown = [f"{n:064x}" for n in range(1, 1200)]  # three IN (...) chunks of 500
    wanted = [*unknown[:700], txs["07c9d3fb"].txid, *unknown[700:], txs["5e0668bf"].txid]
    assert set(load_txs(store, wanted)) == {txs["07c9d3fb"].txid, txs["5e0668bf"].txid}
    assert load_txs(store, unknown) == {}


def test_stored_spender_names_only_a_confirmed_spend(store: Store, txs: dict[str, Tx]) -> None:
    funding, spend = txs["07c9d3fb"], txs["5e0668bf"]
    paid = OutPoint(funding.txid, 0)
    save_txs(store, [funding, replace(spend, block=None)])
    assert spender_of(store, paid) == spend.txid  # any stored spend
    assert stored_spender(store, paid) is None  # not yet confirmed
    save_txs(store, [spend])
    assert stored_spender(store, paid) == spend.txid
    assert stored_spender(store, OutPoint(funding.txid, 1)) is None
    assert stored_spender(store, OutPoint("ab" * 32, 0)) is None


def test_block_times_of_the_confirmed_stored_ones_only(store: Store, txs: dict[str, Tx]) -> None:
    funding, spend = txs["07c9d3fb"], txs["5e0668bf"]
    save_txs(store, [funding, replace(spend, block=None)])
    assert funding.block is not None
    times = block_times(store, [funding.txid, spend.txid, "cd" * 32])
    assert times == {funding.txid: funding.block.time}


def test_evidence_link_is_kept_when_a_later_save_has_none(store: Store, txs: dict[str, Tx]) -> None:
    from btcwatch.store.evidence import tx_evidence

    tx = txs["07c9d3fb"]
    save_txs(store, [tx], evidence=None)
    assert tx_evidence(store, [tx.txid])[tx.txid].id is None
    db = store.database_for_tests()
    db.table("evidence").insert(
        {"provider": "p", "url": "u", "fetched_at": "t", "status": 200, "sha256": "s", "body": b""}
    )
    save_txs(store, [tx], evidence={tx.txid: 1})
    save_txs(store, [tx], evidence=None)
    assert tx_evidence(store, [tx.txid])[tx.txid].id == 1
