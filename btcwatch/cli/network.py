"""Explorer options shared by every command that reads the chain."""

from __future__ import annotations

from collections.abc import Sequence

import typer

from btcwatch.chain.network import network_by_name
from btcwatch.config import Settings
from btcwatch.providers._http import RetryPolicy
from btcwatch.providers.base import Provider
from btcwatch.providers.factory import make_pool
from btcwatch.store.evidence import EvidenceLog

EXPLORER_HELP = (
    "Explorer to ask: mempool, blockstream, blockchain.info, or an Esplora base URL "
    "(repeatable; the next one answers when one fails). Env: BTCWATCH_EXPLORER."
)
PROXY_HELP = "SOCKS5 proxy, e.g. socks5://127.0.0.1:9050 (Tor). Fails closed."

ExplorerOption = typer.Option([], "--explorer", help=EXPLORER_HELP)
ProxyOption = typer.Option(None, "--proxy", help=PROXY_HELP)


def open_provider(
    settings: Settings,
    log: EvidenceLog,
    *,
    cross_check: bool = False,
    explorers: Sequence[str] = (),
) -> Provider:
    """The explorer pool for a command, archiving every response into ``log``."""
    return make_pool(
        list(explorers or settings.explorers),
        network=network_by_name(settings.network),
        proxy=settings.proxy,
        on_evidence=log,
        rate=settings.rate,
        cross_check=cross_check,
        retry=RetryPolicy(max_tries=settings.retries),
    )
