"""A driven watch run (`WatchRun.again`, what the demo replays through): cycles run back to
back while the driver says so, and a failed cycle ends the run as under --once."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pytest

from btcwatch.errors import BtcwatchError
from btcwatch.intake import add_addresses, create_case
from btcwatch.providers import HttpOptions
from btcwatch.providers.base import Provider
from btcwatch.providers.factory import PoolSettings, make_provider
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.store import Store
from btcwatch.store.evidence import EvidenceLog
from btcwatch.store.watchstate import scanned_blocks
from btcwatch.watch.runner import CycleReport, WatchOptions
from btcwatch.watch.service import WatchRun, run_watch


async def _no_wait(seconds: float) -> None:
    return None


def _case(db: Path, addresses: list[str]) -> None:
    with Store.open(db) as store:
        create_case(store, "v")
        add_addresses(store, "v", addresses)


def test_cycles_follow_the_driver_until_it_says_stop(tmp_path: Path) -> None:
    scenario = vastaamo(victims=6, seed=5, background=1)
    chain = SimChain.from_scenario(scenario)
    db = tmp_path / "v.db"
    _case(db, [r["address"] for r in scenario.ground_truth()["ransom_addresses"]])
    seen: list[int | None] = []

    def again(report: CycleReport) -> bool:
        seen.append(report.tip_height)
        if len(seen) == 3:
            return False
        chain.advance(2)
        return True

    with SimServer(chain) as server:
        start = chain.tip_height
        run = WatchRun(
            WatchOptions("v", "block"), alerts=[], pool=PoolSettings((server.url,)), again=again
        )
        reports = run_watch(db, run)
    assert [r.tip_height for r in reports] == seen == [start, start + 2, start + 4]
    with Store.open(db) as store:
        assert max(scanned_blocks(store)) == start + 4  # every cycle stored its scan


def test_a_failed_cycle_ends_a_driven_run(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    _case(db, ["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"])
    asked: list[CycleReport] = []

    def again(report: CycleReport) -> bool:
        asked.append(report)
        return True

    def down(log: EvidenceLog) -> Provider:
        transport = httpx.MockTransport(lambda request: httpx.Response(503))
        return make_provider(
            "http://127.0.0.1:9/api",
            HttpOptions(transport=transport, rate=math.inf, sleep=_no_wait),
        )

    run = WatchRun(WatchOptions("v", "address"), alerts=[], again=again)
    with pytest.raises(BtcwatchError, match="HTTP 503"):
        run_watch(db, run, provider_factory=down)
    assert asked == [] and run.reports == []
