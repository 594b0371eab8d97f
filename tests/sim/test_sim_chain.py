"""SimChain: the tip moves, the mempool fills and empties, reorgs and replacements behave."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from simcheck import check_chain, make_chain

from btcwatch.chain.address import Address
from btcwatch.chain.tx import RawTx, RawTxIn, RawTxOut, parse_block
from btcwatch.errors import InputError
from btcwatch.sim.chain import SimChain
from btcwatch.sim.scenarios import VastaamoScenario


def replay(chain: SimChain) -> None:
    """The best chain as served is still byte-valid and consistent."""
    blocks = list(chain.best_blocks())
    check_chain((b.serialize() for b in blocks), blocks[0].height, chain.network)


def recomputed_stats(chain: SimChain) -> dict[bytes, tuple[int, int, int, int, int]]:
    """Per-script funded/spent counts and sums, recomputed from the served raw blocks."""
    outputs: dict[tuple[str, int], tuple[bytes, int]] = {}
    stats: dict[bytes, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for rec in chain.best_blocks():
        for tx in parse_block(rec.serialize()).txs:
            touched = set()
            for txin in tx.inputs:
                if txin.is_coinbase:
                    continue
                script, value = outputs[(txin.prev_txid, txin.prev_vout)]
                stats[script][2] += 1
                stats[script][3] += value
                touched.add(script)
            for vout, out in enumerate(tx.outputs):
                outputs[(tx.txid, vout)] = (out.script, out.value)
                stats[out.script][0] += 1
                stats[out.script][1] += out.value
                touched.add(out.script)
            for script in touched:
                stats[script][4] += 1
    return {s: (a, b, c, d, e) for s, (a, b, c, d, e) in stats.items()}


def assert_index_consistent(chain: SimChain) -> None:
    for script, expected in recomputed_stats(chain).items():
        rec = chain.address(script)
        assert rec is not None
        got = chain.chain_stats(rec)
        assert (
            got.funded_txo_count,
            got.funded_txo_sum,
            got.spent_txo_count,
            got.spent_txo_sum,
            got.tx_count,
        ) == expected


def payments(truth: dict[str, Any]) -> list[dict[str, Any]]:
    confirmed = [p for p in truth["payments"] if p["height"] is not None]
    return sorted(confirmed, key=lambda p: p["height"])


def test_starts_just_before_the_first_payment(chain: SimChain, truth: dict[str, Any]) -> None:
    assert chain.tip_height == truth["start_tip_height"]
    for p in truth["payments"]:
        entry = chain.tx(p["txid"])
        assert entry is None or entry.status == "mempool"


def test_next_block_waits_in_the_mempool(chain: SimChain, blocks: list[Any]) -> None:
    upcoming = next(b for b in blocks if b.height == chain.tip_height + 1 and not b.stale)
    txids = [tx.txid for tx in upcoming.txs[1:]]
    assert txids
    assert all(chain.tx(t).status == "mempool" for t in txids)  # type: ignore[union-attr]
    chain.advance()
    assert chain.tip_hash == upcoming.hash
    assert all(chain.tx(t).status == "confirmed" for t in txids)  # type: ignore[union-attr]
    assert not {e.txid for e in chain.mempool()} & set(txids)


def test_early_mode_shows_only_early_broadcasts(
    small: VastaamoScenario, truth: dict[str, Any]
) -> None:
    chain = make_chain(small, mempool="early")
    early = truth["mempool_early"][0]
    chain.advance_to(early["seen_height"] - 1)
    assert chain.tx(early["txid"]) is None
    chain.advance()
    assert chain.tx(early["txid"]).status == "mempool"  # type: ignore[union-attr]
    chain.advance_to(early["height"] - 1)
    assert chain.tx(early["txid"]).status == "mempool"  # type: ignore[union-attr]
    chain.advance()
    assert chain.tx(early["txid"]).block.height == early["height"]  # type: ignore[union-attr]
    ordinary = next(p for p in payments(truth) if p["height"] > chain.tip_height + 1)
    chain.advance_to(ordinary["height"] - 1)
    assert chain.tx(ordinary["txid"]) is None


def test_the_planned_stale_block_is_orphaned(chain: SimChain, truth: dict[str, Any]) -> None:
    reorg = truth["reorg"]
    chain.advance_to(reorg["height"])
    assert chain.tip_hash == reorg["stale_block_hash"]
    assert chain.tx(reorg["txid"]).block.height == reorg["height"]  # type: ignore[union-attr]
    chain.advance()
    assert chain.tip_height == reorg["height"] + 1
    assert chain.block_at(reorg["height"]).hash == reorg["best_block_hash"]  # type: ignore[union-attr]
    entry = chain.tx(reorg["txid"])
    assert entry is not None and entry.block is not None
    assert entry.block.height == reorg["best_confirmed_height"]
    stale = chain.block(reorg["stale_block_hash"])
    assert stale is not None and not stale.best
    replay(chain)


def test_the_planned_fee_replacement(chain: SimChain, truth: dict[str, Any]) -> None:
    rbf = truth["rbf"]
    chain.advance_to(rbf["seen_height"] - 1)
    assert chain.tx(rbf["replaced_txid"]) is None
    chain.advance()
    assert chain.tx(rbf["replaced_txid"]).status == "mempool"  # type: ignore[union-attr]
    chain.advance_to(rbf["replaced_at_height"])
    assert chain.tx(rbf["replaced_txid"]) is None
    assert chain.tx(rbf["replacement_txid"]).status == "mempool"  # type: ignore[union-attr]
    chain.advance()
    assert chain.tx(rbf["replacement_txid"]).block.height == rbf["confirmed_height"]  # type: ignore[union-attr]


def test_reorg_returns_dropped_txs_to_the_mempool(
    chain: SimChain, truth: dict[str, Any], small: VastaamoScenario
) -> None:
    payment = payments(truth)[2]
    chain.advance_to(payment["height"] + 1)
    old = [chain.block_at(h).hash for h in (payment["height"], payment["height"] + 1)]  # type: ignore[union-attr]
    script = Address.parse(payment["address"], small.network).script
    new = chain.reorg(2, [payment["txid"]])
    assert chain.tip_height == payment["height"] + 1
    assert new != old and chain.tip_hash == new[-1]
    assert all(not chain.block(h).best for h in old)  # type: ignore[union-attr]
    assert chain.tx(payment["txid"]).status == "mempool"  # type: ignore[union-attr]
    rec = chain.address(script)
    assert rec is not None
    assert chain.chain_stats(rec).funded_txo_sum == 0
    assert chain.mempool_stats(rec).funded_txo_sum == payment["value_sat"]
    chain.advance()
    assert chain.tx(payment["txid"]).block.height == chain.tip_height  # type: ignore[union-attr]
    assert chain.chain_stats(rec).funded_txo_sum == payment["value_sat"]
    replay(chain)
    assert_index_consistent(chain)


def test_reorg_can_make_a_payment_vanish_with_its_descendants(
    chain: SimChain, truth: dict[str, Any]
) -> None:
    payment = payments(truth)[0]
    sweep = next(
        s for s in truth["sweeps"] if f"{payment['txid']}:{payment['vout']}" in s["outpoints"]
    )
    chain.advance_to(payment["height"])
    chain.reorg(1, [payment["txid"]], dropped="vanish")
    assert chain.tx(payment["txid"]) is None
    assert chain.any_tx(payment["txid"]).status == "gone"  # type: ignore[union-attr]
    chain.advance_to(chain.last_planned_height)
    for txid in (sweep["txid"], truth["merge_txid"], truth["coinjoin_txid"]):
        assert chain.tx(txid) is None
    replay(chain)
    assert_index_consistent(chain)


def test_replace_by_fee_on_demand(chain: SimChain) -> None:
    target = chain.mempool()[0]
    old_fee = target.fee
    new_txid = chain.replace(target.txid)
    assert chain.tx(target.txid) is None
    replacement = chain.tx(new_txid)
    assert replacement is not None and replacement.status == "mempool"
    assert replacement.fee > old_fee
    assert replacement.ins == target.ins
    chain.advance()
    assert chain.tx(new_txid).status == "confirmed"  # type: ignore[union-attr]
    chain.advance(30)
    replay(chain)
    assert_index_consistent(chain)


def test_replace_refuses_what_is_not_in_the_mempool(chain: SimChain) -> None:
    confirmed = chain.tip.entries[-1].txid
    with pytest.raises(InputError, match="not in the mempool"):
        chain.replace(confirmed)
    with pytest.raises(InputError, match="more than"):
        chain.replace(chain.mempool()[0].txid, fee=0)


def test_reorg_refuses_bad_requests(chain: SimChain) -> None:
    with pytest.raises(InputError, match="depth"):
        chain.reorg(0)
    with pytest.raises(InputError, match="not in the last"):
        chain.reorg(1, ["00" * 32])


def test_advancing_past_the_plan_mines_what_is_left(chain: SimChain) -> None:
    end = chain.last_planned_height
    chain.advance_to(end + 3)
    assert chain.tip_height == end + 3
    assert len(chain.tip.entries) == 1
    replay(chain)


def test_broadcast_accepts_a_spend_and_refuses_nonsense(
    chain: SimChain, truth: dict[str, Any], small: VastaamoScenario
) -> None:
    hot = truth["exchanges"][2]["hot_wallets"][0]
    rec = chain.address(Address.parse(hot, small.network).script)
    assert rec is not None
    entry, vout, value = chain.utxos(rec)[0]
    txin = RawTxIn(entry.txid, vout, b"", 0xFFFFFFFD, (bytes(71), bytes(33)))
    tx = RawTx(2, (txin,), (RawTxOut(value - 5_000, rec.script),), 0)
    assert chain.broadcast(tx.serialize().hex()) == tx.txid
    assert chain.tx(tx.txid).status == "mempool"  # type: ignore[union-attr]
    chain.advance()
    assert chain.tx(tx.txid).status == "confirmed"  # type: ignore[union-attr]
    with pytest.raises(InputError, match="conflicts"):
        double = RawTx(2, (txin,), (RawTxOut(value - 9_000, rec.script),), 0)
        chain.broadcast(double.serialize().hex())
    with pytest.raises(InputError, match="missing inputs"):
        orphan = RawTx(2, (RawTxIn("11" * 32, 0, b"", 0, (b"x",)),), tx.outputs, 0)
        chain.broadcast(orphan.serialize().hex())
    replay(chain)


def test_start_options(small: VastaamoScenario) -> None:
    end = make_chain(small, tip="end")
    assert end.tip_height == end.last_planned_height
    assert not end.mempool()
    first = make_chain(small, tip=None)
    assert first.tip_height == first.base_height
    with pytest.raises(InputError, match="outside"):
        make_chain(small, tip=1)


def test_from_scenario_starts_where_the_scenario_says(small: VastaamoScenario) -> None:
    chain = SimChain.from_scenario(small)
    assert chain.tip_height == small.default_tip()
    assert chain.state()["mempool_count"] == len(chain.mempool()) > 0
