"""Case reports and evidence bundles: a case on one page, and everything behind it in a folder.

    report = build_report(store, "vastaamo", prices=PriceTable.load_default())
    text = render_report(store, "vastaamo", "html", prices=PriceTable.load_default())
    bundle = write_bundle(store, "vastaamo", Path("vastaamo-evidence"))

Reports are read from the database alone (no network) and are deterministic: the same
database gives the same bytes. Every figure cites the archived explorer responses it rests on.
"""

from __future__ import annotations

from btcwatch.errors import InputError
from btcwatch.export.flowgraph import run_graph
from btcwatch.export.redact import check_redaction, redact_graph
from btcwatch.prices import PriceTable
from btcwatch.report.bundle import Bundle, write_bundle
from btcwatch.report.facts import CaseReport
from btcwatch.report.gather import build_report
from btcwatch.report.html import render_html
from btcwatch.report.jsonfmt import render_json, to_json
from btcwatch.report.markdown import render_markdown
from btcwatch.report.picture import flow_svg
from btcwatch.report.redact import case_victims, redact_report
from btcwatch.store import Store

__all__ = [
    "FORMATS",
    "Bundle",
    "CaseReport",
    "build_report",
    "check_format",
    "render_html",
    "render_json",
    "render_markdown",
    "render_report",
    "to_json",
    "write_bundle",
]

#: Report formats, in the order help texts list them.
FORMATS = ("md", "html", "json")


def check_format(fmt: str) -> str:
    name = fmt.strip().lower()
    if name == "markdown":
        name = "md"
    if name not in FORMATS:
        raise InputError(f"unknown report format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    return name


def render_report(
    store: Store,
    case: str,
    fmt: str = "md",
    *,
    prices: PriceTable | None = None,
    run_id: int | None = None,
    generated_at: str | None = None,
    redact: str | None = None,
) -> str:
    """The case report as text in ``fmt`` (HTML embeds the flow picture when Graphviz exists).

    ``redact="victims"`` names victim and ransom addresses by pseudonym, in the picture too
    (`btcwatch.report.redact`).
    """
    name = check_format(fmt)
    if redact is not None:
        check_redaction(redact)
    report = build_report(store, case, prices=prices, run_id=run_id, generated_at=generated_at)
    redaction = None
    if redact is not None:
        watched, redaction = case_victims(store, case)
        report = redact_report(report, watched, redaction)
    if name == "json":
        return render_json(report)
    if name == "md":
        return render_markdown(report)
    svg, note = None, ""
    if report.trace is not None:
        graph = run_graph(store, report.trace.run_id, prices)
        svg, note = flow_svg(graph if redaction is None else redact_graph(graph, redaction))
    return render_html(report, svg=svg, svg_note=note)
