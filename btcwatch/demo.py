"""`make demo`: a whole investigation, offline, through the same code that talks to mempool.space.

The simulator serves a Vastaamo-like extortion over the Esplora API on a loopback port. A case
is opened from the ransom e-mails in data/demo/, then the story is replayed: watch cycles while
the tip advances (payments appear unconfirmed, confirm, get swept), an automatic trace whenever
watched money moves, and finally the viewer, graph files and case report in the output folder.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import sys
from collections.abc import Callable
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
from btcwatch.event import Kind
from btcwatch.export import export_graph
from btcwatch.export.flowgraph import run_graph
from btcwatch.followup import follow_up
from btcwatch.intake import create_case, import_files
from btcwatch.prices import PriceTable
from btcwatch.proofs import ensure_proofs
from btcwatch.providers.factory import PoolSettings, open_pool
from btcwatch.report import build_report, render_report, write_bundle
from btcwatch.report.bundle import case_txids
from btcwatch.resources import data_file
from btcwatch.sim import SimChain, SimServer
from btcwatch.sim.prices import scenario_prices, set_prices
from btcwatch.store import Store
from btcwatch.store.events import record_events
from btcwatch.store.evidence import EvidenceLog
from btcwatch.store.tags import save_tags
from btcwatch.tags import load_tags
from btcwatch.valuation import PriceSettings, Valuer
from btcwatch.watch.alerts import StreamSink, deliver
from btcwatch.watch.runner import CycleReport, WatchOptions, run_cycle

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


async def replay(
    store: Store,
    chain: SimChain,
    url: str,
    out: Path,
    progress: Callable[[CycleReport, int, int], None],
) -> tuple[int, int]:
    """Watch cycles as the tip advances; trace and flag exchanges whenever money moves."""
    log = EvidenceLog()
    # Payments are valued from the simulator's own mempool-compatible price API (hourly, with
    # its answers archived as evidence), the bundled table behind it: no internet needed.
    prices = Valuer(PriceSettings((url, "offline")), store)
    sinks = [StreamSink()]
    provider = open_pool(PoolSettings((url,), rate=math.inf), log)
    cycles = 0
    try:
        end = chain.last_planned_height
        while True:
            report = await run_cycle(
                store, provider, WatchOptions(CASE, "block"), sinks, evidence=log, prices=prices
            )
            cycles += 1
            if any(ev.kind is Kind.FUNDS_MOVED for ev in report.events):
                found = await follow_up(store, provider, [CASE], log=log, prices=prices)
                record_events(store, found.events, [s.spec for s in sinks])
                await deliver(store, sinks)
            progress(report, chain.tip_height, end)
            if chain.tip_height >= end:
                break
            chain.advance(min(BLOCKS_PER_TICK, end - chain.tip_height))
        # The picture at the end of the story, for the report and the graph files.
        final = await follow_up(store, provider, [CASE], log=log, prices=prices)
        record_events(store, final.events, [s.spec for s in sinks])
        await deliver(store, sinks)
        # Inclusion proofs while the explorer is up, so the evidence bundle verifies offline.
        from btcwatch.store.traces import latest_run

        run = latest_run(store, CASE)
        txids = case_txids(store, CASE, run.id if run else None)
        await ensure_proofs(store, txids, provider=provider, log=log)
        return cycles, provider.requests
    finally:
        await provider.aclose()
        await prices.aclose()


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
    with Store.open(out / "demo.db") as store, SimServer(chain) as server:
        set_prices(server, scenario_prices(scenario))
        open_case(store)
        result.cycles, result.requests = asyncio.run(
            replay(store, chain, server.url, out, progress or (lambda r, t, e: None))
        )
        from btcwatch.store.traces import latest_run

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
            (out / name).write_text(
                render_report(store, CASE, fmt, prices=prices), encoding="utf-8"
            )
            result.files[f"report_{fmt}"] = out / name
        result.summary["facts"] = build_report(store, CASE, prices=prices).summary
        bundle = write_bundle(store, CASE, out / "evidence", prices=prices, simulated=True)
        result.files["evidence"] = bundle.path
        result.summary["truth"] = scenario.ground_truth()
    return result


def plain_progress(report: CycleReport, tip: int, end: int) -> None:
    sys.stderr.write(f"[tip {tip}/{end}] {report.summary()}\n")
