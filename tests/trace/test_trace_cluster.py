"""Common-input clustering: merges, CoinJoin skipping, deterministic ids, real data."""

from __future__ import annotations

import random

import pytest
from tracedata import address, block_txs, make_tx, wannacry

from btcwatch.errors import InputError
from btcwatch.model import Tx
from btcwatch.trace.cluster import cluster_addresses


def _sweep_flow() -> tuple[list[str], list[Tx]]:
    """Three ransom addresses paid by victims, then swept in two txs that overlap on R2."""
    ransom = [address("p2pkh", f"ransom{i}") for i in range(3)]
    payments = [
        make_tx(
            f"pay{i}",
            [(5_000_000, f"victim{i}", "p2pkh")],
            [(3_000_000, f"ransom{i % 3}", "p2pkh"), (1_990_000, f"victim{i}", "p2pkh")],
        )
        for i in range(6)
    ]
    sweep_a = make_tx(
        "sweep-a",
        [
            (3_000_000, "ransom0", "p2pkh"),
            (3_000_000, "ransom1", "p2pkh"),
            (3_000_000, "ransom0", "p2pkh"),
        ],
        [(8_990_000, "crook-wallet", "p2pkh")],
        prevouts=[payments[0].outpoint(0), payments[1].outpoint(0), payments[3].outpoint(0)],
    )
    sweep_b = make_tx(
        "sweep-b",
        [(3_000_000, "ransom1", "p2pkh"), (3_000_000, "ransom2", "p2pkh")],
        [(5_990_000, "crook-wallet", "p2pkh")],
        prevouts=[payments[4].outpoint(0), payments[2].outpoint(0)],
    )
    return ransom, [*payments, sweep_a, sweep_b]


def test_ransom_addresses_swept_together_end_in_one_cluster() -> None:
    ransom, txs = _sweep_flow()
    clusters = cluster_addresses(txs)
    ids = {clusters.cluster_of(a) for a in ransom}
    assert len(ids) == 1
    (cid,) = ids
    assert clusters.members(cid) == frozenset(ransom)
    sweep_txids = {tx.txid for tx in txs[-2:]}
    assert set(clusters.txids(cid)) == sweep_txids  # the evidence for the merge
    assert clusters.same_owner(ransom[0], ransom[2])
    # victims are not merged with the ransom addresses or each other
    victim = address("p2pkh", "victim0")
    assert not clusters.same_owner(victim, ransom[0])
    assert clusters.members(clusters.cluster_of(victim)) == {victim}
    finding = clusters.finding(cid)
    assert finding.fact("addresses") == 3
    assert finding.fact("linking_txs") == 2
    assert finding.subject == min(ransom)


def test_ids_are_deterministic_whatever_the_order() -> None:
    _, txs = _sweep_flow()
    first = cluster_addresses(txs)
    shuffled = list(txs)
    random.Random(7).shuffle(shuffled)
    second = cluster_addresses(shuffled)
    assert [first.members(c) for c in first] == [second.members(c) for c in second]
    assert first.sizes() == second.sizes()
    representatives = [first.representative(c) for c in first]
    assert representatives == sorted(representatives)  # numbered by smallest address


def test_coinjoins_are_not_clustered() -> None:
    whirlpool = next(tx for label, tx in block_txs() if label == "whirlpool")
    clusters = cluster_addresses([whirlpool])
    owners = {txin.prev_address for txin in whirlpool.inputs}
    assert len({clusters.cluster_of(a) for a in owners if a}) == 5
    assert clusters.skipped == {whirlpool.txid: "coinjoin:whirlpool"}
    merged = cluster_addresses([whirlpool], skip_coinjoins=False)
    assert len({merged.cluster_of(a) for a in owners if a}) == 1


def test_max_inputs_skips_big_txs() -> None:
    tx = make_tx("big", [(10_000, f"in{i}") for i in range(20)], [(190_000, "out")])
    assert len(cluster_addresses([tx])) == 1 + 1  # one merged cluster + the output
    limited = cluster_addresses([tx], max_inputs=10)
    assert len(limited) == 21
    assert limited.skipped == {tx.txid: "too_many_inputs"}


def test_outputs_are_singletons_unless_excluded() -> None:
    tx = make_tx("pay", [(10_000, "a"), (20_000, "b")], [(25_000, "c")])
    clusters = cluster_addresses([tx])
    assert address("p2wpkh", "c") in clusters
    without = cluster_addresses([tx], include_outputs=False)
    assert address("p2wpkh", "c") not in without
    assert len(without) == 1


def test_unknown_address_and_cluster_are_input_errors() -> None:
    clusters = cluster_addresses([make_tx("x", [(1, "a")], [(1, "b")])])
    with pytest.raises(InputError, match="not in any clustered"):
        clusters.cluster_of("1BoatSLRHtKNngkdXEeobR76b53LETtpyT")
    assert clusters.get("nope") is None
    with pytest.raises(InputError, match="no cluster 5"):
        clusters.members(5)


def test_wannacry_ransom_addresses_were_never_spent_together() -> None:
    ransom, txs = wannacry()
    clusters = cluster_addresses(txs.values())
    assert len({clusters.cluster_of(a) for a in ransom}) == 3
    for a in ransom:  # each cash-out spent one address only: no co-spending evidence
        assert clusters.members(clusters.cluster_of(a)) == {a}
    # victims who paid from several addresses at once did get merged
    assert max(clusters.sizes().values()) > 1


def test_long_merge_chain_is_one_cluster() -> None:
    txs = [
        make_tx(f"link{i}", [(1, f"addr{i}"), (1, f"addr{i + 1}")], [(1, f"out{i}")])
        for i in range(3_000)
    ]
    clusters = cluster_addresses(txs, include_outputs=False)
    assert len(clusters) == 1
    assert len(clusters.txids(0)) == 3_000
