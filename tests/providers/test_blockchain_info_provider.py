"""BlockchainInfoProvider over the recorded WannaCry histories."""

from __future__ import annotations

import asyncio
import copy
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from provider_fakes import (
    WANNACRY_ADDRESSES,
    RecordedBlockchainInfo,
    json_response,
    wannacry,
)

from btcwatch.chain.address import Address
from btcwatch.chain.network import MAINNET, TESTNET
from btcwatch.chain.script import p2pkh
from btcwatch.errors import BadResponse, ConfigError, NotFound
from btcwatch.model import BlockRef, OutSpend, Tip
from btcwatch.providers import Capability, HttpOptions
from btcwatch.providers.blockchain_info import BlockchainInfoProvider
from btcwatch.providers.blockchain_info_parse import input_refs

T = TypeVar("T")


def run(
    handler: Callable[[httpx.Request], httpx.Response],
    use: Callable[[BlockchainInfoProvider], Awaitable[T]],
) -> tuple[T, BlockchainInfoProvider]:
    p = BlockchainInfoProvider(
        "http://bci.test", HttpOptions(transport=httpx.MockTransport(handler), rate=math.inf)
    )

    async def go() -> T:
        async with p:
            return await use(p)

    return asyncio.run(go()), p


def test_mainnet_only() -> None:
    with pytest.raises(ConfigError, match="mainnet only, not testnet"):
        BlockchainInfoProvider(network=TESTNET)


def test_capabilities_are_honest() -> None:
    caps = BlockchainInfoProvider().capabilities
    assert Capability.MULTIADDR in caps and Capability.OUTSPENDS in caps
    assert Capability.MEMPOOL not in caps and Capability.OUTSPENDS_BATCH not in caps


def test_no_mempool_list() -> None:
    with pytest.raises(Exception, match=r"mempool_txids not supported by blockchain\.info"):
        run(RecordedBlockchainInfo(), lambda p: p.mempool_txids())


def test_history_pages_of_fifty_and_resolves_inputs() -> None:
    server = RecordedBlockchainInfo()
    recorded = wannacry(1)
    txs, p = run(server, lambda p: p.address_history(WANNACRY_ADDRESSES[0]))
    assert [t.txid for t in txs] == [t["hash"] for t in recorded["txs"]]
    pages = [x for x in server.paths if x.startswith("/rawaddr/")]
    assert len(pages) == 3  # 115 txs: 50 + 50 + 15
    own = {t["tx_index"] for t in recorded["txs"]}
    foreign = set().union(*(input_refs(t) for t in recorded["txs"])) - own
    assert len(server.paths) == 3 + len(foreign)  # one /rawtx/<tx_index> per payer's tx
    assert p.requests == len(server.paths)
    # Spends of the ransom address point at txs of the history, with real txids.
    by_id = {t.txid: t for t in txs}
    for tx in txs:
        for txin in tx.inputs:
            if txin.prev_address == WANNACRY_ADDRESSES[0]:
                assert txin.prevout is not None and txin.prevout.txid in by_id


def test_second_poll_costs_only_pages() -> None:
    server = RecordedBlockchainInfo()

    async def twice(p: BlockchainInfoProvider) -> int:
        first = await p.address_history(WANNACRY_ADDRESSES[0])
        before = len(server.paths)
        await p.address_history(WANNACRY_ADDRESSES[0], known=frozenset(t.txid for t in first))
        return len(server.paths) - before

    second, _ = run(server, twice)
    assert second == 1  # the first page is all known: stop, and nothing to resolve


