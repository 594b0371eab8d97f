"""`make demo`: a whole investigation, offline, through the same code that talks to mempool.space.

The simulator serves a Vastaamo-like extortion over the Esplora API on a loopback port. A case
is opened from the ransom e-mails in data/demo/, then the story is replayed: watch cycles while
the tip advances (payments appear unconfirmed, confirm, get swept), an automatic trace whenever
watched money moves, and finally the viewer, graph files and case report in the output folder.
"""

from __future__ import annotations

import math
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from btcwatch.case import Role
from btcwatch.demo_data import (
    COMPANY_DEMAND,
    COMPANY_FILE,
    PATIENT_DEMAND,
    PATIENT_FILE,
    TAGPACK_FILE,
    demo_scenario,
)
from btcwatch.errors import InputError
from btcwatch.event import Event
from btcwatch.export import export_graph
from btcwatch.export.flowgraph import run_graph
from btcwatch.followup import after_cycle
from btcwatch.intake import create_case, import_files
from btcwatch.prices import PriceLookup, PriceTable
from btcwatch.proofs import ensure_proofs
from btcwatch.providers.base import Provider
from btcwatch.providers.factory import PoolSettings, open_pool
from btcwatch.report import build_report, render_report, write_bundle
from btcwatch.report.bundle import case_txids
from btcwatch.resources import data_file
from btcwatch.sim import SimChain, SimServer
from btcwatch.sim.prices import scenario_prices, set_prices
from btcwatch.store import Store
from btcwatch.store.evidence import EvidenceLog
from btcwatch.store.followups import queue_followups
from btcwatch.store.tags import save_tags
from btcwatch.store.traces import latest_run
from btcwatch.tags import load_tags
from btcwatch.valuation import PriceSettings, Valuer
from btcwatch.watch.lock import lock_path
from btcwatch.watch.runner import CycleReport, WatchOptions
from btcwatch.watch.service import WatchRun, run_watch

CASE = "vastaamo"
MARKER = ".btcwatch-demo"
BLOCKS_PER_TICK = 3  # half an hour of chain time per watch cycle


@dataclass(slots=True)
class DemoResult:
    out: Path
    files: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    cycles: int = 0
    requests: int = 0


def prepare_output(out: Path) -> None:
    """A second run starts clean; never wipe a folder the demo did not create."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file; --out takes a folder")
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise InputError(f"{out} exists and was not made by the demo: choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("created by `btcwatch demo`; removed by the next run\n")


def open_case(store: Store) -> None:
    """What an investigator does first: a case from the e-mails, plus the exchanges' tags."""
    create_case(
        store,
        CASE,
        title="Vastaamo-like extortion (simulated)",
        note="Fictional replay of the 2020 Vastaamo extortion on btcwatch's simulator.",
    )
    demo = data_file("demo")
    import_files(store, CASE, [demo / COMPANY_FILE], label="company demand", demand=COMPANY_DEMAND)
    import_files(store, CASE, [demo / PATIENT_FILE], role=Role.RANSOM, demand=PATIENT_DEMAND)
    save_tags(store, load_tags(demo / TAGPACK_FILE))


def replay(
    db_path: Path,
    chain: SimChain,
    url: str,
    progress: Callable[[CycleReport, int, int], None],
) -> tuple[int, int]:
    """Watch cycles as the tip advances, as `watch --follow` runs them; returns (cycles, requests).

    Each cycle in which watched money moved owes a trace (traced, watchlist extended,
    exchanges flagged); the story's last cycle also owes one, for the report and graph files,
    and fetches the inclusion proofs while the explorer is up, so that the evidence bundle
    verifies offline.
    """
    end = chain.last_planned_height
    pool = PoolSettings((url,), rate=math.inf)
    made: list[Provider] = []

    def provider(log: EvidenceLog) -> Provider:
        made.append(open_pool(pool, log))
        return made[-1]

    async def follow(
        store: Store,
        provider: Provider,
        options: WatchOptions,
        log: EvidenceLog,
        sinks: Sequence[str],
        prices: PriceLookup | Valuer,
    ) -> tuple[list[Event], list[str]]:
        last = chain.tip_height >= end
        if last:  # the picture at the end of the story
            queue_followups(store, [CASE], "the end of the story")
        found = await after_cycle(store, provider, options, log, sinks, prices)
        if last:
            run = latest_run(store, CASE)
            txids = case_txids(store, CASE, run.id if run else None)
            await ensure_proofs(store, txids, provider=provider, log=log)
        return found

    def again(report: CycleReport) -> bool:
        progress(report, chain.tip_height, end)
        if chain.tip_height >= end:
            return False
        chain.advance(min(BLOCKS_PER_TICK, end - chain.tip_height))
        return True

    run = WatchRun(
        WatchOptions(CASE, "block", follow=True),
        pool=pool,
        # Payments are valued from the simulator's own mempool-compatible price API (hourly,
        # its answers archived as evidence), the bundled table behind it: no internet needed.
        prices=PriceSettings((url, "offline")),
        after_cycle=follow,
        again=again,
        push="off",
    )
    try:
        reports = run_watch(db_path, run, provider_factory=provider)
    finally:
        lock_path(db_path).unlink(missing_ok=True)  # the demo's folder holds only its results
    return len(reports), sum(p.requests for p in made)


def run_demo(
    out: Path,
    progress: Callable[[CycleReport, int, int], None] | None = None,
    write_report: Callable[[Store, Path], dict[str, Path]] | None = None,
    start: datetime | None = None,
) -> DemoResult:
    """Run the whole demo into ``out``; returns the files written and the headline numbers.

    ``start`` places the story at another time (e.g. 2026-09-21, after the bundled table).
    """
    prepare_output(out)
    result = DemoResult(out)
    scenario = demo_scenario(start)
    chain = SimChain.from_scenario(scenario)
    db_path = out / "demo.db"
    with SimServer(chain) as server:
        set_prices(server, scenario_prices(scenario))
        with Store.open(db_path) as store:
            open_case(store)
        result.cycles, result.requests = replay(
            db_path, chain, server.url, progress or (lambda r, t, e: None)
        )
    with Store.open(db_path) as store:
        _write_results(store, result, out)
    result.summary["truth"] = scenario.ground_truth()
    return result


def _write_results(store: Store, result: DemoResult, out: Path) -> None:
    """The viewer, graph files, report and evidence bundle, from the finished case."""
    run = latest_run(store, CASE)
    if run is not None:
        graph = run_graph(store, run.id, PriceTable.load_default())
        for fmt, name in (
            ("html", "viewer.html"),
            ("graphml", "flow.graphml"),
            ("gexf", "flow.gexf"),
        ):
            result.files[fmt] = export_graph(graph, fmt, out / name)[0]
        result.summary["trace"] = run.summary
    prices = PriceTable.load_default()
    for fmt, name in (("md", "report.md"), ("html", "report.html")):
        (out / name).write_text(render_report(store, CASE, fmt, prices=prices), encoding="utf-8")
        result.files[f"report_{fmt}"] = out / name
    result.summary["facts"] = build_report(store, CASE, prices=prices).summary
    bundle = write_bundle(store, CASE, out / "evidence", prices=prices, simulated=True)
    result.files["evidence"] = bundle.path


def plain_progress(report: CycleReport, tip: int, end: int) -> None:
    sys.stderr.write(f"[tip {tip}/{end}] {report.summary()}\n")
