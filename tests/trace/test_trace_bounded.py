"""Traces stay bounded when the trail reaches mainnet-sized wallets.

The explorer is an Esplora-shaped fake behind httpx.MockTransport (esplorafake.py): a ransom
payment peeled into an exchange deposit, swept by a 120-input consolidation into a hot wallet
with 100,000 txs of history, which pays out in a 300-output batch. The trace must never page
that history, must cost at most two requests per traced tx (the provider's own counter), and
must record every limit it hit as a stop or finding with its numbers.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import pytest
from esplorafake import FakeEsplora, fake_txid
from flowgen import random_flow
from tracedata import address, script

from btcwatch.model import BlockRef, OutPoint, Tx, TxIn, TxOut
from btcwatch.providers import HttpOptions
from btcwatch.providers.base import History
from btcwatch.providers.esplora import EsploraProvider
from btcwatch.store import Store
from btcwatch.trace.follow import Source, StopReason, TraceParams, follow
from btcwatch.trace.run.service import run_trace
from btcwatch.trace.tagindex import TagIndex
from btcwatch.trace.txsource import MemorySource

T = TypeVar("T")
HOT = address("p2wpkh", "hot-wallet")
BLOCK = BlockRef(830_000, "cd" * 32, 1_710_000_000)


def coin(value: int, owner: str) -> TxOut:
    return TxOut(value, script("p2wpkh", owner), address("p2wpkh", owner))


def spend(prev: OutPoint, value: int, owner: str) -> TxIn:
    return TxIn(prev, 0xFFFFFFFD, value, script("p2wpkh", owner), address("p2wpkh", owner))


def world(*, batch: bool = True) -> tuple[FakeEsplora, Tx]:
    """The story above; returns the explorer and the ransom payment."""
    fake = FakeEsplora(batch=batch)
    ransom = fake.add(
        Tx(
            fake_txid("ransom"),
            2,
            0,
            (spend(OutPoint(fake_txid("victim"), 0), 100_010_000, "victim"),),
            (coin(100_000_000, "attacker"),),
            BLOCK,
        )
    )
    peel = fake.add(
        Tx(
            fake_txid("peel"),
            2,
            0,
            (spend(ransom.outpoint(0), 100_000_000, "attacker"),),
            (coin(20_000_000, "deposit"), coin(79_990_000, "attacker-2")),
            BLOCK,
        )
    )
    others = [
        spend(OutPoint(fake_txid(f"customer-{i}"), 0), 1_000_000, f"deposit-{i}")
        for i in range(119)
    ]
    consolidation = fake.add(
        Tx(
            fake_txid("consolidation"),
            2,
            0,
            (spend(peel.outpoint(0), 20_000_000, "deposit"), *others),
            (TxOut(138_900_000, script("p2wpkh", "hot-wallet"), HOT),),
            BLOCK,
        )
    )
    payouts = tuple(coin(400_000, f"customer-out-{i}") for i in range(300))
    fake.add(
        Tx(
            fake_txid("batch"),
            2,
            0,
            (
                TxIn(
                    consolidation.outpoint(0),
                    0xFFFFFFFD,
                    138_900_000,
                    script("p2wpkh", "hot-wallet"),
                    HOT,
                ),
            ),
            payouts,
            BLOCK,
        )
    )
    change = fake.add(
        Tx(
            fake_txid("change"),
            2,
            0,
            (spend(peel.outpoint(1), 79_990_000, "attacker-2"),),
            (coin(1_000_000, "payee"), coin(78_980_000, "attacker-3")),
            BLOCK,
        )
    )
    assert change.outputs
    fake.busy_address(HOT, 100_000)
    return fake, ransom


def run(fake: FakeEsplora, call: Callable[[EsploraProvider], Awaitable[T]]) -> tuple[T, int]:
    async def go() -> tuple[T, int]:
        provider = EsploraProvider(
            "http://esplora.test/api",
            HttpOptions(transport=httpx.MockTransport(fake.handler), rate=math.inf),
        )
        async with provider:
            return await call(provider), provider.requests

    return asyncio.run(go())


@pytest.mark.parametrize("batch", [True, False], ids=["batched-outspends", "outspends-per-tx"])
def test_trail_through_a_hot_wallet_is_bounded_and_cheap(store: Store, batch: bool) -> None:
    fake, ransom = world(batch=batch)
    params = TraceParams()
    (_, result, summary), requests = run(
        fake, lambda p: run_trace(store, p, params, targets=[f"{ransom.txid}:0"])
    )
    flow = result.flow
    assert fake.hits["address_txs"] == 0, "following money never pages an address history"
    # every traced tx: one fetch, one outspends answer (a probe of the batch endpoint at most)
    assert requests <= 2 * len(flow.txs) + (0 if batch else 1)
    assert requests == summary["requests"]
    fanout = [s for s in flow.stops.values() if s.reason is StopReason.FANOUT]
    assert len(fanout) == 300
    assert {s.detail for s in fanout} == {"300 outputs > max_fanout 20"}
    assert fake_txid("consolidation") in flow.walked  # 120 inputs: one request, followed on
    assert sum(e.taint_sat for e in result.endpoints) + result.taint.fee_taint == 100_000_000


def test_address_source_reads_only_a_few_history_pages(store: Store) -> None:
    fake, _ = world()
    params = TraceParams(max_history_pages=3)
    (_, result, summary), requests = run(fake, lambda p: run_trace(store, p, params, targets=[HOT]))
    assert fake.hits["address_txs"] == 3
    assert len(result.flow.sources) == 75  # the newest 3 pages of 25
    limit = [f for f in summary["findings"] if f["heuristic"] == "history_limit"]
    assert limit == [
        {
            "heuristic": "history_limit",
            "verdict": "truncated",
            "confidence": 1.0,
            "subject": HOT,
            "facts": {"pages_read": 3, "txs_read": 75},
        }
    ]
    # the history's txs are kept: following them costs outspends only (2 batches of <= 50)
    assert requests == 3 + 2
    assert fake.hits["tx"] == 0


def test_provider_history_limit_says_whether_the_end_was_reached() -> None:
    fake, _ = world()
    fake.busy_address(HOT, 60)
    cut, requests = run(fake, lambda p: p.address_history(HOT, max_pages=2))
    assert isinstance(cut, History)
    assert (len(cut), cut.pages, cut.complete, requests) == (50, 2, False, 2)
    whole, requests = run(fake, lambda p: p.address_history(HOT, max_pages=5))
    assert isinstance(whole, History)
    assert (len(whole), whole.pages, whole.complete, requests) == (60, 3, True, 3)
    unlimited, requests = run(fake, lambda p: p.address_history(HOT))
    assert [t.txid for t in unlimited] == [t.txid for t in whole]


def test_max_txs_bounds_the_flow_and_records_the_rest() -> None:
    sources, txs = random_flow(3, 150)
    params = TraceParams(hops=30, max_txs=40)

    async def go() -> None:
        found = [Source(op, value, None) for op, value in sources]
        flow = await follow(MemorySource(txs), found, params, TagIndex())
        assert len(flow.txs) <= 40
        limited = [s for s in flow.stops.values() if s.reason is StopReason.TX_LIMIT]
        assert limited
        assert {s.detail for s in limited} == {"flow reached max_txs 40"}
        # nothing is lost: every output of a walked tx is followed on or stopped
        for txid in flow.walked:
            for vout in range(len(flow.txs[txid].outputs)):
                op = OutPoint(txid, vout)
                assert op in flow.stops or op in flow.followed

    asyncio.run(go())
