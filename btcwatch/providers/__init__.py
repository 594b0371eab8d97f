"""Block explorers behind one interface; the only part of btcwatch that speaks HTTP.

    open_pool(PoolSettings(("mempool", "blockstream"), proxy="socks5h://..."), log) -> ProviderPool
    make_pool(["mempool", "blockstream"], HttpOptions(proxy="socks5h://127.0.0.1:9050"))
    make_provider("http://127.0.0.1:3002/api")                          -> EsploraProvider

One frozen `HttpOptions` (transport, proxy, rate, retry, sleep, clock, evidence sink, ...)
crosses every layer from the CLI to the HTTP client; `PoolSettings` is what the CLI and the
config say about explorers, and `open_pool` is the one place that turns it into a pool.

``open_push(push_url(["mempool"]))`` opens the explorer's WebSocket (daemon push).

Every response is evidence: pass ``HttpOptions(on_evidence=...)`` to archive each one, and use
``capture_evidence()`` (or ``provider.last_evidence``) to link a value to the response it
came from.
"""

from btcwatch.providers._http import (
    DEFAULT_USER_AGENT,
    HttpOptions,
    RetryPolicy,
    capture_evidence,
)
from btcwatch.providers.base import Capability, NotSupported, Provider
from btcwatch.providers.blockchain_info import BlockchainInfoProvider
from btcwatch.providers.esplora import EsploraProvider
from btcwatch.providers.esplora_ws import PushChannel, PushNotice, open_push, push_url
from btcwatch.providers.factory import (
    EXPLORERS,
    PoolSettings,
    make_pool,
    make_provider,
    open_pool,
    parse_explorer_list,
)
from btcwatch.providers.http_provider import HttpProvider
from btcwatch.providers.pool import Disagreement, ProviderPool

__all__ = [
    "DEFAULT_USER_AGENT",
    "EXPLORERS",
    "BlockchainInfoProvider",
    "Capability",
    "Disagreement",
    "EsploraProvider",
    "HttpOptions",
    "HttpProvider",
    "NotSupported",
    "PoolSettings",
    "Provider",
    "ProviderPool",
    "PushChannel",
    "PushNotice",
    "RetryPolicy",
    "capture_evidence",
    "make_pool",
    "make_provider",
    "open_pool",
    "open_push",
    "parse_explorer_list",
    "push_url",
]
