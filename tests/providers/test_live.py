"""Opt-in checks against the real public explorers (never run by default or in CI).

    BTCWATCH_LIVE=1 .venv/bin/pytest -m network tests/providers/test_live.py

They check that the recorded formats still hold: the same WannaCry payment through
mempool.space, blockstream.info and blockchain.info gives the same Tx, and the ransom
addresses' totals are at least what was recorded in 2017.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from provider_fakes import WANNACRY_ADDRESSES, wannacry, without_block_hash

from btcwatch.providers import Provider, make_pool, make_provider
from btcwatch.providers.pool import Disagreement, tx_differences

pytestmark = [
    pytest.mark.network,
    pytest.mark.enable_socket,
    pytest.mark.skipif(os.environ.get("BTCWATCH_LIVE") != "1", reason="set BTCWATCH_LIVE=1"),
]

T = TypeVar("T")
# The oldest recorded payment to 115p7UMM...: one input, so blockchain.info needs 2 requests.
PAYMENT = next(t for t in reversed(wannacry(1)["txs"]) if len(t["inputs"]) == 1)


def live(spec: str, use: Callable[[Provider], Awaitable[T]]) -> T:
    async def go() -> T:
        async with make_provider(spec) as p:
            return await use(p)

    return asyncio.run(go())


@pytest.mark.parametrize("spec", ["mempool", "blockstream"])
def test_esplora_tip_and_tx(spec: str) -> None:
    tip = live(spec, lambda p: p.tip())
    assert tip.height > 900_000
    tx = live(spec, lambda p: p.tx(PAYMENT["hash"]))
    assert tx.block is not None and tx.block.height == PAYMENT["block_height"]
    assert tx.block.hash is not None


def test_same_tx_from_every_explorer() -> None:
    from_mempool = live("mempool", lambda p: p.tx(PAYMENT["hash"]))
    from_blockstream = live("blockstream", lambda p: p.tx(PAYMENT["hash"]))
    from_bci = live("blockchain.info", lambda p: p.tx(PAYMENT["hash"]))
    assert from_mempool == from_blockstream
    # blockchain.info: no block hash, and its tx time is not the block time
    assert tx_differences(from_mempool, from_bci) == ()
    assert without_block_hash(from_mempool).outputs == from_bci.outputs


def test_wannacry_totals_at_least_as_recorded() -> None:
    stats = live("mempool", lambda p: p.address_stats_many(WANNACRY_ADDRESSES))
    for n, address in enumerate(WANNACRY_ADDRESSES, start=1):
        recorded = wannacry(n)
        assert stats[address].tx_count >= recorded["n_tx"]
        assert stats[address].funded_txo_sum >= recorded["total_received"]
    multi = live("blockchain.info", lambda p: p.address_stats_many(WANNACRY_ADDRESSES))
    for address in WANNACRY_ADDRESSES:
        assert multi[address].funded_txo_sum == stats[address].funded_txo_sum


def test_cross_checked_pool_agrees() -> None:
    seen: list[Disagreement] = []

    async def go() -> None:
        async with make_pool(
            ["mempool", "blockstream"], cross_check=True, on_disagreement=seen.append
        ) as pool:
            await pool.tx(PAYMENT["hash"])
            await pool.outspends(PAYMENT["hash"])
            await pool.address_stats(WANNACRY_ADDRESSES[0])

    asyncio.run(go())
    assert seen == []
