"""Node-link JSON (networkx) and Cytoscape JSON, sorted so the bytes never change by accident.

- ``json``: `networkx.node_link_data` with ``edges="edges"``; read back with
  ``networkx.node_link_graph(data, edges="edges")``. Edge keys are the outpoints.
- ``cyjs``: Cytoscape's ``{"elements": {"nodes": [{"data": ...}], "edges": [...]}}`` as read by
  Cytoscape desktop and cytoscape.js (the offline HTML viewer embeds exactly this). Cytoscape
  needs ids unique across nodes and edges, so edge ids are ``<kind>:<outpoint>``; nodes get a
  ``name`` (the display label) because Cytoscape desktop labels nodes by it.

Both are UTF-8, keys sorted, two-space indent, one trailing newline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx

from btcwatch.export.graph_schema import (
    GRAPH_ATTRS,
    display_label,
    edge_id,
    edge_items,
    node_items,
    sorted_edges,
    sorted_nodes,
    validate_graph,
)

__all__ = ["dumps", "to_cytoscape", "to_node_link", "write_cyjs", "write_json"]


def dumps(data: Any) -> str:
    """The one JSON style of this package: sorted keys, indent 2, real UTF-8, final newline."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _sorted_copy(g: nx.MultiDiGraph) -> nx.MultiDiGraph:
    h = nx.MultiDiGraph(**{name: g.graph[name] for name in GRAPH_ATTRS})
    for node, data in sorted_nodes(g):
        h.add_node(node, **dict(node_items(data)))
    for u, v, key, data in sorted_edges(g):
        h.add_edge(u, v, key=key, **dict(edge_items(data)))
    return h


def to_node_link(g: nx.MultiDiGraph) -> dict[str, Any]:
    """`networkx.node_link_data` of a validated graph, nodes and edges in sorted order."""
    validate_graph(g)
    data: dict[str, Any] = nx.node_link_data(_sorted_copy(g), edges="edges")
    return data


def to_cytoscape(g: nx.MultiDiGraph) -> dict[str, Any]:
    """Cytoscape JSON of a validated graph."""
    validate_graph(g)
    nodes = [
        {"data": {"id": node, "name": display_label(node, data), **dict(node_items(data))}}
        for node, data in sorted_nodes(g)
    ]
    edges = [
        {
            "data": {
                "id": edge_id(data["kind"], key),
                "source": u,
                "target": v,
                **dict(edge_items(data)),
            }
        }
        for u, v, key, data in sorted_edges(g)
    ]
    graph = {name: g.graph[name] for name in GRAPH_ATTRS}
    return {
        "format_version": "1.0",
        "generated_by": "btcwatch",
        "target_cytoscapejs_version": "~3",
        "data": {"name": g.graph["title"], **graph},
        "elements": {"nodes": nodes, "edges": edges},
    }


def write_json(g: nx.MultiDiGraph, path: Path) -> list[Path]:
    """Write node-link JSON to ``path``; returns ``[path]``."""
    path.write_bytes(dumps(to_node_link(g)).encode("utf-8"))
    return [path]


def write_cyjs(g: nx.MultiDiGraph, path: Path) -> list[Path]:
    """Write Cytoscape JSON to ``path``; returns ``[path]``."""
    path.write_bytes(dumps(to_cytoscape(g)).encode("utf-8"))
    return [path]
