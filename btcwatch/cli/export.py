"""`export`: a trace as GraphML, GEXF, JSON, Cytoscape JSON, CSV, DOT, SVG or offline HTML."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from btcwatch.cli.context import info, state
from btcwatch.export import FORMATS, export_graph
from btcwatch.export.flowgraph import resolve_run, run_graph
from btcwatch.export.redact import redact_graph, victims_redaction


class Redact(StrEnum):
    """What ``--redact`` hides (btcwatch.export.redact.REDACTIONS)."""

    VICTIMS = "victims"


RedactOption = typer.Option(
    None,
    "--redact",
    case_sensitive=False,
    help="victims: name victim and ransom addresses by a stable pseudonym (victim-k3q7zm2a) "
    "instead of their labels, notes and e-mail sources; amounts and addresses are kept.",
)


def export(
    ctx: typer.Context,
    case: str | None = typer.Option(None, "--case", help="Export the case's latest trace."),
    trace_id: int | None = typer.Option(None, "--trace", help="Export this trace run."),
    fmt: str = typer.Option(..., "--format", help=", ".join(FORMATS) + "."),
    output: Path = typer.Option(..., "-o", "--output", help="File (or folder for csv)."),
    redact: Redact | None = RedactOption,
) -> None:
    """Write a traced money flow for Gephi, yEd, Maltego, i2, spreadsheets or a browser.

    Every EUR value names its price: time, hour or day, and source (cached, else bundled).
    """
    store = state(ctx).reader()
    run_id = resolve_run(store, case=case, run_id=trace_id)
    graph = run_graph(store, run_id)  # valued from the case's cached prices, never fetched
    if redact is not None:
        graph = redact_graph(graph, victims_redaction(store, str(graph.graph["case"])))
    for path in export_graph(graph, fmt, output):
        typer.echo(str(path))
    info(f"trace {run_id}: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges")
