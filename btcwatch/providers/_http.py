"""The HTTP client every backend shares: throttle, retry with backoff, proxy, evidence.

Design notes (why it is this way):

- One ``httpx.AsyncClient`` per provider, so connections are reused and tests inject
  ``transport=httpx.MockTransport(handler)``. ``trust_env=False``: an HTTP(S)_PROXY variable in
  the environment must never silently decide where investigators' queries go.
- A neutral User-Agent. The explorer's operator sees every address we ask about; a header
  saying "btcwatch" would tell them (and anyone they share logs with, possibly the criminals
  on a self-hosted explorer) that an investigator is watching that ransom address, and it
  would single us out among Tor users. We send the Tor Browser's uniform Firefox string.
- Proxy (e.g. Tor at ``socks5://127.0.0.1:9050``) fails closed: every request goes through
  it or fails with Unavailable naming the proxy; there is no direct fallback.
- Retries: 429, 5xx, 408, timeouts, connection errors, dropped connections and bodies that do
  not decode (truncated JSON) are retried with exponential backoff and jitter, honouring
  Retry-After (seconds or HTTP date). 404 raises NotFound at once. Other 4xx are not retried.
  ``sleep`` and ``random`` are injected so tests assert the waits instead of waiting.
- Bounded answers: every body is read as a stream with a running total against a size cap
  given per endpoint by the provider (a tip hash is 64 bytes, a raw block a few MB); a body
  past its cap is a bad answer (BadResponse) at once, never retried into memory.
- A total deadline per request (connect + whole body), not just per read: an explorer that
  trickles one byte every few seconds is cut off and the request fails with Unavailable
  without retrying on that explorer (it would trickle again); the pool fails over.
- The pace adapts to 429s (see `btcwatch.providers._pace`): ``start_rate`` is the pace learned
  earlier, `HttpClient.learned_rate` the pace learned now, for the caller to keep.
- Evidence: every response, whatever its status, becomes a `model.Evidence` handed to
  ``on_evidence``; the body is hashed as httpx delivers it (Content-Encoding removed), i.e. the
  document a third party gets by asking the same URL.
- One `HttpOptions` value carries all of the above from the CLI down to every client (as httpx
  passes one ``Timeout`` and one transport), instead of a dozen keywords on every layer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random as random_module
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
from asyncio_throttle.throttler import Throttler

from btcwatch.errors import (
    BadResponse,
    ConfigError,
    NotFound,
    ProviderError,
    RateLimited,
    Unavailable,
)
from btcwatch.model import Evidence
from btcwatch.providers._pace import AdaptiveRate
from btcwatch.timefmt import iso_utc, utc_now

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_USER_AGENT",
    "EvidenceSink",
    "HttpClient",
    "HttpOptions",
    "RetryPolicy",
    "capture_evidence",
    "public_proxy_url",
]

T = TypeVar("T")
EvidenceSink = Callable[[Evidence], None]
Sleep = Callable[[float], Awaitable[Any]]

# Tor Browser 128 ESR sends this on every platform, so it is the crowd to hide in.
DEFAULT_USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"
DEFAULT_TIMEOUT = 30.0  # seconds per read; Tor circuits are slow but not this slow
DEFAULT_DEADLINE = 40.0  # seconds per request, connect to last byte (a 4 MB block over Tor)
DEFAULT_MAX_BYTES = 8 * 1024 * 1024  # a body cap for endpoints that do not name their own
_CHUNK = 64 * 1024
PROXY_SCHEMES = ("socks5", "socks5h", "http", "https")
_SNIPPET = 120  # characters of an error body shown in a message


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try: ``max_tries`` attempts, waits of base*2^(n-1) (capped) plus jitter.

    The jitter is a random extra of up to ``jitter`` times the wait, so many watchers behind
    one NAT or Tor exit do not retry in lockstep. A Retry-After longer than
    ``max_retry_after`` is not waited for: the call fails with RateLimited at once.
    """

    max_tries: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.25
    max_retry_after: float = 300.0

    def __post_init__(self) -> None:
        if self.max_tries < 1:
            raise ConfigError(f"max_tries must be at least 1, not {self.max_tries}")

    def backoff(self, failures: int, rnd: float) -> float:
        """Wait after the ``failures``-th failed attempt; ``rnd`` is uniform in [0, 1)."""
        wait = min(self.max_delay, self.base_delay * 2.0 ** (failures - 1))
        return wait * (1.0 + self.jitter * rnd)


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """How to talk to explorers, the same for every one of them in a run.

    ``rate`` is requests per second: None lets each explorer (or the provider class) use its
    own default, ``math.inf`` means no limit. ``learned`` maps a base URL to the pace learned
    from 429s by an earlier run, to start at (`HttpClient.learned_rate`). ``transport``
    replaces the network (tests, replays) and excludes ``proxy``.
    """

    transport: httpx.AsyncBaseTransport | None = None
    proxy: str | None = None
    rate: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = asyncio.sleep
    clock: Callable[[], datetime] = utc_now
    random: Callable[[], float] | None = None
    on_evidence: EvidenceSink | None = None
    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = DEFAULT_TIMEOUT
    deadline: float = DEFAULT_DEADLINE
    learned: Mapping[str, float] = field(default_factory=dict)


