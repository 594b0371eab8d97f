"""`demo`: the whole investigation offline on the bundled simulator."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import typer

from btcwatch.cli.context import info
from btcwatch.demo import DemoResult, plain_progress, run_demo
from btcwatch.money import btc
from btcwatch.sim.prices import story_start
from btcwatch.watch.runner import CycleReport


def demo(
    out: Path = typer.Option(
        Path("demo-output"), "--out", help="Folder for the results (replaced on every run)."
    ),
    start: str | None = typer.Option(
        None, "--start", help="Place the story at this date (e.g. 2026-09-21)."
    ),
) -> None:
    """Replay a simulated Vastaamo-like extortion end to end: watch, trace, export, report."""
    started = time.monotonic()
    info(
        "btcwatch demo: a simulated Vastaamo-like extortion, served on 127.0.0.1 "
        "(no internet needed)"
    )
    moment = story_start(start) if start is not None else None
    result = run_demo(out, progress=_progress(), start=moment)
    _print_summary(result, time.monotonic() - started)


def _progress() -> Callable[[CycleReport, int, int], None]:
    if not sys.stderr.isatty():
        return plain_progress
    from rich.console import Console

    console = Console(stderr=True)

    def show(report: CycleReport, tip: int, end: int) -> None:
        if report.events:
            console.print(f"[dim]tip {tip}/{end}[/dim] {report.summary()}")

    return show


def _print_summary(result: DemoResult, seconds: float) -> None:
    summary = result.summary
    typer.echo("")
    typer.echo(
        f"btcwatch demo finished in {seconds:.0f}s: {result.cycles} watch cycles, "
        f"{result.requests} explorer requests to the simulator"
    )
    for key in ("report_md", "report_html", "html", "graphml", "gexf", "evidence"):
        if key in result.files:
            typer.echo(f"  {key:12} {result.files[key]}")
    facts = summary.get("facts")
    if facts is not None:
        typer.echo(
            f"victims who paid: {facts.victims_paid} of {facts.ransom_addresses} ransom "
            f"addresses; {facts.count} payments, {btc(facts.total_sat)} "
            f"({facts.total_eur} EUR, {facts.total_usd} USD)"
        )
    trace = summary.get("trace", {})
    for entity, sats in trace.get("entities", {}).items():
        eur = trace.get("entities_fiat", {}).get(entity, {}).get("EUR")
        typer.echo(f"  reached {entity}: {btc(sats)}" + (f" ({eur} EUR)" if eur else ""))
