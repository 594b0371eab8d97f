"""Every generated block is byte-valid and the chain is consistent (replayed independently)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from simcheck import ADDRESS_TYPES, check_chain

from btcwatch.chain.tx import parse_block
from btcwatch.sim.blocks import PlannedBlock, estimated_height, subsidy
from btcwatch.sim.scenarios import VastaamoScenario, vastaamo


def best(blocks: list[PlannedBlock]) -> list[PlannedBlock]:
    return [b for b in blocks if not b.stale]


def test_best_chain_replays_cleanly(blocks: list[PlannedBlock], small: VastaamoScenario) -> None:
    chain = best(blocks)
    report = check_chain((b.serialize() for b in chain), chain[0].height, small.network)
    assert report.blocks == len(chain)
    assert report.txs == sum(len(b.txs) for b in chain)
    assert report.tip_hash == chain[-1].hash
    assert report.types == ADDRESS_TYPES  # P2PKH, P2SH, P2WPKH, P2WSH and P2TR all occur


def test_parsed_blocks_match_the_plan(blocks: list[PlannedBlock]) -> None:
    for planned in blocks:
        parsed = parse_block(planned.serialize())
        assert parsed.hash == planned.hash
        assert [tx.txid for tx in parsed.txs] == [tx.txid for tx in planned.txs]
        assert [tx.wtxid for tx in parsed.txs] == [tx.wtxid for tx in planned.txs]


def test_heights_and_times(blocks: list[PlannedBlock], truth: dict[str, Any]) -> None:
    chain = best(blocks)
    assert [b.height for b in chain] == list(range(chain[0].height, chain[-1].height + 1))
    assert all(b.time - a.time == 600 for a, b in pairwise(chain))
    emails = next(b for b in chain if b.height == truth["emails_height"])
    assert (
        emails.time
        == truth["emails_time"]
        == int(datetime(2020, 10, 24, 8, tzinfo=UTC).timestamp())
    )
    # Near the real height of the date (mainnet block 654,000 was mined on 2020-10-21).
    assert abs(truth["emails_height"] - 654_500) < 1_500


def test_the_stale_block_is_valid_too(blocks: list[PlannedBlock], truth: dict[str, Any]) -> None:
    index = next(i for i, b in enumerate(blocks) if b.stale)
    stale, sibling = blocks[index], blocks[index + 1]
    assert stale.height == sibling.height == truth["reorg"]["height"]
    assert stale.header.prev_hash == sibling.header.prev_hash
    assert stale.hash == truth["reorg"]["stale_block_hash"] != sibling.hash
    parsed = parse_block(stale.serialize())
    assert parsed.header.meets_target()
    assert parsed.header.merkle_root == parsed.computed_merkle_root()
    assert parsed.height_from_coinbase() == stale.height
    assert truth["reorg"]["txid"] in {tx.txid for tx in parsed.txs}


def test_height_estimate_and_subsidy() -> None:
    assert abs(estimated_height(datetime(2020, 10, 21, tzinfo=UTC)) - 654_000) < 1_000
    assert estimated_height(datetime(2009, 1, 3, tzinfo=UTC)) == 0
    assert subsidy(654_000) == 625_000_000
    assert subsidy(0) == 50 * 100_000_000
    assert subsidy(840_000) == 312_500_000


def test_three_hundred_victims_replay_cleanly() -> None:
    scenario = vastaamo(victims=300, seed=7, background=4)
    chain = best(list(scenario.iter_blocks()))
    report = check_chain((b.serialize() for b in chain), chain[0].height, scenario.network)
    truth = scenario.ground_truth()
    assert report.txs == truth["tx_count"]
    assert len(truth["ransom_addresses"]) == 300
    kinds = {p["kind"] for p in truth["payments"]}
    assert kinds == {"on_time", "late", "partial", "double", "rbf_replaced", "rbf_replacement"}


def test_public_api_is_exported() -> None:
    import btcwatch.sim

    assert set(btcwatch.sim.__all__) <= set(dir(btcwatch.sim))
    assert btcwatch.sim.SCENARIOS["vastaamo"] is btcwatch.sim.vastaamo
