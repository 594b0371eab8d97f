"""Write a traced money-flow graph to the files investigators open.

One call, `export_graph(g, fmt, path)`, for every format; each returns the files it wrote:

============  =========================================================================
``graphml``   PATH: GraphML (yEd, Gephi, networkx), ints declared ``long``
``gexf``      PATH: GEXF 1.2draft with start times for Gephi's timeline
``json``      PATH: networkx node-link JSON (``edges="edges"``)
``cyjs``      PATH: Cytoscape JSON (Cytoscape desktop, cytoscape.js)
``csv``       PATH is a folder: PATH/nodes.csv and PATH/edges.csv (Maltego, i2, Excel)
``dot``       PATH: Graphviz DOT
``svg``       PATH: SVG rendered by Graphviz ``dot`` (must be installed)
``html``      PATH: one self-contained offline page with an interactive viewer
============  =========================================================================

The graph must follow `graph_schema` (checked by `validate_graph`, a ValueError naming the bad
node, edge or attribute). Every writer is deterministic: the same graph gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import networkx as nx

from btcwatch.errors import InputError
from btcwatch.export.csvfmt import write_csv
from btcwatch.export.dot import write_dot, write_svg
from btcwatch.export.gexf import write_gexf
from btcwatch.export.graph_schema import validate_graph
from btcwatch.export.graphml import write_graphml
from btcwatch.export.html import write_html
from btcwatch.export.jsonfmt import write_cyjs, write_json
from btcwatch.fileio import atomic_folder_files, atomic_path

__all__ = [
    "FORMATS",
    "export_graph",
    "validate_graph",
    "write_csv",
    "write_cyjs",
    "write_dot",
    "write_gexf",
    "write_graphml",
    "write_html",
    "write_json",
    "write_svg",
]

_WRITERS: dict[str, Callable[[nx.MultiDiGraph, Path], list[Path]]] = {
    "graphml": write_graphml,
    "gexf": write_gexf,
    "json": write_json,
    "cyjs": write_cyjs,
    "csv": write_csv,
    "dot": write_dot,
    "svg": write_svg,
    "html": write_html,
}
#: Format names `export_graph` accepts, in the order help texts list them.
FORMATS: tuple[str, ...] = tuple(_WRITERS)


def export_graph(g: nx.MultiDiGraph, fmt: str, path: Path) -> list[Path]:
    """Write ``g`` as ``fmt`` to ``path`` (a folder for ``csv``); returns the files written.

    Raises InputError for an unknown format or an unusable path, ValueError for a graph that
    breaks the schema, BtcwatchError when ``svg`` is asked for without Graphviz.
    """
    writer = _WRITERS.get(fmt.lower())
    if writer is None:
        raise InputError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if fmt.lower() != "csv" and path.is_dir():
        raise InputError(f"{path} is a folder; {fmt} export writes a file")
    validate_graph(g)
    if not path.parent.is_dir():
        raise InputError(f"cannot write {path}: the folder {path.parent} does not exist")
    if fmt.lower() == "csv":
        if path.exists() and not path.is_dir():
            raise InputError(f"CSV export writes a folder, but {path} is a file")
        with atomic_folder_files(path) as partial:
            written = writer(g, partial)
        return [path / p.name for p in written]
    with atomic_path(path) as partial:  # a full disk never leaves half a file (btcwatch.fileio)
        writer(g, partial)
    return [path]
