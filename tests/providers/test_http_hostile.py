"""Hostile explorers (issue 12, items 4, 5, 10): endless bodies, trickling bodies, 429 storms.

The endless and trickling explorers are real asyncio servers on 127.0.0.1:0 (`hostile.py`); the
rate-limited one is the project's simulator with ``rate_limit``. Outcomes are asserted, not
durations: a regression shows up as a wrong error, more requests, or a test timeout.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter

import httpx
import pytest
from hostile import hostile_explorer

from btcwatch.errors import BadResponse, Unavailable
from btcwatch.model import Evidence
from btcwatch.providers import HttpOptions
from btcwatch.providers._http import HttpClient, RetryPolicy
from btcwatch.providers._pace import MIN_RATE, AdaptiveRate
from btcwatch.providers.base import gather_limited
from btcwatch.providers.esplora import MAX_HASH, EsploraProvider
from btcwatch.providers.factory import make_pool, make_provider
from btcwatch.sim import SimChain, SimServer, vastaamo

# --- item 4: size caps, enforced while streaming ------------------------------------------


def test_endless_tip_hash_is_a_bad_answer_after_one_request() -> None:
    with hostile_explorer("endless") as bad:

        async def go() -> None:
            async with EsploraProvider(bad.url, HttpOptions(rate=math.inf)) as p:
                await p.tip()

        with pytest.raises(BadResponse, match=f"answer larger than {MAX_HASH} bytes"):
            asyncio.run(go())
        assert bad.requests == 1  # never retried into memory


def test_declared_oversize_body_is_refused_before_reading() -> None:
    sent: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(1)
        return httpx.Response(200, content=b"0" * 5000)

    async def go() -> None:
        client = HttpClient(
            "x", "http://x.test/api", HttpOptions(transport=httpx.MockTransport(handler))
        )
        try:
            await client.get_text("/blocks/tip/hash", max_bytes=100)
        finally:
            await client.aclose()

    with pytest.raises(BadResponse, match="larger than 100 bytes"):
        asyncio.run(go())
    assert len(sent) == 1


def test_body_at_the_cap_is_accepted() -> None:
    body = b"ab" * 32

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    async def go() -> str:
        client = HttpClient(
            "x", "http://x.test/api", HttpOptions(transport=httpx.MockTransport(handler))
        )
        try:
            return await client.get_text("/blocks/tip/hash", max_bytes=len(body))
        finally:
            await client.aclose()

    assert asyncio.run(go()) == body.decode()


def test_endless_explorer_fails_over_to_the_next(tmp_path: object) -> None:
    scenario = vastaamo(victims=3, seed=7, background=1)
    chain = SimChain.from_scenario(scenario)
    chain.advance(2)
    with hostile_explorer("endless") as bad, SimServer(chain) as good:

        async def go() -> int:
            pool = make_pool([bad.url, good.url], HttpOptions(rate=math.inf))
            async with pool:
                return (await pool.tip()).height

        assert asyncio.run(go()) == chain.tip_height


# --- item 5: a total deadline per request -------------------------------------------------


def test_trickling_explorer_hits_the_total_deadline_and_is_not_retried() -> None:
    with hostile_explorer("trickle", every=0.2) as slow:

        async def go() -> None:
            client = HttpClient(
                "slow",
                slow.url,
                HttpOptions(rate=math.inf, deadline=1.0, retry=RetryPolicy(max_tries=5)),
            )
            try:
                await client.get_text("/blocks/tip/hash", max_bytes=1_000_000)
            finally:
                await client.aclose()

        with pytest.raises(
            Unavailable, match=r"no complete answer within 1 s \(request deadline\)"
        ):
            asyncio.run(go())
        assert slow.requests == 1


# --- item 10: the pace adapts to 429s -----------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_429_halves_once_per_pace_and_recovers_below_the_limit_found() -> None:
    clock = FakeClock()
    pace = AdaptiveRate(8.0, patience=3, clock=clock, sleep=clock.sleep)
    assert pace.learned is None
    first = asyncio.run(pace.acquire())
    pace.on_rate_limited(first)
    assert pace.current == 4.0 and pace.learned == 4.0
    pace.on_rate_limited(first)  # sent at the old pace: already accounted for
    assert pace.current == 4.0 and pace.slowdowns == 1
    for _ in range(30):
        asyncio.run(pace.acquire())
        pace.on_success()
    # additive increase, never past 90% of the rate that earned the 429 (8/s)
    assert pace.current is not None and 4.0 < pace.current <= 7.2
    # paced: one request every 1/current seconds
    assert all(w <= 1 / 4.0 + 1e-9 for w in clock.waits) and clock.waits


def test_increase_never_exceeds_the_ceiling_and_learned_clears() -> None:
    clock = FakeClock()
    pace = AdaptiveRate(2.0, start=1.5, patience=1, forget_after=0, clock=clock, sleep=clock.sleep)
    assert pace.learned == 1.5
    for _ in range(20):
        pace.on_success()
        clock.now += 1
    assert pace.learned is None  # back at the configured rate: nothing learned to keep


def test_unlimited_client_halves_the_rate_it_achieved() -> None:
    clock = FakeClock()
    pace = AdaptiveRate(None, clock=clock, sleep=clock.sleep)
    for _ in range(11):
        asyncio.run(pace.acquire())
        clock.now += 0.2  # 5 requests/s
    pace.on_rate_limited(pace.epoch)
    assert pace.current == pytest.approx(2.5)
    pace.on_rate_limited(pace.epoch)  # too soon: the server's bucket may not have refilled
    assert pace.slowdowns == 1
    clock.now += 1.0
    pace.on_rate_limited(pace.epoch)  # a 429 at the new pace, a second later, halves it
    assert pace.current == pytest.approx(1.25) and pace.slowdowns == 2
    assert AdaptiveRate(None, start=0.0001).current == MIN_RATE


def test_start_rate_and_learned_rates_round_trip() -> None:
    fresh = make_provider("mempool")
    base = fresh.base_url  # learned rates are keyed by the explorer's own base URL
    assert fresh.learned_rates() == {base: None}
    p = make_provider("mempool", HttpOptions(learned={base: 1.25}))
    assert p.learned_rates() == {base: 1.25}


def test_client_converges_below_the_simulators_limit() -> None:
    """Behind `sim serve --rate-limit 10`, an unthrottled client finds a pace that gets no 429."""
    scenario = vastaamo(victims=3, seed=7, background=1)
    chain = SimChain.from_scenario(scenario)
    chain.advance(2)
    statuses: list[int] = []

    def seen(ev: Evidence) -> None:
        statuses.append(ev.status)

    with SimServer(chain, rate_limit=10.0) as srv:

        async def go() -> float | None:
            # loopback: no configured rate
            p = make_provider(srv.url, HttpOptions(on_evidence=seen))
            async with p:
                await gather_limited(list(range(160)), lambda _: p.block_hash(chain.tip_height))
                (learned,) = p.learned_rates().values()
                return learned

        learned = asyncio.run(go())
    counts = Counter(statuses)
    assert counts[429] > 0  # it did hit the limit at first
    assert learned is not None and learned < 15.0  # from hundreds per second down to ~10
    assert 429 not in statuses[-30:]  # and then stopped hitting it