# Evidence collectors of the running task (and the tasks it starts): see capture_evidence.
_CAPTURE: ContextVar[tuple[list[Evidence], ...]] = ContextVar("btcwatch_evidence", default=())


@contextmanager
def capture_evidence() -> Iterator[list[Evidence]]:
    """Collect the successful responses that the calls made inside the block were built from.

    ``with capture_evidence() as used: tx = await provider.tx(txid)`` leaves in ``used`` the
    evidence behind ``tx`` even when other tasks use the same provider at the same time
    (the collector lives in the task's context, which tasks started inside inherit).
    """
    records: list[Evidence] = []
    token = _CAPTURE.set((*_CAPTURE.get(), records))
    try:
        yield records
    finally:
        _CAPTURE.reset(token)


def public_proxy_url(proxy: str) -> str:
    """The proxy URL without user and password, fit for messages and logs."""
    parts = urlsplit(proxy)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def check_proxy(proxy: str) -> str:
    try:
        parts = urlsplit(proxy)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"not a proxy URL: {proxy!r}") from None
    if parts.scheme not in PROXY_SCHEMES or not parts.hostname:
        raise ConfigError(
            f"not a proxy URL: {proxy!r} (expected e.g. socks5://127.0.0.1:9050;"
            f" schemes: {', '.join(PROXY_SCHEMES)})"
        )
    return proxy


def check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ConfigError(f"not an explorer base URL: {base_url!r} (expected http(s)://host/path)")
    return base_url.rstrip("/")


def throttler_for(rate: float | None) -> Throttler | None:
    """A Throttler allowing ``rate`` requests per second on average (None: no limit)."""
    if rate is None:
        return None
    if rate <= 0:
        raise ConfigError(f"request rate must be positive, not {rate}")
    if rate >= 1:
        count = round(rate)
        return Throttler(rate_limit=count, period=count / rate)
    return Throttler(rate_limit=1, period=1.0 / rate)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), if usable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def decode_json(body: bytes) -> Any:
    return json.loads(body)


def decode_text(body: bytes) -> str:
    return body.decode("utf-8").strip()


def decode_bytes(body: bytes) -> bytes:
    return body


def _snippet(body: bytes) -> str:
    text = " ".join(body[:400].decode("utf-8", "replace").split())
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 3] + "..."


@dataclass(frozen=True, slots=True)
class _Failure:
    """A failed attempt that may be retried: what to raise at the end, and why."""

    error: type[ProviderError]
    problem: str
    retry_after: float | None = None
    final: bool = False  # not worth another try on this explorer


