"""Watching a simulated Vastaamo-like extortion over loopback HTTP, block by block.

The simulator serves the Esplora API on 127.0.0.1; btcwatch runs repeated `watch --once` cycles
while the tip advances one block at a time with the mempool on, then every event is compared
with the simulator's ground truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from vastaamo_check import check_events_match_truth

from btcwatch.intake import add_addresses, create_case
from btcwatch.providers import PoolSettings
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.store import Store
from btcwatch.store.events import list_events
from btcwatch.watch.runner import WatchOptions
from btcwatch.watch.service import WatchRun, run_watch

DEMAND = "200EUR then 500EUR after 24h"


def setup_case(db: Path, truth: dict[str, Any]) -> None:
    with Store.open(db) as store:
        create_case(store, "vastaamo")
        add_addresses(
            store, "vastaamo", [r["address"] for r in truth["ransom_addresses"]], demand=DEMAND
        )


def watch_block_by_block(
    db: Path, chain: SimChain, url: str, mode: str, step: int = 1, last: int | None = None
) -> list[Any]:
    reports = []
    end = last if last is not None else chain.last_planned_height
    while True:
        # The whole mempool (`full`): ground truth includes every payment seen unconfirmed
        # and the RBF-replaced one; the default `hot` sees those at their first block.
        options = WatchOptions("vastaamo", mode, mempool="full")
        run = WatchRun(options, alerts=[], pool=PoolSettings(explorers=(url,)))
        reports.extend(run_watch(db, run))
        if chain.tip_height >= end:
            return reports
        chain.advance(min(step, end - chain.tip_height))


@pytest.mark.slow
def test_block_mode_300_victims_matches_ground_truth(tmp_path: Path) -> None:
    scenario = vastaamo(victims=300, seed=2020, background=3)
    truth = scenario.ground_truth()
    chain = SimChain.from_scenario(scenario)
    db = tmp_path / "v.db"
    setup_case(db, truth)
    with SimServer(chain) as server:
        reports = watch_block_by_block(db, chain, server.url, "block")
    with Store.open(db) as store:
        events = [row.as_dict() for row in list_events(store, case="vastaamo")]
    check_events_match_truth(events, truth)
    assert all(r.mode == "block" for r in reports)
    # Following the chain costs at most 3 requests per new block (tip, hash, raw block),
    # whatever the watchlist size; mempool txs and spend destinations come on top.
    steady = [r for r in reports if r.blocks_scanned == 1]
    assert len(steady) > 300
    assert max(r.block_requests for r in steady) <= 3


def test_address_mode_small_case_matches_ground_truth(tmp_path: Path) -> None:
    scenario = vastaamo(victims=30, seed=2020, background=3)
    truth = scenario.ground_truth()
    chain = SimChain.from_scenario(scenario)
    db = tmp_path / "v.db"
    setup_case(db, truth)
    with SimServer(chain) as server:
        watch_block_by_block(db, chain, server.url, "address")
    with Store.open(db) as store:
        events = [row.as_dict() for row in list_events(store, case="vastaamo")]
    check_events_match_truth(events, truth)
