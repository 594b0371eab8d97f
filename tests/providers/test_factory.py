"""Explorer names, URLs and lists as users type them."""

from __future__ import annotations

import asyncio
import math

import httpx
import pytest

import btcwatch.providers as providers
from btcwatch.chain.network import REGTEST, SIGNET, TESTNET
from btcwatch.errors import ConfigError
from btcwatch.providers import (
    BlockchainInfoProvider,
    Capability,
    EsploraProvider,
    HttpOptions,
    PoolSettings,
    ProviderPool,
    make_pool,
    make_provider,
    open_pool,
    parse_explorer_list,
)


def _throttle(p: object) -> tuple[int, float] | None:
    throttler = p._http._throttler  # type: ignore[attr-defined]
    return None if throttler is None else (throttler.rate_limit, throttler.period)


def test_known_names() -> None:
    mempool = make_provider("mempool")
    assert isinstance(mempool, EsploraProvider)
    assert (mempool.name, mempool.base_url) == ("mempool.space", "https://mempool.space/api")
    assert mempool.supports(Capability.OUTSPENDS_BATCH) and _throttle(mempool) == (2, 1.0)
    blockstream = make_provider("Blockstream.info")
    assert isinstance(blockstream, EsploraProvider)
    assert blockstream.base_url == "https://blockstream.info/api"
    assert not blockstream.supports(Capability.OUTSPENDS_BATCH)
    bci = make_provider("blockchain.info")
    assert isinstance(bci, BlockchainInfoProvider) and _throttle(bci) == (1, 10.0)


def _base_url(p: object) -> str:
    assert isinstance(p, EsploraProvider)
    return p.base_url


def test_networks() -> None:
    assert (
        _base_url(make_provider("mempool", network=TESTNET)) == "https://mempool.space/testnet/api"
    )
    signet = make_provider("blockstream", network=SIGNET)
    assert _base_url(signet) == "https://blockstream.info/signet/api"
    with pytest.raises(ConfigError, match=r"blockchain\.info does not serve testnet"):
        make_provider("blockchain.info", network=TESTNET)
    with pytest.raises(ConfigError, match=r"mempool\.space does not serve regtest"):
        make_provider("mempool", network=REGTEST)


def test_urls() -> None:
    own = make_provider("https://electrs.example.org/api/")
    assert isinstance(own, EsploraProvider) and own.name == "electrs.example.org"
    assert _throttle(own) == (10, 1.0)
    sim = make_provider("http://127.0.0.1:4321/api", network=REGTEST)
    assert _throttle(sim) is None and sim.network == REGTEST and sim.name == "127.0.0.1:4321"
    assert _throttle(make_provider("mempool", HttpOptions(rate=math.inf))) is None
    assert _throttle(make_provider("mempool", HttpOptions(rate=0.5))) == (1, 2.0)
    with pytest.raises(ConfigError, match="rate must be positive"):
        make_provider("mempool", HttpOptions(rate=0))


def test_onion_needs_a_proxy() -> None:
    onion = "http://explorerzydxu5ecjrkwceayqybizmpjjznk5izmitf2modhcusuqlid.onion/api"
    with pytest.raises(ConfigError, match="give a proxy"):
        make_provider(onion)
    assert make_provider(onion, HttpOptions(proxy="socks5h://127.0.0.1:9050")).name.endswith(
        ".onion"
    )


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as info:
        make_provider("blockchair")
    assert str(info.value) == (
        "unknown explorer 'blockchair' (use one of mempool, blockstream, blockchain.info,"
        " or an http(s):// URL)"
    )


def test_parse_explorer_list() -> None:
    assert parse_explorer_list(
        " mempool, Blockstream ,,mempool.space, http://127.0.0.1:3000/api/ "
    ) == [
        "mempool",
        "blockstream",
        "http://127.0.0.1:3000/api",
    ]
    with pytest.raises(ConfigError, match="unknown explorer 'esplora'"):
        parse_explorer_list("mempool,esplora")
    with pytest.raises(ConfigError, match="no explorer named"):
        parse_explorer_list(" , ")


def test_make_pool_shares_transport_and_evidence() -> None:
    records: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "mempool.space":
            return httpx.Response(503)
        return httpx.Response(200, json=["ab" * 32])

    async def no_wait(seconds: float) -> None:
        pass

    pool = make_pool(
        ["mempool", "blockstream"],
        HttpOptions(
            transport=httpx.MockTransport(handler),
            on_evidence=records.append,
            rate=math.inf,
            sleep=no_wait,
        ),
    )
    assert isinstance(pool, ProviderPool) and pool.name == "mempool.space+blockstream.info"

    async def go() -> list[str]:
        async with pool:
            return await pool.mempool_txids()

    assert asyncio.run(go()) == ["ab" * 32]
    assert pool.requests == 6 and len(records) == 6  # 5 tries at mempool.space, then 1
    with pytest.raises(ConfigError):
        make_pool([])


def test_exported_members() -> None:
    """Everything in __all__ exists, and every public name of the package is in __all__."""
    public = {n for n in dir(providers) if not n.startswith("_")}
    modules = {
        "base",
        "blockchain_info",
        "blockchain_info_parse",
        "esplora",
        "esplora_parse",
        "esplora_raw",
        "esplora_ws",
        "factory",
        "http_provider",
        "pool",
        "prices",
        "replay",
    }
    assert set(providers.__all__) == public - modules


def test_open_pool_builds_from_one_settings_value() -> None:
    """Network, rate, learned pace and cross-checking reach the pool and every member."""
    settings = PoolSettings(
        ("mempool", "blockstream"),
        network="testnet",
        rate=0.5,
        cross_check=True,
        learned={"https://mempool.space/testnet/api": 0.25},
    )
    pool = open_pool(settings)
    assert pool.cross_check and pool.network == TESTNET
    assert [_throttle(p) for p in pool.providers] == [(1, 2.0), (1, 2.0)]
    assert pool.learned_rates() == {
        "https://mempool.space/testnet/api": 0.25,
        "https://blockstream.info/testnet/api": None,
    }


def test_open_pool_hands_retries_transport_and_evidence_to_every_member() -> None:
    records: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "mempool.space":
            return httpx.Response(503)
        return httpx.Response(200, json=["cd" * 32])

    settings = PoolSettings(
        ("mempool", "blockstream"),
        rate=math.inf,
        retries=2,
        transport=httpx.MockTransport(handler),
    )
    pool = open_pool(settings, records.append)

    async def go() -> list[str]:
        async with pool:
            return await pool.mempool_txids()

    assert asyncio.run(go()) == ["cd" * 32]
    assert pool.requests == 3 and len(records) == 3  # 2 tries at mempool.space, then 1


def test_a_provider_resolves_an_unset_rate_to_its_own_default() -> None:
    assert _throttle(EsploraProvider("http://x.test/api")) == (5, 1.0)
    assert _throttle(EsploraProvider("http://x.test/api", HttpOptions(rate=math.inf))) is None
    assert _throttle(BlockchainInfoProvider()) == (1, 10.0)
    assert _throttle(BlockchainInfoProvider(options=HttpOptions(rate=2.0))) == (2, 1.0)
