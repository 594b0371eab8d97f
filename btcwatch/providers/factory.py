"""Explorers by name or URL: what ``--explorer`` and ``BTCWATCH_EXPLORER`` accept.

Default request rates (requests per second; override with ``rate=``): none of these
explorers publishes a hard limit for Esplora use, so they are chosen to stay clear of the
429s users report when bursting, and to be polite to free public services.

==================  =====================================  ==========
spec                base URL (mainnet)                     rate
==================  =====================================  ==========
mempool             https://mempool.space/api              2 /s
blockstream         https://blockstream.info/api           4 /s
blockchain.info     https://blockchain.info                0.1 /s (documented: 1 per 10 s)
http(s)://...       any Esplora base URL (self-hosted)     10 /s; unlimited on loopback
==================  =====================================  ==========
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from btcwatch.chain.network import MAINNET, SIGNET, TESTNET, Network, network_by_name
from btcwatch.errors import ConfigError
from btcwatch.providers._http import EvidenceSink, HttpOptions, RetryPolicy
from btcwatch.providers.base import Provider
from btcwatch.providers.blockchain_info import BlockchainInfoProvider
from btcwatch.providers.esplora import EsploraProvider
from btcwatch.providers.pool import Disagreement, ProviderPool

__all__ = [
    "EXPLORERS",
    "Explorer",
    "PoolSettings",
    "explorer_rate",
    "make_pool",
    "make_provider",
    "open_pool",
    "parse_explorer_list",
]


@dataclass(frozen=True, slots=True)
class Explorer:
    """A public explorer btcwatch knows by name."""

    name: str
    urls: dict[str, str]  # network name -> base URL
    rate: float
    kind: str = "esplora"
    batch_outspends: bool | None = None


EXPLORERS: dict[str, Explorer] = {
    "mempool": Explorer(
        "mempool.space",
        {
            MAINNET.name: "https://mempool.space/api",
            TESTNET.name: "https://mempool.space/testnet/api",
            SIGNET.name: "https://mempool.space/signet/api",
        },
        rate=2.0,
        batch_outspends=True,
    ),
    "blockstream": Explorer(
        "blockstream.info",
        {
            MAINNET.name: "https://blockstream.info/api",
            TESTNET.name: "https://blockstream.info/testnet/api",
            SIGNET.name: "https://blockstream.info/signet/api",
        },
        rate=4.0,
        batch_outspends=False,
    ),
    "blockchain.info": Explorer(
        "blockchain.info",
        {MAINNET.name: "https://blockchain.info"},
        rate=0.1,
        kind="blockchain.info",
    ),
}
ALIASES = {"mempool.space": "mempool", "blockstream.info": "blockstream"}
CUSTOM_RATE = 10.0
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _known(spec: str) -> str | None:
    key = spec.strip().lower()
    key = ALIASES.get(key, key)
    return key if key in EXPLORERS else None


def _is_url(spec: str) -> bool:
    return spec.strip().lower().startswith(("http://", "https://"))


def _unknown(spec: str) -> ConfigError:
    names = ", ".join(EXPLORERS)
    return ConfigError(f"unknown explorer {spec!r} (use one of {names}, or an http(s):// URL)")


def parse_explorer_list(text: str) -> list[str]:
    """``"mempool, blockstream"`` -> ``["mempool", "blockstream"]``, checked, no repeats."""
    specs: list[str] = []
    for part in text.split(","):
        spec = part.strip()
        if not spec:
            continue
        name = _known(spec)
        if name is None and not _is_url(spec):
            raise _unknown(spec)
        spec = name or spec.rstrip("/")
        if spec not in specs:
            specs.append(spec)
    if not specs:
        raise ConfigError(f"no explorer named in {text!r}")
    return specs


def make_provider(
    spec: str, options: HttpOptions | None = None, *, network: Network = MAINNET
) -> Provider:
    """One explorer by name (mempool, blockstream, blockchain.info) or Esplora base URL.

    ``options.rate`` is requests per second (None: the explorer's default above;
    ``math.inf``: no limit). A ``.onion`` URL needs ``options.proxy`` (Tor); without one it is
    refused. ``options.learned`` (base URL -> rate learned from 429s) sets the starting pace.
    """
    opts = options or HttpOptions()
    key = _known(spec)
    if key is None and not _is_url(spec):
        raise _unknown(spec)
    explorer = EXPLORERS[key] if key is not None else None
    if explorer is not None:
        url = explorer.urls.get(network.name)
        if url is None:
            raise ConfigError(
                f"{explorer.name} does not serve {network.name}"
                f" (it serves {', '.join(explorer.urls)}); use your own Esplora URL"
            )
        name, default, batch = explorer.name, explorer.rate, explorer.batch_outspends
    else:
        url = spec.strip()
        host = (urlsplit(url).hostname or "").lower()
        if host.endswith(".onion") and opts.proxy is None:
            raise ConfigError(f"{url} is a Tor .onion address: give a proxy (socks5h://...:9050)")
        name, batch = urlsplit(url).netloc, None
        default = math.inf if host in LOOPBACK else CUSTOM_RATE
    chosen = _rate(default if opts.rate is None else opts.rate)
    opts = dataclasses.replace(opts, rate=math.inf if chosen is None else chosen)
    if explorer is not None and explorer.kind == "blockchain.info":
        return BlockchainInfoProvider(url, opts, network=network)
    return EsploraProvider(url, opts, name=name, network=network, batch_outspends=batch)


def explorer_rate(spec: str, rate: float | None = None) -> float | None:
    """Requests per second `make_provider` uses for ``spec`` (None: no limit, on loopback)."""
    key = _known(spec)
    if key is not None:
        default = EXPLORERS[key].rate
    else:
        host = (urlsplit(spec.strip()).hostname or "").lower()
        default = math.inf if host in LOOPBACK else CUSTOM_RATE
    return _rate(default if rate is None else rate)


def _rate(rate: float) -> float | None:
    if math.isinf(rate) and rate > 0:
        return None
    if not rate > 0:
        raise ConfigError(f"request rate must be positive, not {rate}")
    return rate


def make_pool(
    specs: Sequence[str],
    options: HttpOptions | None = None,
    *,
    network: Network = MAINNET,
    cross_check: bool = False,
    on_disagreement: Callable[[Disagreement], None] | None = None,
) -> ProviderPool:
    """A pool of explorers in order of preference (see `ProviderPool`), all on ``options``."""
    if not specs:
        raise ConfigError("no explorer given")
    members = [make_provider(spec, options, network=network) for spec in specs]
    return ProviderPool(members, cross_check=cross_check, on_disagreement=on_disagreement)


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """What the CLI and config say about explorers: the one value `open_pool` turns into a pool.

    ``rate`` None: each explorer's default; ``retries``: tries per request; ``learned``: base
    URL -> rate learned from 429s by earlier runs; ``transport``: tests only (no network).
    """

    explorers: tuple[str, ...] = ("mempool",)
    network: str = "mainnet"
    proxy: str | None = None
    rate: float | None = None
    retries: int = 5
    cross_check: bool = False
    learned: Mapping[str, float] = field(default_factory=dict)
    transport: httpx.AsyncBaseTransport | None = None

    def http_options(self, on_evidence: EvidenceSink | None = None) -> HttpOptions:
        return HttpOptions(
            transport=self.transport,
            proxy=self.proxy,
            rate=self.rate,
            retry=RetryPolicy(max_tries=self.retries),
            on_evidence=on_evidence,
            learned=self.learned,
        )


def open_pool(settings: PoolSettings, log: EvidenceSink | None = None) -> ProviderPool:
    """The explorer pool for ``settings``, handing every response to ``log`` (the evidence)."""
    return make_pool(
        list(settings.explorers),
        settings.http_options(log),
        network=network_by_name(settings.network),
        cross_check=settings.cross_check,
    )
