"""ProviderPool: failover order, NotFound handling, cross-checking, bookkeeping."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from provider_fakes import real_esplora_txs, without_block_hash

from btcwatch.chain.network import MAINNET, TESTNET, Network
from btcwatch.errors import (
    BadResponse,
    ConfigError,
    NotFound,
    ProviderError,
    RateLimited,
    Unavailable,
)
from btcwatch.model import AddressStats, Evidence, OutSpend, Tip, Tx
from btcwatch.providers import Capability, NotSupported, Provider
from btcwatch.providers.pool import Disagreement, ProviderPool, tx_differences

T = TypeVar("T")
TX = real_esplora_txs()[3]  # confirmed, with a block hash


class Fake(Provider):
    """An in-memory explorer: answers from ``txs`` or raises the scripted error."""

    def __init__(
        self,
        name: str,
        *,
        txs: dict[str, Tx] | None = None,
        error: ProviderError | None = None,
        capabilities: frozenset[Capability] = frozenset(Capability),
        network: Network = MAINNET,
    ) -> None:
        self.name = name
        self.network = network
        self.capabilities = capabilities
        self.txs = txs or {}
        self.error = error
        self.calls = 0
        self.closed = False
        self._evidence = Evidence(name, f"http://{name}/", "2026-01-01T00:00:00Z", 200, "", b"")

    @property
    def requests(self) -> int:
        return self.calls

    @property
    def last_evidence(self) -> Evidence | None:
        return self._evidence

    async def aclose(self) -> None:
        self.closed = True

    def _answer(self, key: str, value: T | None) -> T:
        self.calls += 1
        if self.error is not None:
            raise self.error
        if value is None:
            raise NotFound(f"{key} not found", provider=self.name)
        return value

    async def tx(self, txid: str) -> Tx:
        return self._answer(txid, self.txs.get(txid))

    async def tip(self) -> Tip:
        return self._answer("tip", Tip(1, self.name))

    async def outspends(self, txid: str) -> list[OutSpend]:
        tx = self.txs.get(txid)
        return self._answer(txid, None if tx is None else [OutSpend(False)] * len(tx.outputs))

    async def address_stats(self, address: str) -> AddressStats:
        return self._answer(address, AddressStats(address, 1, 5, 0, 0, 1))


def run(pool: ProviderPool, use: Callable[[ProviderPool], Awaitable[T]]) -> T:
    async def go() -> T:
        async with pool:
            return await use(pool)

    return asyncio.run(go())


def down(name: str) -> Unavailable:
    return Unavailable("server error (HTTP 503)", provider=name, url=f"http://{name}/")


def test_first_member_answers() -> None:
    a, b = Fake("a", txs={TX.txid: TX}), Fake("b", txs={TX.txid: TX})
    pool = ProviderPool([a, b])
    assert run(pool, lambda p: p.tx(TX.txid)) == TX
    assert (a.calls, b.calls) == (1, 0)
    assert pool.last_evidence is not None and pool.last_evidence.provider == "a"
    assert a.closed and b.closed


@pytest.mark.parametrize(
    "error",
    [
        down("a"),
        RateLimited("rate limited", provider="a"),
        BadResponse("bad", provider="a"),
        NotFound("not yet", provider="a"),
    ],
)
def test_fails_over_to_the_next(error: ProviderError) -> None:
    a, b = Fake("a", error=error), Fake("b", txs={TX.txid: TX})
    pool = ProviderPool([a, b])
    assert run(pool, lambda p: p.tx(TX.txid)) == TX
    assert (a.calls, b.calls) == (1, 1) and pool.requests == 2
    assert pool.last_evidence is not None and pool.last_evidence.provider == "b"


def test_not_found_everywhere_is_not_found() -> None:
    pool = ProviderPool([Fake("a"), Fake("b")])
    with pytest.raises(NotFound, match="tx: not found by any explorer"):
        run(pool, lambda p: p.tx(TX.txid))


def test_not_found_and_down_is_not_a_not_found() -> None:
    """One says NotFound, the other could not answer: the tx may exist, so not NotFound."""
    pool = ProviderPool([Fake("a"), Fake("b", error=down("b"))])
    with pytest.raises(Unavailable) as info:
        run(pool, lambda p: p.tx(TX.txid))
    message = str(info.value)
    assert (
        message.startswith("a+b: tx: every explorer failed (a: ") and "b: server error" in message
    )
    assert "\n" not in message


def test_members_without_the_capability_are_skipped() -> None:
    a = Fake("a", txs={TX.txid: TX}, capabilities=frozenset({Capability.TIP}))
    b = Fake("b", txs={TX.txid: TX})
    pool = ProviderPool([a, b])
    assert run(pool, lambda p: p.tx(TX.txid)) == TX and a.calls == 0
    assert pool.capabilities == frozenset(Capability)
    only_tip = ProviderPool([a])
    with pytest.raises(NotSupported, match="mempool_txids not supported by any explorer"):
        run(only_tip, lambda p: p.mempool_txids())


def test_not_supported_by_a_member_fails_over() -> None:
    class NoTip(Fake):
        async def tip(self) -> Tip:
            raise self.not_supported("tip")

    pool = ProviderPool([NoTip("a"), Fake("b")])
    assert run(pool, lambda p: p.tip()) == Tip(1, "b")


def test_members_share_a_network() -> None:
    with pytest.raises(ConfigError, match="one network, not mainnet, testnet"):
        ProviderPool([Fake("a"), Fake("b", network=TESTNET)])
    with pytest.raises(ConfigError, match="at least one"):
        ProviderPool([])


def test_cross_check_agreeing_explorers() -> None:
    seen: list[Disagreement] = []
    a = Fake("a", txs={TX.txid: TX})
    b = Fake("b", txs={TX.txid: without_block_hash(TX)})  # blockchain.info knows no block hash
    pool = ProviderPool([a, b], cross_check=True, on_disagreement=seen.append)
    assert run(pool, lambda p: p.tx(TX.txid)) == TX
    assert seen == [] and (a.calls, b.calls) == (1, 1)


def test_cross_check_reports_a_disagreement() -> None:
    seen: list[Disagreement] = []
    forged = replace(
        TX, outputs=(replace(TX.outputs[0], value=TX.outputs[0].value + 1), *TX.outputs[1:])
    )
    a, b = Fake("a", txs={TX.txid: TX}), Fake("b", txs={TX.txid: forged})
    pool = ProviderPool([a, b], cross_check=True, on_disagreement=seen.append)
    assert run(pool, lambda p: p.tx(TX.txid)) == TX  # the first's answer, but we are told
    (d,) = seen
    assert (d.what, d.key, d.first, d.second, d.fields) == (
        "tx",
        TX.txid,
        "a",
        "b",
        ("outputs[0].value",),
    )
    assert str(d) == f"a and b disagree on tx {TX.txid}: outputs[0].value"


def test_cross_check_with_one_member_down_uses_the_other() -> None:
    seen: list[Disagreement] = []
    pool = ProviderPool(
        [Fake("a", error=down("a")), Fake("b", txs={TX.txid: TX})],
        cross_check=True,
        on_disagreement=seen.append,
    )
    assert run(pool, lambda p: p.tx(TX.txid)) == TX and seen == []


def test_cross_check_both_down_tries_the_rest() -> None:
    pool = ProviderPool(
        [Fake("a", error=down("a")), Fake("b", error=down("b")), Fake("c", txs={TX.txid: TX})],
        cross_check=True,
    )
    assert run(pool, lambda p: p.tx(TX.txid)) == TX
    everyone_down = ProviderPool(
        [Fake("a", error=down("a")), Fake("b", error=down("b"))], cross_check=True
    )
    with pytest.raises(Unavailable, match="every explorer failed"):
        run(everyone_down, lambda p: p.tx(TX.txid))


def test_cross_check_address_stats_and_outspends() -> None:
    seen: list[Disagreement] = []

    class Richer(Fake):
        async def address_stats(self, address: str) -> AddressStats:
            return replace(await super().address_stats(address), funded_txo_sum=6)

    pool = ProviderPool(
        [Fake("a", txs={TX.txid: TX}), Richer("b", txs={TX.txid: TX})],
        cross_check=True,
        on_disagreement=seen.append,
    )

    async def use(p: ProviderPool) -> Any:
        return await p.address_stats("1BoatSLRHtKNngkdXEeobR76b53LETtpyT"), await p.outspends_many(
            [TX.txid]
        )

    stats, spends = run(pool, use)
    assert stats.funded_txo_sum == 5 and spends == {TX.txid: [OutSpend(False)] * len(TX.outputs)}
    assert [(d.what, d.fields) for d in seen] == [("address_stats", ("funded_txo_sum",))]


def test_tx_differences_ignore_what_one_side_cannot_know() -> None:
    other_time = replace(TX, block=replace(TX.block, time=1), size=None) if TX.block else TX
    assert tx_differences(TX, other_time) == ()
    assert tx_differences(TX, replace(TX, block=None)) == ("block.confirmed",)
    assert tx_differences(TX, replace(TX, locktime=TX.locktime + 1)) == ("locktime",)
    assert tx_differences(TX, replace(TX, inputs=TX.inputs[:0])) == ("inputs",)
