"""`export`: a trace as GraphML, GEXF, JSON, Cytoscape JSON, CSV, DOT, SVG or offline HTML."""

from __future__ import annotations

from pathlib import Path

import typer

from btcwatch.cli.context import info, state
from btcwatch.export import FORMATS, export_graph
from btcwatch.export.flowgraph import resolve_run, run_graph


def export(
    ctx: typer.Context,
    case: str | None = typer.Option(None, "--case", help="Export the case's latest trace."),
    trace_id: int | None = typer.Option(None, "--trace", help="Export this trace run."),
    fmt: str = typer.Option(..., "--format", help=", ".join(FORMATS) + "."),
    output: Path = typer.Option(..., "-o", "--output", help="File (or folder for csv)."),
) -> None:
    """Write a traced money flow for Gephi, yEd, Maltego, i2, spreadsheets or a browser.

    Every EUR value names its price: time, hour or day, and source (cached, else bundled).
    """
    store = state(ctx).reader()
    run_id = resolve_run(store, case=case, run_id=trace_id)
    graph = run_graph(store, run_id)  # valued from the case's cached prices, never fetched
    for path in export_graph(graph, fmt, output):
        typer.echo(str(path))
    info(f"trace {run_id}: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges")
