"""EsploraProvider over the recorded data, and paging against fake Esplora servers."""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from provider_fakes import (
    BLOCK1_HASH,
    BREEZ_ADDRESS,
    BREEZ_OUTSPENDS_TXID,
    PAGE_ADDRESS,
    PagingEsplora,
    block1,
    esplora_block_objects,
    json_response,
    raw_tx_hex,
    real_esplora_txs,
    recorded_esplora,
    render_esplora_tx,
    synthetic_history,
)

from btcwatch.chain.network import MAINNET, TESTNET
from btcwatch.errors import AddressError, BadResponse, InputError, NotFound
from btcwatch.model import OutSpend, Tip
from btcwatch.providers import Capability, HttpOptions, capture_evidence
from btcwatch.providers.esplora import EsploraProvider

T = TypeVar("T")


def run(
    handler: Callable[[httpx.Request], httpx.Response],
    use: Callable[[EsploraProvider], Awaitable[T]],
    *,
    sleep: Any = asyncio.sleep,
    **kw: Any,
) -> tuple[T, EsploraProvider]:
    options = HttpOptions(transport=httpx.MockTransport(handler), rate=math.inf, sleep=sleep)
    p = EsploraProvider("http://esplora.test/api", options, **kw)

    async def go() -> T:
        async with p:
            return await use(p)

    return asyncio.run(go()), p


def test_name_defaults_to_host() -> None:
    assert EsploraProvider("https://mempool.space/api/").name == "mempool.space"
    assert EsploraProvider("https://mempool.space/api/").base_url == "https://mempool.space/api"


def test_tx_over_recorded_data() -> None:
    wanted = real_esplora_txs()
    got, p = run(recorded_esplora, lambda p: asyncio.gather(*(p.tx(t.txid) for t in wanted)))
    assert got == wanted
    assert p.requests == len(wanted)


def test_tx_accepts_upper_case_and_refuses_garbage() -> None:
    txid = real_esplora_txs()[0].txid
    tx, _ = run(recorded_esplora, lambda p: p.tx(txid.upper()))
    assert tx.txid == txid
    with pytest.raises(InputError, match="not a txid"):
        run(recorded_esplora, lambda p: p.tx("../../mempool"))


def test_unknown_tx_is_not_found() -> None:
    with pytest.raises(
        NotFound, match=r"esplora.test: not found \(HTTP 404\) \(http://esplora.test/api/tx/"
    ):
        run(recorded_esplora, lambda p: p.tx("00" * 32))


def test_answer_about_another_tx_is_refused() -> None:
    other = render_esplora_tx(real_esplora_txs()[0])

    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(other)

    with pytest.raises(BadResponse, match=f"asked for /tx/{'11' * 32} but got tx {other['txid']}"):
        run(handler, lambda p: p.tx("11" * 32))


def test_outspends_recorded() -> None:
    spends, _ = run(recorded_esplora, lambda p: p.outspends(BREEZ_OUTSPENDS_TXID))
    assert [s.txid for s in spends] == [
        "4da22eff957b855c8bde2d8b61bdb9e10add799a04c709dd7142cc796cee0b65",
        "61585c400d8cfe490d3d3c6e1e3177edb9b6f43e337772530ab32ea4e54db3b4",
    ]


def test_breez_history_is_one_page() -> None:
    history, p = run(recorded_esplora, lambda p: p.address_history(BREEZ_ADDRESS))
    assert [t.txid[:8] for t in history] == ["5e0668bf", "07c9d3fb"]
    assert p.requests == 1  # 2 confirmed txs < 25: no second page


def test_address_is_checked_for_the_network() -> None:
    with pytest.raises(AddressError, match="mainnet address, not testnet"):
        run(recorded_esplora, lambda p: p.address_history(BREEZ_ADDRESS), network=TESTNET)


def test_tip_is_cached_by_hash() -> None:
    tip_block = max(esplora_block_objects(), key=lambda b: b["height"])

    async def twice(p: EsploraProvider) -> list[Tip]:
        return [await p.tip(), await p.tip()]

    tips, p = run(recorded_esplora, twice)
    assert tips == [Tip(tip_block["height"], tip_block["id"])] * 2
    assert p.requests == 3  # hash, block, hash


def test_blocks() -> None:
    block = esplora_block_objects()[0]

    async def use(p: EsploraProvider) -> tuple[Any, ...]:
        return (
            await p.block_hash(block["height"]),
            await p.block(block["id"]),
            await p.block_raw(BLOCK1_HASH),
        )

    (found, info, raw), _ = run(recorded_esplora, use)
    assert found == block["id"] and info.prev_hash == block["previousblockhash"]
    assert raw == block1()