def test_history_ignoring_offset_does_not_loop() -> None:
    server = RecordedBlockchainInfo()

    def stuck(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/rawaddr/"):
            request = httpx.Request("GET", request.url.copy_with(params={"limit": "50"}))
        return server(request)

    with pytest.raises(BadResponse, match="server ignored offset"):
        run(stuck, lambda p: p.address_history(WANNACRY_ADDRESSES[2]))
    assert len(server.paths) == 2


def test_rawaddr_for_another_address_is_refused() -> None:
    server = RecordedBlockchainInfo()

    def wrong(request: httpx.Request) -> httpx.Response:
        return server(httpx.Request("GET", f"http://bci.test/rawaddr/{WANNACRY_ADDRESSES[1]}"))

    with pytest.raises(BadResponse, match=f"asked for {WANNACRY_ADDRESSES[0]} but got"):
        run(wrong, lambda p: p.address_stats(WANNACRY_ADDRESSES[0]))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_address_stats_are_exact(n: int) -> None:
    recorded = wannacry(n)
    stats, p = run(RecordedBlockchainInfo(), lambda p: p.address_stats(recorded["address"]))
    assert stats.tx_count == recorded["n_tx"]
    assert (stats.funded_txo_sum, stats.spent_txo_sum, stats.balance) == (
        recorded["total_received"],
        recorded["total_sent"],
        recorded["final_balance"],
    )
    assert p.requests == 3  # pages only: stats need no input resolution


def test_address_stats_many_uses_multiaddr() -> None:
    server = RecordedBlockchainInfo()
    wanted = [*WANNACRY_ADDRESSES, WANNACRY_ADDRESSES[0]]
    stats, _ = run(server, lambda p: p.address_stats_many(wanted))
    assert list(stats) == list(WANNACRY_ADDRESSES)
    assert stats[WANNACRY_ADDRESSES[2]].tx_count == 130
    assert stats[WANNACRY_ADDRESSES[0]].funded_txo_count == 0  # multiaddr gives totals only
    assert server.paths == ["/multiaddr"]


def test_multiaddr_chunks_of_one_hundred() -> None:
    """150 addresses: two requests; an address the server leaves out is an error."""
    many = [str(Address(p2pkh(i.to_bytes(20, "big")), MAINNET)) for i in range(150)]
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        active = request.url.params["active"].split("|")
        seen.append(len(active))
        rows = [
            {"address": a, "n_tx": 0, "total_received": 0, "total_sent": 0, "final_balance": 0}
            for a in active
        ]
        return json_response({"addresses": rows})

    stats, _ = run(handler, lambda p: p.address_stats_many(many))
    assert len(stats) == 150 and seen == [100, 50]

    def forgetful(request: httpx.Request) -> httpx.Response:
        return json_response({"addresses": []})

    with pytest.raises(BadResponse, match="left out"):
        run(forgetful, lambda p: p.address_stats_many(many[:2]))


def test_tx_resolves_inputs_by_tx_index() -> None:
    recorded = wannacry(1)["txs"]
    cash_out = next(t for t in recorded if len(t["inputs"]) > 30)
    server = RecordedBlockchainInfo()
    tx, _ = run(server, lambda p: p.tx(cash_out["hash"]))
    assert tx.txid == cash_out["hash"] and len(tx.inputs) == len(cash_out["inputs"])
    refs = input_refs(cash_out)
    assert server.paths[0] == f"/rawtx/{cash_out['hash']}"
    assert sorted(server.paths[1:]) == sorted(f"/rawtx/{i}" for i in refs)


def test_unknown_tx_is_not_found() -> None:
    with pytest.raises(NotFound):
        run(RecordedBlockchainInfo(), lambda p: p.tx("00" * 32))


def test_outspends_resolve_spenders() -> None:
    recorded = wannacry(1)["txs"]
    payment = copy.deepcopy(recorded[-1])  # the oldest: a payment later spent by a cash-out
    spender = next(
        t
        for t in recorded
        for i, vin in enumerate(t["inputs"])
        if vin["prev_out"]["tx_index"] == payment["tx_index"]
    )
    vin_n = next(
        i
        for i, v in enumerate(spender["inputs"])
        if v["prev_out"]["tx_index"] == payment["tx_index"]
    )
    spent_n = spender["inputs"][vin_n]["prev_out"]["n"]
    for out in payment["out"]:
        if out["n"] == spent_n:
            out["spending_outpoints"] = [{"tx_index": spender["tx_index"], "n": vin_n}]
        else:
            out["spent"] = False
    server = RecordedBlockchainInfo()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"/rawtx/{payment['hash']}":
            return json_response(payment)
        return server(request)

    spends, _ = run(handler, lambda p: p.outspends(payment["hash"]))
    expected = OutSpend(
        True, spender["hash"], vin_n, BlockRef(spender["block_height"], None, spender["time"])
    )
    assert spends[spent_n] == expected
    assert [s.spent for s in spends].count(True) == 1


def test_tip() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/latestblock"
        return json_response({"hash": "ab" * 32, "height": 900000, "time": 1, "block_index": 2})

    tip, _ = run(handler, lambda p: p.tip())
    assert tip == Tip(900000, "ab" * 32)


def test_block_hash_picks_the_main_chain() -> None:
    def block(h: str, main: bool) -> dict[str, Any]:
        return {"hash": h, "prev_block": "00" * 32, "height": 7, "time": 1, "main_chain": main}

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["format"] == "json"
        return json_response({"blocks": [block("11" * 32, False), block("22" * 32, True)]})

    found, _ = run(handler, lambda p: p.block_hash(7))
    assert found == "22" * 32

    def orphans_only(request: httpx.Request) -> httpx.Response:
        return json_response({"blocks": [block("11" * 32, False)]})

    with pytest.raises(NotFound, match="no main-chain block at height 7"):
        run(orphans_only, lambda p: p.block_hash(7))


def test_rawblock_gives_block_and_txids() -> None:
    body = {
        "hash": "33" * 32,
        "prev_block": "44" * 32,
        "height": 10,
        "time": 5,
        "n_tx": 2,
        "tx": [{"hash": "55" * 32}, {"hash": "66" * 32}],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert re.fullmatch(r"/rawblock/(33)+", request.url.path)
        return json_response(body)

    async def use(p: BlockchainInfoProvider) -> Any:
        return await p.block("33" * 32), await p.block_txids("33" * 32)

    (info, txids), _ = run(handler, use)
    assert info.prev_hash == "44" * 32 and info.tx_count == 2
    assert txids == ["55" * 32, "66" * 32]


def test_txo_counts_match_the_recorded_history() -> None:
    """The Esplora-style counts, checked against a plain count over the recorded JSON."""
    recorded = wannacry(3)
    address = recorded["address"]
    stats, _ = run(RecordedBlockchainInfo(), lambda p: p.address_stats(address))
    funded = sum(o.get("addr") == address for t in recorded["txs"] for o in t["out"])
    spent = sum(v["prev_out"]["addr"] == address for t in recorded["txs"] for v in t["inputs"])
    assert (stats.funded_txo_count, stats.spent_txo_count) == (funded, spent) == (128, 128)
