"""Resilient HTTP: retries, backoff, Retry-After, failures, proxy fail-closed, evidence."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from provider_fakes import Sleeps

from btcwatch.errors import (
    BadResponse,
    ConfigError,
    NotFound,
    ProviderError,
    RateLimited,
    Unavailable,
)
from btcwatch.model import Evidence
from btcwatch.providers import DEFAULT_USER_AGENT, HttpOptions, capture_evidence
from btcwatch.providers._http import (
    HttpClient,
    RetryPolicy,
    parse_retry_after,
    public_proxy_url,
    throttler_for,
)
from btcwatch.providers.esplora import EsploraProvider

TXIDS = ["ab" * 32, "cd" * 32]
GOOD = json.dumps(TXIDS).encode()
URL = "http://esplora.test/api/mempool/txids"
NOW = datetime(2026, 11, 29, 18, 30, 0, tzinfo=UTC)
HTML_429 = b"<html><head><title>429 Too Many Requests</title></head><body>nginx</body></html>"


def scripted(*steps: Callable[[httpx.Request], httpx.Response] | httpx.Response) -> Any:
    """A handler answering with ``steps`` in turn (callables may raise), then GOOD forever."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) <= len(steps):
            step = steps[len(calls) - 1]
            return step(request) if callable(step) else step
        return httpx.Response(200, content=GOOD)

    handler.calls = calls  # type: ignore[attr-defined]
    return handler


def raising(
    exc: type[Exception], message: str = "boom"
) -> Callable[[httpx.Request], httpx.Response]:
    def step(request: httpx.Request) -> httpx.Response:
        raise exc(message, request=request)  # type: ignore[call-arg]

    return step


def provider(
    handler: Any, *, max_tries: int = 5, **kw: Any
) -> tuple[EsploraProvider, Sleeps, list[Evidence]]:
    sleeps = Sleeps()
    evidence: list[Evidence] = []
    options: dict[str, Any] = {
        "transport": httpx.MockTransport(handler),
        "rate": math.inf,
        "sleep": sleeps,
        "random": lambda: 0.0,
        "clock": lambda: NOW,
        "on_evidence": evidence.append,
        "retry": RetryPolicy(max_tries=max_tries),
    }
    options.update(kw)
    p = EsploraProvider("http://esplora.test/api", HttpOptions(**options), name="mempool.space")
    return p, sleeps, evidence


def call(p: EsploraProvider) -> list[str]:
    async def go() -> list[str]:
        async with p:
            return await p.mempool_txids()

    return asyncio.run(go())


def test_success_records_evidence() -> None:
    p, sleeps, evidence = provider(scripted())
    assert call(p) == TXIDS
    assert sleeps.waits == [] and p.requests == 1
    (record,) = evidence
    assert record == Evidence(
        "mempool.space", URL, "2026-11-29T18:30:00Z", 200, hashlib.sha256(GOOD).hexdigest(), GOOD
    )
    assert p.last_evidence == record


def test_429_without_retry_after_backs_off_exponentially() -> None:
    p, sleeps, evidence = provider(scripted(*[httpx.Response(429, content=HTML_429)] * 9))
    with pytest.raises(RateLimited) as info:
        call(p)
    assert sleeps.waits == [1.0, 2.0, 4.0, 8.0]
    assert p.requests == 5 and len(evidence) == 5
    assert {e.status for e in evidence} == {429}
    assert evidence[0].sha256 == hashlib.sha256(HTML_429).hexdigest()
    message = str(info.value)
    assert message == f"mempool.space: rate limited (HTTP 429); gave up after 5 tries ({URL})"


def test_jitter_adds_up_to_a_quarter() -> None:
    p, sleeps, _ = provider(scripted(*[httpx.Response(503)] * 3), random=lambda: 0.5)
    assert call(p) == TXIDS
    assert sleeps.waits == [1.125, 2.25, 4.5]


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(max_tries=12, base_delay=1.0, max_delay=60.0, jitter=0.0)
    assert [policy.backoff(n, 0.9) for n in (1, 6, 7, 11)] == [1.0, 32.0, 60.0, 60.0]


def test_429_html_body_then_success() -> None:
    p, sleeps, evidence = provider(scripted(httpx.Response(429, content=HTML_429)))
    assert call(p) == TXIDS
    assert sleeps.waits == [1.0]
    assert [e.status for e in evidence] == [429, 200]


def test_retry_after_seconds_is_honoured() -> None:
    p, sleeps, _ = provider(scripted(httpx.Response(429, headers={"Retry-After": "7"})))
    assert call(p) == TXIDS
    assert sleeps.waits == [7.0]


def test_retry_after_http_date_is_honoured() -> None:
    later = "Sun, 29 Nov 2026 18:30:20 GMT"
    p, sleeps, _ = provider(scripted(httpx.Response(503, headers={"Retry-After": later})))
    assert call(p) == TXIDS
    assert sleeps.waits == [20.0]