def test_block_raw_must_hash_to_the_block() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=block1())  # a whole block, but not the one asked for

    with pytest.raises(BadResponse, match="header hashes to 000000008"):
        run(handler, lambda p: p.block_raw("00" * 32))


async def no_sleep(seconds: float) -> None:
    return None


def test_cut_or_altered_block_is_retried_then_refused() -> None:
    answers = [block1()[:-1] + b"\x01", block1()[:200], block1()]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=answers.pop(0))

    wanted = hashlib.sha256(hashlib.sha256(block1()[:80]).digest()).digest()[::-1].hex()
    raw, _ = run(handler, lambda p: p.block_raw(wanted), sleep=no_sleep)
    assert raw == block1() and answers == []  # two bad bodies, each retried

    def always_altered(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=block1()[:-1] + b"\x01")

    with pytest.raises(BadResponse, match="not a whole block"):
        run(always_altered, lambda p: p.block_raw(wanted), sleep=no_sleep)


def test_cut_hash_and_tx_hex_are_retried() -> None:
    tip = "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048"
    answers = [tip[:32], tip]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=answers.pop(0))

    found, _ = run(handler, lambda p: p.block_hash(1), sleep=no_sleep)
    assert found == tip and answers == []


def test_tx_raw_is_verified() -> None:
    txid, hex_text = next(iter(raw_tx_hex().items()))
    raw, _ = run(recorded_esplora, lambda p: p.tx_raw(txid))
    assert raw.hex() == hex_text

    def wrong(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=hex_text)

    with pytest.raises(BadResponse, match=f"got raw tx {txid}"):
        run(wrong, lambda p: p.tx_raw("22" * 32))


def test_mempool_txids() -> None:
    txids, _ = run(recorded_esplora, lambda p: p.mempool_txids())
    assert txids == [t.txid for t in real_esplora_txs() if not t.confirmed]


def test_evidence_of_a_value() -> None:
    async def use(p: EsploraProvider) -> Any:
        with capture_evidence() as used:
            tx = await p.tx(real_esplora_txs()[0].txid)
        return tx, used

    (tx, used), p = run(recorded_esplora, use)
    assert used == [p.last_evidence] and used[0].url.endswith(tx.txid)


# --- paging -------------------------------------------------------------------------------


def history(server: PagingEsplora, known: frozenset[str] = frozenset()) -> list[Any]:
    found, _ = run(server, lambda p: p.address_history(PAGE_ADDRESS, known=known))
    return found


def test_sixty_confirmed_txs_take_three_pages() -> None:
    txs = synthetic_history(60)
    server = PagingEsplora(txs)
    assert history(server) == txs
    assert server.paths == [
        f"/address/{PAGE_ADDRESS}/txs",
        f"/address/{PAGE_ADDRESS}/txs/chain/{txs[24].txid}",
        f"/address/{PAGE_ADDRESS}/txs/chain/{txs[49].txid}",
    ]


def test_exactly_fifty_needs_an_empty_last_page() -> None:
    server = PagingEsplora(synthetic_history(50))
    assert len(history(server)) == 50 and len(server.paths) == 3


def test_mempool_txs_come_first() -> None:
    txs = synthetic_history(30, mempool=3)
    server = PagingEsplora(txs)
    assert history(server) == txs
    assert len(server.paths) == 2


def test_known_txs_stop_paging_early() -> None:
    txs = synthetic_history(60)
    server = PagingEsplora(txs)
    # Everything known: the first page alone shows that nothing is new.
    assert history(server, known=frozenset(t.txid for t in txs)) == txs[:25]
    assert len(server.paths) == 1
    # 25 new txs: the second page is all known, so the third is never asked for.
    server = PagingEsplora(txs)
    assert history(server, known=frozenset(t.txid for t in txs[25:])) == txs[:50]
    assert len(server.paths) == 2
    # 5 new txs: the first page is not all known, the second is.
    server = PagingEsplora(txs)
    assert history(server, known=frozenset(t.txid for t in txs[5:])) == txs[:50]
    assert len(server.paths) == 2


def test_server_ignoring_last_seen_does_not_loop() -> None:
    server = PagingEsplora(synthetic_history(60), ignore_last_seen=True)
    with pytest.raises(BadResponse, match="server ignored last_seen_txid"):
        history(server)
    assert len(server.paths) == 2


def test_history_with_a_foreign_tx_is_refused() -> None:
    stranger = real_esplora_txs()[0]

    def handler(request: httpx.Request) -> httpx.Response:
        return json_response([render_esplora_tx(stranger)])

    with pytest.raises(BadResponse, match="which does not involve"):
        run(handler, lambda p: p.address_history(PAGE_ADDRESS))


