"""Price sources by name or URL: what ``--prices`` and ``BTCWATCH_PRICES`` accept.

==========  ==========================================  ==========
spec        what                                        rate
==========  ==========================================  ==========
mempool     https://mempool.space/api (historical-price)  1 /s
kraken      https://api.kraken.com (public OHLC)          1 /s
http(s)://  a mempool.space-compatible ``/api`` base URL  2 /s; unlimited on loopback
offline     the bundled daily table (no request)          -
==========  ==========================================  ==========

A price request names only a time and a currency (never an address or a case), but it still
goes through ``--proxy`` like every other request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from btcwatch.errors import ConfigError
from btcwatch.providers._http import HttpClient, HttpOptions, RetryPolicy
from btcwatch.providers.prices.base import PriceSource
from btcwatch.providers.prices.kraken import BASE_URL as KRAKEN_URL
from btcwatch.providers.prices.kraken import KrakenPriceSource
from btcwatch.providers.prices.mempool import MempoolPriceSource

OFFLINE = "offline"
MEMPOOL_URL = "https://mempool.space/api"
KNOWN_SOURCES = ("mempool", "kraken", OFFLINE)
DEFAULT_PRICES = ("mempool", "kraken", OFFLINE)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Prices are asked inside a watch cycle: a source that is down must not hold it for minutes.
PRICE_RETRY = RetryPolicy(max_tries=2, base_delay=1.0, max_delay=5.0, max_retry_after=10.0)


def parse_price_specs(values: str | Iterable[str]) -> tuple[str, ...]:
    """``"mempool,kraken,offline"`` (or a list of such) -> checked specs, in order, no repeats."""
    parts = [values] if isinstance(values, str) else list(values)
    specs: list[str] = []
    for text in parts:
        for piece in str(text).split(","):
            spec = piece.strip()
            if not spec:
                continue
            if spec.lower() in KNOWN_SOURCES:
                spec = spec.lower()
            elif spec.lower().startswith(("http://", "https://")):
                parsed = urlsplit(spec)
                if not parsed.netloc or parsed.query:
                    raise ConfigError(f"not a price source URL: {spec!r}")
                spec = spec.rstrip("/")
            else:
                raise ConfigError(
                    f"unknown price source {spec!r} (use mempool, kraken, offline or a "
                    "mempool-compatible http(s)://.../api URL)"
                )
            if spec not in specs:
                specs.append(spec)
    if not specs:
        raise ConfigError("no price source given (e.g. --prices mempool,kraken,offline)")
    return tuple(specs)


def make_price_sources(
    specs: Sequence[str], options: HttpOptions | None = None
) -> list[PriceSource]:
    """The network sources of ``specs`` in order (``offline`` is not one: callers check it).

    Each source keeps its own rate (table above); ``options.rate`` is not used. Without
    ``options``, requests retry by `PRICE_RETRY`; callers giving options give the policy.
    """
    opts = options or HttpOptions(retry=PRICE_RETRY)
    out: list[PriceSource] = []
    for spec in specs:
        rate: float | None
        if spec == OFFLINE:
            continue
        if spec == "mempool":
            url, name, rate = MEMPOOL_URL, "mempool.space", 1.0
        elif spec == "kraken":
            url, name, rate = KRAKEN_URL, "kraken", 1.0
        else:
            parsed = urlsplit(spec)
            url, name = spec, parsed.netloc
            rate = None if (parsed.hostname or "") in LOOPBACK else 2.0
            if (parsed.hostname or "").endswith(".onion") and opts.proxy is None:
                raise ConfigError(f"{spec} is a Tor .onion address: give a proxy")
        http = HttpClient(name, url, dataclasses.replace(opts, rate=rate))
        if spec == "kraken":
            out.append(KrakenPriceSource(http))
        else:
            out.append(MempoolPriceSource(http, name))
    return out