def test_retry_after_too_long_fails_at_once() -> None:
    p, sleeps, _ = provider(scripted(httpx.Response(429, headers={"Retry-After": "3600"})))
    with pytest.raises(RateLimited, match=r"server asks to wait 3600 s \(Retry-After\)"):
        call(p)
    assert sleeps.waits == [] and p.requests == 1


def test_parse_retry_after() -> None:
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after(" 12 ", NOW) == 12.0
    assert parse_retry_after("Sun, 29 Nov 2026 18:29:00 GMT", NOW) == 0.0  # in the past
    assert parse_retry_after("soon", NOW) is None


def test_5xx_then_success() -> None:
    p, sleeps, evidence = provider(scripted(httpx.Response(500), httpx.Response(502)))
    assert call(p) == TXIDS
    assert sleeps.waits == [1.0, 2.0]
    assert [e.status for e in evidence] == [500, 502, 200]


def test_5xx_every_time_is_unavailable() -> None:
    p, _, _ = provider(scripted(*[httpx.Response(503)] * 5), max_tries=3)
    with pytest.raises(Unavailable, match=r"server error \(HTTP 503\); gave up after 3 tries"):
        call(p)
    assert p.requests == 3


def test_timeouts_are_retried_then_unavailable() -> None:
    p, sleeps, evidence = provider(scripted(*[raising(httpx.ReadTimeout)] * 5))
    with pytest.raises(Unavailable, match=r"timed out \(ReadTimeout\); gave up after 5 tries"):
        call(p)
    assert sleeps.waits == [1.0, 2.0, 4.0, 8.0]
    assert evidence == []  # no response, no evidence
    assert p.requests == 5


def test_connection_errors_are_retried() -> None:
    p, sleeps, _ = provider(scripted(raising(httpx.ConnectError, "connection refused")))
    assert call(p) == TXIDS
    assert sleeps.waits == [1.0]


def test_dropped_connection_is_retried() -> None:
    dropped = raising(httpx.RemoteProtocolError, "peer closed connection without response")
    p, sleeps, _ = provider(scripted(dropped, dropped))
    assert call(p) == TXIDS
    assert sleeps.waits == [1.0, 2.0]


def test_truncated_json_is_retried() -> None:
    p, sleeps, evidence = provider(scripted(httpx.Response(200, content=GOOD[:20])))
    assert call(p) == TXIDS
    assert sleeps.waits == [1.0]
    assert [e.body for e in evidence] == [GOOD[:20], GOOD]
    assert p.last_evidence == evidence[1]


def test_always_truncated_is_a_bad_response() -> None:
    p, _, _ = provider(scripted(*[httpx.Response(200, content=GOOD[:20])] * 5))
    with pytest.raises(BadResponse, match="undecodable body"):
        call(p)


def test_404_is_not_found_at_once() -> None:
    p, sleeps, evidence = provider(scripted(httpx.Response(404, text="Transaction not found")))
    with pytest.raises(NotFound, match=r"not found \(HTTP 404\)"):
        call(p)
    assert sleeps.waits == [] and p.requests == 1 and evidence[0].status == 404


def test_other_4xx_is_not_retried() -> None:
    p, sleeps, _ = provider(scripted(httpx.Response(400, text="Invalid Bitcoin address")))
    with pytest.raises(ProviderError, match="HTTP 400: 'Invalid Bitcoin address'") as info:
        call(p)
    assert type(info.value) is ProviderError and sleeps.waits == []


def test_403_is_unavailable_without_retry() -> None:
    p, sleeps, _ = provider(scripted(httpx.Response(403, text="blocked")))
    with pytest.raises(Unavailable, match=r"refused \(HTTP 403\)"):
        call(p)
    assert sleeps.waits == []


def test_redirect_is_not_followed() -> None:
    moved = httpx.Response(301, headers={"Location": "https://esplora.test/api/mempool/txids"})
    p, _, evidence = provider(scripted(moved))
    with pytest.raises(ProviderError, match=r"redirected .* to https://esplora\.test/api/mempool"):
        call(p)
    assert evidence[0].status == 301


def test_neutral_user_agent_and_no_environment_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # would swallow the request if trusted
    handler = scripted()
    p, _, _ = provider(handler)
    assert call(p) == TXIDS
    agent = handler.calls[0].headers["User-Agent"]
    assert agent == DEFAULT_USER_AGENT and "btcwatch" not in agent.lower()


