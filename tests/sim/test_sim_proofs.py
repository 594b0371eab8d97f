"""The simulator's /tx/:txid/merkle-proof and /block/:hash/header, through EsploraProvider."""

from __future__ import annotations

import asyncio
import math

import httpx
import pytest

from btcwatch.chain.merkle import branch_for, verify_branch
from btcwatch.chain.tx import parse_header
from btcwatch.errors import BadResponse, NotFound
from btcwatch.providers import HttpOptions
from btcwatch.providers.esplora import EsploraProvider
from btcwatch.providers.factory import make_provider
from btcwatch.sim.chain import SimChain
from btcwatch.sim.server import SimServer


def test_every_tx_of_a_block_is_proven_through_the_api(chain: SimChain, server: SimServer) -> None:
    block = chain.block_at(chain.tip_height)
    assert block is not None and len(block.entries) > 1
    with httpx.Client(base_url=server.url, timeout=10) as api:
        header = parse_header(bytes.fromhex(api.get(f"/block/{block.hash}/header").text))
        assert header.hash == block.hash
        for pos, entry in enumerate(block.entries):
            answer = api.get(f"/tx/{entry.txid}/merkle-proof").json()
            assert set(answer) == {"block_height", "merkle", "pos"}
            assert answer["block_height"] == block.height and answer["pos"] == pos
            raw = bytes.fromhex(api.get(f"/tx/{entry.txid}/hex").text)
            branch = branch_for([e.txid for e in block.entries], pos)
            assert answer["merkle"] == list(branch.siblings)
            assert verify_branch(raw, entry.txid, branch, header.merkle_root) is None


def test_provider_fetches_proofs_and_refuses_unconfirmed(
    chain: SimChain, server: SimServer
) -> None:
    block = chain.block_at(chain.tip_height)
    assert block is not None
    unconfirmed = [e.txid for e in chain.mempool()]

    async def go() -> None:
        provider = make_provider(server.url, HttpOptions(rate=math.inf))
        try:
            height, branch = await provider.merkle_proof(block.entries[-1].txid)
            assert height == block.height and branch.pos == len(block.entries) - 1
            header = parse_header(await provider.block_header(block.hash))
            assert branch.root(block.entries[-1].txid) == header.merkle_root
            if unconfirmed:
                with pytest.raises(NotFound):
                    await provider.merkle_proof(unconfirmed[0])
        finally:
            await provider.aclose()

    asyncio.run(go())


def test_a_header_that_is_not_the_block_asked_for_is_refused(chain: SimChain) -> None:
    first, second = chain.block_at(chain.tip_height), chain.block_at(chain.tip_height - 1)
    assert first is not None and second is not None

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=second.header.serialize().hex())

    async def go() -> None:
        provider = EsploraProvider(
            "http://esplora.test/api",
            HttpOptions(transport=httpx.MockTransport(handler), rate=math.inf),
        )
        try:
            with pytest.raises(BadResponse, match="hashing to"):
                await provider.block_header(first.hash)
        finally:
            await provider.aclose()

    asyncio.run(go())
