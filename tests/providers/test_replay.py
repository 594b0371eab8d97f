"""The replay explorer: recorded answers in recorded order, nothing else, no network."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from btcwatch.errors import ProviderError
from btcwatch.model import Evidence
from btcwatch.providers.replay import Recorded, base_url, replay_provider

BASE = "https://esplora.test/api"
H1, H2 = "11" * 32, "22" * 32


def rec(path: str, body: bytes, at: str, *, kept: bool = True) -> Recorded:
    sha = hashlib.sha256(body).hexdigest()
    return Recorded("esplora.test", BASE + path, at, 200, sha, body if kept else b"")


def block_json(block_hash: str, height: int) -> bytes:
    return (
        f'{{"id":"{block_hash}","height":{height},"version":1,"timestamp":1,"tx_count":1,'
        f'"size":1,"weight":4,"merkle_root":"{"33" * 32}","previousblockhash":null,'
        f'"mediantime":1,"nonce":0,"bits":0}}'
    ).encode()


def test_answers_come_back_in_recorded_order_with_their_recorded_time() -> None:
    seen: list[Evidence] = []
    provider = replay_provider(
        [
            rec("/blocks/tip/hash", H1.encode(), "2026-01-01T00:00:00Z"),
            rec(f"/block/{H1}", block_json(H1, 7), "2026-01-01T00:00:01Z"),
            rec("/blocks/tip/hash", H2.encode(), "2026-01-02T00:00:00Z"),
            rec(f"/block/{H2}", block_json(H2, 8), "2026-01-02T00:00:01Z"),
        ],
        on_evidence=seen.append,
    )

    async def go() -> list[int]:
        try:
            return [(await provider.tip()).height for _ in range(3)]
        finally:
            await provider.aclose()

    assert asyncio.run(go()) == [7, 8, 8]  # the last recording repeats
    assert [e.fetched_at for e in seen[:2]] == ["2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"]
    assert provider.name == "esplora.test"


def test_anything_not_recorded_or_recorded_without_its_body_fails_loudly() -> None:
    provider = replay_provider([rec(f"/tx/{H1}/hex", b"00", "2026-01-01T00:00:00Z", kept=False)])

    async def go() -> None:
        try:
            with pytest.raises(ProviderError, match="not recorded in the bundle"):
                await provider.tx(H2)
            with pytest.raises(ProviderError, match="SHA-256 only"):
                await provider.tx_raw(H1)
        finally:
            await provider.aclose()

    asyncio.run(go())


def test_base_urls_of_recorded_answers() -> None:
    assert base_url(f"{BASE}/tx/{H1}") == BASE
    assert base_url("http://127.0.0.1:5/api/address/bc1q/txs/chain/ab") == "http://127.0.0.1:5/api"
    assert base_url("http://127.0.0.1:5/rawaddr/1abc") is None
