"""The flow picture of a trace for the HTML report: Graphviz's SVG when it can be drawn.

Graphviz is optional (``apt-get install graphviz``); without it, or for a graph too large to
lay out in reasonable time, the report says so and points to the interactive viewer instead.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import networkx as nx

from btcwatch.errors import BtcwatchError
from btcwatch.export.dot import GRAPHVIZ_MISSING, write_svg

#: Beyond this many nodes a static picture is unreadable and slow to lay out.
MAX_SVG_NODES = 1500


def flow_svg(
    graph: nx.MultiDiGraph, *, dot_command: str = "dot", max_nodes: int = MAX_SVG_NODES
) -> tuple[str | None, str]:
    """(SVG text, "") or (None, why there is no picture)."""
    if graph.number_of_nodes() > max_nodes:
        return None, (
            f"The flow graph has {graph.number_of_nodes()} nodes, too many for a static "
            "picture: open the interactive viewer instead."
        )
    if shutil.which(dot_command) is None:
        return None, f"No picture: {GRAPHVIZ_MISSING}. Open the interactive viewer instead."
    with tempfile.TemporaryDirectory(prefix="btcwatch-svg-") as tmp:
        path = Path(tmp) / "flow.svg"
        try:
            write_svg(graph, path, dot_command=dot_command)
        except BtcwatchError as exc:
            return None, f"No picture: {exc}"
        return path.read_text(encoding="utf-8"), ""