def test_capture_evidence_separates_concurrent_callers() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[request.url.path[-64:]])

    async def go() -> tuple[list[Evidence], list[Evidence]]:
        p, _, _ = provider(handler)
        async with p:

            async def one(txid: str) -> list[Evidence]:
                with capture_evidence() as used:
                    await p._http.get_json(f"/x/{txid}")
                    await asyncio.sleep(0)
                    await p._http.get_json(f"/y/{txid}")
                return used

            a, b = await asyncio.gather(one("a" * 64), one("b" * 64))
            return a, b

    a, b = asyncio.run(go())
    assert [e.url[-66:-65] for e in a] == ["x", "y"] and all(e.url.endswith("a" * 64) for e in a)
    assert all(e.url.endswith("b" * 64) for e in b) and len(b) == 2


def test_throttler_rates() -> None:
    assert throttler_for(None) is None
    two = throttler_for(2.0)
    assert two is not None and (two.rate_limit, two.period) == (2, 1.0)
    slow = throttler_for(0.1)
    assert slow is not None and (slow.rate_limit, slow.period) == (1, 10.0)
    with pytest.raises(ConfigError):
        throttler_for(0)


def test_configuration_errors() -> None:
    transport = httpx.MockTransport(scripted())
    with pytest.raises(ConfigError, match="transport or a proxy"):
        HttpClient(
            "x", "http://a.test", HttpOptions(transport=transport, proxy="socks5://127.0.0.1:9050")
        )
    with pytest.raises(ConfigError, match=r"not a proxy URL: 'socks4://127\.0\.0\.1:9050'"):
        HttpClient("x", "http://a.test", HttpOptions(proxy="socks4://127.0.0.1:9050"))
    with pytest.raises(ConfigError, match="not an explorer base URL"):
        HttpClient("x", "ftp://a.test")
    with pytest.raises(ConfigError, match="max_tries"):
        RetryPolicy(max_tries=0)


def test_public_proxy_url_hides_credentials() -> None:
    assert public_proxy_url("socks5h://alice:secret@127.0.0.1:9050") == "socks5h://127.0.0.1:9050"


# --- SOCKS proxy: fail closed ----------------------------------------------------------


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_dead_socks_proxy_fails_closed() -> None:
    port = closed_port()
    sleeps = Sleeps()
    p = EsploraProvider(
        "https://mempool.space/api",
        HttpOptions(
            proxy=f"socks5h://tor:secret@127.0.0.1:{port}",
            sleep=sleeps,
            random=lambda: 0.0,
            rate=math.inf,
            retry=RetryPolicy(max_tries=3),
        ),
    )
    with pytest.raises(Unavailable) as info:
        call(p)
    message = str(info.value)
    assert f"proxy socks5h://127.0.0.1:{port} is not reachable" in message
    assert "not connecting directly" in message and "secret" not in message
    assert "\n" not in message and message.startswith("mempool.space: ")
    assert sleeps.waits == [1.0, 2.0] and p.requests == 3


async def _socks5_server(reply: int, seen: list[str], body: bytes) -> tuple[asyncio.Server, int]:
    """A minimal SOCKS5 proxy on loopback: it records the host asked for and, when ``reply``
    is 0, answers the tunnelled HTTP request itself (standing in for the explorer)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _version, count = await reader.readexactly(2)
        await reader.readexactly(count)
        writer.write(b"\x05\x00")
        _v, _cmd, _rsv, atyp = await reader.readexactly(4)
        assert atyp == 3  # a domain name: DNS is resolved by the proxy, not by us
        (size,) = await reader.readexactly(1)
        host = (await reader.readexactly(size)).decode()
        port = int.from_bytes(await reader.readexactly(2), "big")
        seen.append(f"{host}:{port}")
        writer.write(bytes([5, reply, 0, 1, 0, 0, 0, 0, 0, 0]))
        if reply == 0:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_requests_go_through_the_socks_proxy() -> None:
    seen: list[str] = []

    async def go() -> list[str]:
        server, port = await _socks5_server(0, seen, GOOD)
        async with server:
            p = EsploraProvider(
                "http://explorer.invalid/api",
                HttpOptions(proxy=f"socks5://127.0.0.1:{port}", rate=math.inf),
            )
            async with p:
                return await p.mempool_txids()

    assert asyncio.run(go()) == TXIDS
    assert seen == ["explorer.invalid:80"]


def test_proxy_that_cannot_reach_the_explorer_is_unavailable() -> None:
    seen: list[str] = []

    async def go() -> None:
        server, port = await _socks5_server(5, seen, b"")  # 5: connection refused
        async with server:
            p = EsploraProvider(
                "http://explorer.invalid/api",
                HttpOptions(
                    proxy=f"socks5://127.0.0.1:{port}",
                    rate=math.inf,
                    retry=RetryPolicy(max_tries=2),
                    sleep=Sleeps(),
                ),
            )
            async with p:
                await p.mempool_txids()

    with pytest.raises(Unavailable, match=r"proxy socks5://127.0.0.1:\d+ refused the request"):
        asyncio.run(go())
    assert seen == ["explorer.invalid:80"] * 2
