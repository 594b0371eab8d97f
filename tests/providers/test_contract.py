"""The contract: the same real transactions give the same `Tx` through every backend.

Real txs come from two sources in two formats (mempool.space in Esplora format, the
WannaCry histories in blockchain.info format). Each real tx is rendered into every
backend's wire JSON by the independent renderers in provider_fakes.py and parsed back, first
by the pure parsers and then through the providers themselves over a mock transport.
The one documented difference: blockchain.info gives no block hash (BlockRef.hash is None).
"""

from __future__ import annotations

import asyncio
import math
import re

import httpx
import pytest
from provider_fakes import (
    bci_txids,
    json_response,
    placeholders,
    real_esplora_txs,
    render_bci_tx,
    render_esplora_tx,
    tx_index,
    wannacry,
    without_block_hash,
)

from btcwatch.chain.network import MAINNET
from btcwatch.model import Tx
from btcwatch.providers import HttpOptions, blockchain_info_parse, esplora_parse
from btcwatch.providers.blockchain_info import BlockchainInfoProvider
from btcwatch.providers.esplora import EsploraProvider
from btcwatch.providers.pool import tx_differences

ESPLORA_TXS = real_esplora_txs()
WANNACRY_TXS = [
    blockchain_info_parse.parse_tx(obj, MAINNET, txids=placeholders(history))
    for history in (wannacry(n) for n in (1, 2, 3))
    for obj in history["txs"][::10]  # every tenth: all six cash-outs are covered below
] + [
    blockchain_info_parse.parse_tx(obj, MAINNET, txids=placeholders(history))
    for history in (wannacry(n) for n in (1, 2, 3))
    for obj in history["txs"]
    if len(obj["inputs"]) > 30
]
SOME_HASH = "00000000000000000005f8c0fa3d03f3f5e9a8cd0aeb0bd6a4a9e7ab1b1d2f31"


def _id(tx: Tx) -> str:
    return tx.txid[:12]


def test_the_real_sample_is_varied() -> None:
    assert len(ESPLORA_TXS) == 14 and len(WANNACRY_TXS) >= 40
    assert sum(len(t.inputs) > 30 for t in WANNACRY_TXS) >= 6  # the cash-outs
    assert any(not t.confirmed for t in ESPLORA_TXS) and any(t.confirmed for t in ESPLORA_TXS)


@pytest.mark.parametrize("tx", ESPLORA_TXS, ids=_id)
def test_esplora_sourced_txs_through_both_parsers(tx: Tx) -> None:
    via_esplora = esplora_parse.parse_tx(render_esplora_tx(tx), MAINNET)
    via_bci = blockchain_info_parse.parse_tx(render_bci_tx(tx), MAINNET, txids=bci_txids(tx))
    assert via_esplora == tx
    assert via_bci == without_block_hash(tx)
    assert tx_differences(via_esplora, via_bci) == ()


@pytest.mark.parametrize("tx", WANNACRY_TXS, ids=_id)
def test_blockchain_info_sourced_txs_through_both_parsers(tx: Tx) -> None:
    via_bci = blockchain_info_parse.parse_tx(render_bci_tx(tx), MAINNET, txids=bci_txids(tx))
    via_esplora = esplora_parse.parse_tx(render_esplora_tx(tx, block_hash=SOME_HASH), MAINNET)
    assert via_bci == tx
    assert without_block_hash(via_esplora) == tx
    assert tx_differences(via_esplora, via_bci) == ()


def contract_router(txs: list[Tx]) -> httpx.MockTransport:
    """Both explorers over the same txs: Esplora at /api, blockchain.info at the root."""
    by_id = {t.txid: t for t in txs}
    by_index = {tx_index(t.txid): t.txid for t in txs} | {
        tx_index(i.prevout.txid): i.prevout.txid for t in txs for i in t.inputs if i.prevout
    }

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if m := re.fullmatch(r"/api/tx/(\w{64})", path):
            return json_response(render_esplora_tx(by_id[m[1]], block_hash=SOME_HASH))
        if m := re.fullmatch(r"/rawtx/(\w{64})", path):
            return json_response(render_bci_tx(by_id[m[1]]))
        if m := re.fullmatch(r"/rawtx/(\d+)", path):  # a spent tx, looked up by tx_index
            return json_response({"hash": by_index[int(m[1])], "tx_index": int(m[1])})
        return httpx.Response(404)

    return httpx.MockTransport(handler)


def test_every_backend_gives_the_same_tx() -> None:
    txs = ESPLORA_TXS + WANNACRY_TXS
    transport = contract_router(txs)

    async def fetch_all() -> tuple[list[Tx], list[Tx], int]:
        async with (
            EsploraProvider(
                "http://x.test/api", HttpOptions(transport=transport, rate=math.inf)
            ) as e,
            BlockchainInfoProvider(
                "http://x.test", HttpOptions(transport=transport, rate=math.inf)
            ) as b,
        ):
            from_e = [await e.tx(t.txid) for t in txs]
            from_b = [await b.tx(t.txid) for t in txs]
            return from_e, from_b, b.requests

    from_e, from_b, bci_requests = asyncio.run(fetch_all())
    for tx, a, b in zip(txs, from_e, from_b, strict=True):
        assert without_block_hash(a) == without_block_hash(tx) == b
        assert tx_differences(a, b) == ()
    # one /rawtx per tx, plus one per spent tx the client has not seen by then
    seen: set[str] = set()
    expected = 0
    for t in txs:
        seen.add(t.txid)
        spent = {i.prevout.txid for i in t.inputs if i.prevout} - seen
        expected += 1 + len(spent)
        seen |= spent
    assert bci_requests == expected