class _TooBig(Exception):
    """A body past its size cap (raised while streaming, before it is all in memory)."""

    def __init__(self, read: int, cap: int, *, declared: bool = False) -> None:
        how = f"declares {read} bytes" if declared else f"read {read} so far"
        super().__init__(f"answer larger than {cap} bytes ({how})")


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: httpx.Headers
    url: str
    body: bytes


class HttpClient:
    """GET with throttle, retry, proxy and evidence capture, for one provider.

    ``options.rate`` None or ``math.inf``: no limit (a provider resolves None to its default
    before it builds the client).
    """

    def __init__(self, provider: str, base_url: str, options: HttpOptions | None = None) -> None:
        opts = options or HttpOptions()
        if opts.deadline <= 0:
            raise ConfigError(f"request deadline must be positive, not {opts.deadline}")
        if opts.transport is not None and opts.proxy is not None:
            raise ConfigError("give a transport or a proxy, not both (a transport bypasses it)")
        self.provider = provider
        self.base_url = check_base_url(base_url)
        self.proxy = None if opts.proxy is None else check_proxy(opts.proxy)
        self.retry = opts.retry
        self.requests = 0
        self.last_evidence: Evidence | None = None
        self.deadline = opts.deadline
        rate = None if opts.rate is None or math.isinf(opts.rate) else opts.rate
        self._throttler = throttler_for(rate)
        self.pace = AdaptiveRate(rate, opts.learned.get(self.base_url))
        self._sleep = opts.sleep
        self._clock = opts.clock
        self._random = opts.random or random_module.Random().random
        self._on_evidence = opts.on_evidence
        self._client = httpx.AsyncClient(
            transport=opts.transport,
            proxy=self.proxy,
            timeout=httpx.Timeout(opts.timeout, connect=min(opts.timeout, 15.0)),
            headers={"User-Agent": opts.user_agent, "Accept": "*/*"},
            follow_redirects=False,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def learned_rate(self) -> float | None:
        """The pace (requests/s) learned below the configured rate, None while none is needed."""
        return self.pace.learned

    async def get_json(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> Any:
        return await self.get(path, decode_json, params, max_bytes=max_bytes)

    async def get_text(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> str:
        return await self.get(path, decode_text, params, max_bytes=max_bytes)

    async def get_bytes(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> bytes:
        return await self.get(path, decode_bytes, params, max_bytes=max_bytes)

    async def get(
        self,
        path: str,
        decode: Callable[[bytes], T],
        params: Mapping[str, str] | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> T:
        """GET ``base_url + path``; the decoded body of the first good response.

        ``decode`` raising ValueError (e.g. truncated JSON) counts as a failed attempt. A body
        over ``max_bytes`` raises BadResponse at once; a request past the total deadline
        raises Unavailable at once (both: another explorer may do better).
        """
        url = self.url(path)
        shown = str(httpx.URL(url, params=params)) if params else url
        failures = 0
        while True:
            if self._throttler is not None:
                await self._throttler.acquire()  # type: ignore[no-untyped-call]
            epoch = await self.pace.acquire()
            self.requests += 1
            try:
                answer = await self._fetch(url, params, max_bytes)
            except _TooBig as exc:
                raise BadResponse(
                    f"bad response: {exc}", provider=self.provider, url=shown
                ) from None
            except TimeoutError:
                failure = _Failure(
                    Unavailable,
                    f"no complete answer within {self.deadline:g} s (request deadline)",
                    final=True,
                )
            except httpx.TransportError as exc:
                failure = _Failure(Unavailable, self._transport_problem(exc))
            else:
                evidence = self._record(answer)
                shown = evidence.url
                if 200 <= answer.status < 300:
                    try:
                        value = decode(answer.body)
                    except (ValueError, UnicodeDecodeError) as exc:
                        snippet = _snippet(answer.body)
                        failure = _Failure(
                            BadResponse, f"undecodable body ({_reason(exc)}): {snippet!r}"
                        )
                    else:
                        self.pace.on_success()
                        self._used(evidence)
                        return value
                else:
                    failure = self._judge(answer, shown)
                    if answer.status == 429:
                        self.pace.on_rate_limited(epoch)
            failures += 1
            if failure.final:
                raise failure.error(failure.problem, provider=self.provider, url=shown)
            if failures >= self.retry.max_tries:
                raise failure.error(
                    f"{failure.problem}; gave up after {failures} tries",
                    provider=self.provider,
                    url=shown,
                )
            wait = failure.retry_after
            if wait is not None and wait > self.retry.max_retry_after:
                raise failure.error(
                    f"{failure.problem}; server asks to wait {wait:.0f} s (Retry-After),"
                    f" more than {self.retry.max_retry_after:.0f} s",
                    provider=self.provider,
                    url=shown,
                )
            await self._sleep(
                wait if wait is not None else self.retry.backoff(failures, self._random())
            )

    async def _fetch(self, url: str, params: Mapping[str, str] | None, max_bytes: int) -> _Answer:
        """One attempt, connect to last byte within the deadline, the body read up to the cap."""
        async with asyncio.timeout(self.deadline):
            async with self._client.stream("GET", url, params=params) as response:
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise _TooBig(int(declared), max_bytes, declared=True)
                chunks: list[bytes] = []
                total = 0
                async for chunk in response.aiter_bytes(_CHUNK):
                    total += len(chunk)
                    if total > max_bytes:
                        raise _TooBig(total, max_bytes)
                    chunks.append(chunk)
                return _Answer(
                    response.status_code,
                    response.headers,
                    str(response.request.url),
                    b"".join(chunks),
                )

    def _transport_problem(self, exc: httpx.TransportError) -> str:
        if isinstance(exc, httpx.TimeoutException):
            return f"timed out ({type(exc).__name__})"
        if isinstance(exc, httpx.ProxyError):
            return self._proxy_problem("refused the request", exc)
        if isinstance(exc, httpx.ConnectError):
            if self.proxy:
                return self._proxy_problem("is not reachable", exc)
            return f"cannot connect ({_reason(exc)})"
        return f"connection failed ({_reason(exc)})"

    def _judge(self, response: _Answer, url: str) -> _Failure:
        """A retryable failure for 429, 5xx and 408; any other status raises at once."""
        status = response.status
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
        if status == 429:
            return _Failure(RateLimited, "rate limited (HTTP 429)", retry_after)
        if status >= 500 or status == 408:
            return _Failure(Unavailable, f"server error (HTTP {status})", retry_after)
        if status == 404:
            raise NotFound("not found (HTTP 404)", provider=self.provider, url=url)
        snippet = _snippet(response.body)
        if 300 <= status < 400:
            target = response.headers.get("Location", "?")
            message = f"redirected (HTTP {status}) to {target}; configure that URL instead"
            raise ProviderError(message, provider=self.provider, url=url)
        if status == 403:  # e.g. a Tor exit blocked: another explorer may still answer
            raise Unavailable(f"refused (HTTP 403): {snippet!r}", provider=self.provider, url=url)
        raise ProviderError(f"HTTP {status}: {snippet!r}", provider=self.provider, url=url)

    def _proxy_problem(self, what: str, exc: Exception) -> str:
        shown = public_proxy_url(self.proxy or "")
        return f"proxy {shown} {what} ({_reason(exc)}); not connecting directly"

    def _record(self, response: _Answer) -> Evidence:
        body = response.body
        evidence = Evidence(
            provider=self.provider,
            url=response.url,
            fetched_at=iso_utc(self._clock()),
            status=response.status,
            sha256=hashlib.sha256(body).hexdigest(),
            body=body,
        )
        if self._on_evidence is not None:
            self._on_evidence(evidence)
        return evidence

    def _used(self, evidence: Evidence) -> None:
        self.last_evidence = evidence
        for records in _CAPTURE.get():
            records.append(evidence)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
