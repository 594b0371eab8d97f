"""Helpers for watch tests against the simulator: a case, a watching session, event rows.

A session keeps one provider (and its keep-alive connections) for many cycles inside one event
loop, as the daemon does, so stepping a chain block by block stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from btcwatch.cli import app
from btcwatch.event import Event
from btcwatch.intake import add_addresses, create_case
from btcwatch.prices import PriceTable
from btcwatch.providers import HttpOptions
from btcwatch.providers.base import Provider
from btcwatch.providers.factory import make_provider
from btcwatch.sim import SimChain, SimServer
from btcwatch.store import Store
from btcwatch.store.events import list_events
from btcwatch.watch.alerts import Sink
from btcwatch.watch.disputes import DisputeLog
from btcwatch.watch.runner import CycleReport, WatchOptions, run_cycle

CASE = "vastaamo"
DEMAND = "200EUR then 500EUR after 24h"


def setup_case(
    db: Path, addresses: Sequence[str], case: str = CASE, demand: str | None = DEMAND
) -> None:
    with Store.open(db) as store:
        create_case(store, case)
        add_addresses(store, case, list(addresses), demand=demand)


def ransom_addresses(truth: dict[str, Any]) -> list[str]:
    return [r["address"] for r in truth["ransom_addresses"]]


def event_rows(db: Path, **filters: Any) -> list[dict[str, Any]]:
    with Store.open(db) as store:
        return [row.as_dict() for row in list_events(store, **filters)]


@dataclass
class World:
    """A case watching the scenario's ransom addresses, and the chain served for it."""

    db: Path
    chain: SimChain
    server: SimServer
    truth: dict[str, Any]

    @property
    def url(self) -> str:
        return self.server.url

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(app, ["--db", str(self.db), *args], env=env or {})

    def watch_once(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return self.cli(
            "watch", "--case", "vastaamo", "--once", "--explorer", self.url, *args, env=env
        )


@dataclass
class Session:
    """One store and one provider, cycling like the daemon does."""

    store: Store
    provider: Provider
    options: WatchOptions
    sinks: Sequence[Sink] = ()
    prices: PriceTable = field(default_factory=PriceTable.load_default)
    disputes: DisputeLog | None = None
    reports: list[CycleReport] = field(default_factory=list)

    async def cycle(self) -> list[Event]:
        report = await run_cycle(
            self.store,
            self.provider,
            self.options,
            self.sinks,
            prices=self.prices,
            disputes=self.disputes,
        )
        self.reports.append(report)
        return report.events


@asynccontextmanager
async def session(
    db: Path,
    url: str,
    mode: str,
    *,
    sinks: Sequence[Sink] = (),
    case: str = CASE,
    from_height: int | None = None,
    mempool: str = "full",
) -> AsyncIterator[Session]:
    """A watching session. Block mode reads the whole mempool here (``full``): these tests
    check what a watcher sees unconfirmed of every payment; the default ``hot`` sees only
    watched outputs' spends and the hot set (tests/watch/test_watch_hot_mempool.py)."""
    provider = make_provider(url, HttpOptions(rate=math.inf))
    store = Store.open(db)
    options = WatchOptions(case, mode, from_height=from_height, mempool=mempool)
    try:
        yield Session(store, provider, options, sinks)
    finally:
        await provider.aclose()
        store.close()


def kinds(events: Sequence[Event]) -> list[str]:
    return [e.kind.value for e in events]