def test_address_stats() -> None:
    body = {
        "address": PAGE_ADDRESS,
        "chain_stats": dict.fromkeys(
            ("funded_txo_count", "funded_txo_sum", "spent_txo_count", "spent_txo_sum", "tx_count"),
            1,
        ),
        "mempool_stats": dict.fromkeys(
            ("funded_txo_count", "funded_txo_sum", "spent_txo_count", "spent_txo_sum", "tx_count"),
            0,
        ),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/api/address/{PAGE_ADDRESS}"
        return json_response(body)

    stats, _ = run(handler, lambda p: p.address_stats(PAGE_ADDRESS.upper()))
    assert stats.address == PAGE_ADDRESS and stats.tx_count == 1


# --- outspends in batches ---------------------------------------------------------------------


class OutspendServer:
    def __init__(self, batch: bool) -> None:
        self.batch = batch
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if request.url.path == "/api/txs/outspends":
            if not self.batch:
                return httpx.Response(404)
            ids = request.url.params["txids"].split(",")
            return json_response([[{"spent": False}, {"spent": False}] for _ in ids])
        if m := re.fullmatch(r"/api/tx/(\w+)/outspends", request.url.path):
            assert m[1]
            return json_response([{"spent": False}])
        return httpx.Response(404)


TXIDS = [f"{i:064x}" for i in range(120)]


def test_batch_outspends_fifty_per_request() -> None:
    server = OutspendServer(batch=True)
    found, _ = run(server, lambda p: p.outspends_many(TXIDS + TXIDS[:3]), batch_outspends=True)
    assert list(found) == TXIDS and found[TXIDS[0]] == [OutSpend(False)] * 2
    assert server.paths == ["/api/txs/outspends"] * 3


def test_batch_probe_falls_back_and_remembers() -> None:
    server = OutspendServer(batch=False)

    async def use(p: EsploraProvider) -> Any:
        assert p.supports(Capability.OUTSPENDS_BATCH)
        first = await p.outspends_many(TXIDS[:3])
        second = await p.outspends_many(TXIDS[3:5])
        return first, second, p.supports(Capability.OUTSPENDS_BATCH)

    (first, second, still), _ = run(server, use)
    assert first == {t: [OutSpend(False)] for t in TXIDS[:3]} and len(second) == 2
    assert not still
    assert server.paths.count("/api/txs/outspends") == 1 and len(server.paths) == 6


def test_no_batch_when_told_so() -> None:
    server = OutspendServer(batch=True)
    found, p = run(server, lambda p: p.outspends_many(TXIDS[:4]), batch_outspends=False)
    assert len(found) == 4 and "/api/txs/outspends" not in server.paths
    assert not p.supports(Capability.OUTSPENDS_BATCH)


def test_forced_batch_reports_errors() -> None:
    with pytest.raises(NotFound):
        run(
            OutspendServer(batch=False), lambda p: p.outspends_many(TXIDS[:2]), batch_outspends=True
        )


def test_capabilities() -> None:
    p = EsploraProvider("http://esplora.test/api", network=MAINNET)
    assert Capability.MULTIADDR not in p.capabilities
    assert {Capability.TX, Capability.MEMPOOL, Capability.OUTSPENDS_BATCH} <= p.capabilities


class UnknownTxServer(OutspendServer):
    """Has the batch endpoint, but one txid is unknown: the whole batch answers 404."""

    def __init__(self, unknown: str) -> None:
        super().__init__(batch=True)
        self.unknown = unknown

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.unknown in str(request.url):
            self.paths.append(request.url.path)
            return httpx.Response(404, text="Transaction not found")
        return super().__call__(request)


def test_a_404_about_an_unknown_tx_is_not_taken_for_a_missing_batch_endpoint() -> None:
    server = UnknownTxServer(TXIDS[1])

    async def use(p: EsploraProvider) -> Any:
        with pytest.raises(NotFound):
            await p.outspends_many(TXIDS[:3])
        assert p.probed() == {}  # nothing learned: the batch endpoint may well exist
        found = await p.outspends_many([TXIDS[0], TXIDS[2]])
        return found, p.probed()

    (found, probed), _ = run(server, use)
    assert len(found) == 2
    assert probed == {"http://esplora.test/api outspends_batch": True}
    assert server.paths[-1] == "/api/txs/outspends"


def test_what_a_probe_learned_is_taken_back_by_a_new_provider() -> None:
    server = OutspendServer(batch=False)
    _, first = run(server, lambda p: p.outspends_many(TXIDS[:2]))
    learned = first.probed()
    assert learned == {"http://esplora.test/api outspends_batch": False}
    server.paths.clear()

    async def use(p: EsploraProvider) -> Any:
        p.assume(learned)
        return await p.outspends_many(TXIDS[:2])

    run(server, use)
    assert "/api/txs/outspends" not in server.paths and len(server.paths) == 2
