"""Explorer options shared by every command that reads the chain."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import typer

from btcwatch.chain.network import MAINNET, network_by_name
from btcwatch.config import Settings
from btcwatch.errors import ConfigError, InputError
from btcwatch.providers.base import Provider
from btcwatch.providers.factory import PoolSettings, open_pool
from btcwatch.providers.replay import PREFIX, Recorded, replay_provider
from btcwatch.report.bundle import DATABASE, META
from btcwatch.store.evidence import EvidenceLog
from btcwatch.store.readonly import open_immutable, recorded_answers

EXPLORER_HELP = (
    "Explorer to ask: mempool, blockstream, blockchain.info, or an Esplora base URL "
    "(repeatable; the next one answers when one fails), or replay:BUNDLE_DIR to answer only "
    "from an evidence bundle's recorded responses. Env: BTCWATCH_EXPLORER."
)
PROXY_HELP = "SOCKS5 proxy, e.g. socks5://127.0.0.1:9050 (Tor). Fails closed."

ExplorerOption = typer.Option([], "--explorer", help=EXPLORER_HELP)
ProxyOption = typer.Option(None, "--proxy", help=PROXY_HELP)


def pool_settings(
    settings: Settings, *, cross_check: bool = False, explorers: Sequence[str] = ()
) -> PoolSettings:
    """What the config and flags say about explorers, as the one value `open_pool` takes."""
    return PoolSettings(
        explorers=tuple(explorers or settings.explorers),
        network=settings.network,
        proxy=settings.proxy,
        rate=settings.rate,
        retries=settings.retries,
        cross_check=cross_check,
    )


def open_provider(
    settings: Settings,
    log: EvidenceLog,
    *,
    cross_check: bool = False,
    explorers: Sequence[str] = (),
) -> Provider:
    """The explorer pool for a command, archiving every response into ``log``."""
    specs = list(explorers or settings.explorers)
    replays = [s for s in specs if s.startswith(PREFIX)]
    if replays:
        if len(specs) > 1:
            raise ConfigError("--explorer replay:BUNDLE answers alone; give no other explorer")
        return open_replay(Path(replays[0].removeprefix(PREFIX)), log)
    return open_pool(pool_settings(settings, cross_check=cross_check, explorers=specs), log)


def open_replay(bundle: Path, log: EvidenceLog) -> Provider:
    """The provider answering only from ``bundle``'s recorded responses (no network at all)."""
    database = bundle / DATABASE
    if not database.is_file():
        raise InputError(f"replay: {bundle} is not an evidence bundle (no {DATABASE})")
    network = MAINNET.name
    with contextlib.suppress(OSError, ValueError):
        meta = json.loads((bundle / META).read_text(encoding="utf-8"))
        network = str(meta.get("network") or network)
    store = open_immutable(database)
    try:
        recordings = [Recorded(*row) for row in recorded_answers(store)]
    finally:
        store.close()
    return replay_provider(recordings, network=network_by_name(network), on_evidence=log)


def replay_factory(specs: Sequence[str]) -> Callable[[EvidenceLog], Provider] | None:
    """For ``watch``: a provider factory when the explorer is ``replay:BUNDLE``, else None."""
    replays = [s for s in specs if s.startswith(PREFIX)]
    if not replays:
        return None
    if len(specs) > 1:
        raise ConfigError("--explorer replay:BUNDLE answers alone; give no other explorer")
    bundle = Path(replays[0].removeprefix(PREFIX))
    open_replay(bundle, EvidenceLog())  # a bad bundle fails here, before the watch starts
    return lambda log: open_replay(bundle, log)
