"""``--explorer replay:BUNDLE``: an explorer that answers only from a bundle's recorded answers.

Every response btcwatch ever archived (the bundled database's evidence table) is served again,
byte for byte, to the same URL, through the ordinary Esplora provider: the same parsing, the
same checks, the same request count. The n-th request for a URL gets the n-th recording of it
(the last one again after that), and its recorded time becomes the evidence's ``fetched_at``.
Anything not recorded, or recorded only by its hash, fails loudly naming the URL: a replay
never guesses and never reaches the network.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx

from btcwatch.chain.network import MAINNET, Network
from btcwatch.errors import ConfigError
from btcwatch.providers._http import EvidenceSink, HttpOptions, RetryPolicy
from btcwatch.providers.base import Provider
from btcwatch.providers.esplora import EsploraProvider
from btcwatch.providers.pool import ProviderPool
from btcwatch.timefmt import parse_iso_utc, utc_now

__all__ = ["PREFIX", "Recorded", "ReplayTransport", "replay_provider"]

PREFIX = "replay:"
#: Where an Esplora API path starts inside a recorded URL (what precedes it is the base URL).
_API_PATHS = ("/tx/", "/txs/", "/block/", "/blocks/", "/block-height/", "/address/",
              "/scripthash/", "/mempool", "/fee-estimates")  # fmt: skip
#: The status a replay answers for anything it cannot serve; the provider raises at once on it.
NOT_RECORDED = 410


@dataclass(frozen=True, slots=True)
class Recorded:
    """One archived response."""

    provider: str
    url: str
    fetched_at: str
    status: int
    sha256: str
    body: bytes

    @property
    def body_kept(self) -> bool:
        return hashlib.sha256(self.body).hexdigest() == self.sha256


def base_url(url: str) -> str | None:
    """The explorer base URL a recorded Esplora URL was made from (None: not Esplora)."""
    cut = [i for i in (url.find(p) for p in _API_PATHS) if i > 0]
    return url[: min(cut)] if cut else None


class ReplayTransport(httpx.AsyncBaseTransport):
    """Serves recorded responses by URL, in recorded order; 410 for anything else."""

    def __init__(self, recordings: Sequence[Recorded]) -> None:
        self._by_url: dict[str, list[Recorded]] = {}
        for rec in recordings:
            self._by_url.setdefault(rec.url, []).append(rec)
        self._served: Counter[str] = Counter()
        self._last: Recorded | None = None
        self.missing: list[str] = []

    def clock(self) -> datetime:
        """The recorded time of the answer being served (the wall clock before any)."""
        if self._last is None:
            return utc_now()
        return parse_iso_utc(self._last.fetched_at)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        answers = self._by_url.get(url)
        if not answers:
            self.missing.append(url)
            return self._refuse(request, "not recorded in the bundle")
        n = self._served[url]
        self._served[url] += 1
        rec = answers[min(n, len(answers) - 1)]
        if not rec.body_kept:
            self.missing.append(url)
            return self._refuse(request, "recorded by its SHA-256 only, without the body")
        self._last = rec
        return httpx.Response(rec.status, content=rec.body, request=request)

    def _refuse(self, request: httpx.Request, why: str) -> httpx.Response:
        return httpx.Response(
            NOT_RECORDED, content=f"btcwatch replay: {why}".encode(), request=request
        )


def replay_provider(
    recordings: Sequence[Recorded],
    *,
    network: Network = MAINNET,
    on_evidence: EvidenceSink | None = None,
) -> Provider:
    """One Esplora provider per recorded explorer (first recorded first), on one transport."""
    transport = ReplayTransport(recordings)
    explorers: dict[str, str] = {}
    for rec in recordings:
        base = base_url(rec.url)
        if base is not None:
            explorers.setdefault(base, rec.provider)
    if not explorers:
        raise ConfigError("the bundle holds no recorded Esplora answers to replay")
    options = HttpOptions(
        transport=transport,
        rate=math.inf,
        retry=RetryPolicy(max_tries=1),
        clock=transport.clock,
        on_evidence=on_evidence,
    )
    members: list[Provider] = [
        EsploraProvider(base, options, name=name, network=network)
        for base, name in explorers.items()
    ]
    return members[0] if len(members) == 1 else ProviderPool(members)
