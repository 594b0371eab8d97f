"""Node-link JSON and Cytoscape JSON: golden bytes, read-back, unique ids."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
from export_graphs import SCRIPT_LABEL, check_golden

from btcwatch.export.graph_schema import GRAPH_ATTRS, edge_id
from btcwatch.export.jsonfmt import to_cytoscape, write_cyjs, write_json


def test_node_link_golden(flow_graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    path = write_json(flow_graph, tmp_path / "flow.json")[0]
    check_golden("flow.json", path.read_bytes())


def test_cytoscape_golden(flow_graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    path = write_cyjs(flow_graph, tmp_path / "flow.cyjs")[0]
    check_golden("flow.cyjs", path.read_bytes())


def test_node_link_reads_back_into_the_same_graph(
    wannacry_graph: nx.MultiDiGraph, tmp_path: Path
) -> None:
    path = write_json(wannacry_graph, tmp_path / "w.json")[0]
    back = nx.node_link_graph(json.loads(path.read_text(encoding="utf-8")), edges="edges")
    assert isinstance(back, nx.MultiDiGraph)
    assert back.graph == {k: wannacry_graph.graph[k] for k in GRAPH_ATTRS}
    assert dict(back.nodes(data=True)) == dict(wannacry_graph.nodes(data=True))
    assert sorted(back.edges(keys=True, data=True), key=lambda e: e[:3]) == sorted(
        wannacry_graph.edges(keys=True, data=True), key=lambda e: e[:3]
    )


def test_node_link_is_sorted_and_real_utf8(flow_graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    raw = write_json(flow_graph, tmp_path / "flow.json")[0].read_bytes()
    assert "Kryptopörssi".encode() in raw  # not \u00f6 escapes: readable in any editor
    data = json.loads(raw)
    ids = [n["id"] for n in data["nodes"]]
    assert ids == sorted(ids)
    edges = [(e["source"], e["target"], e["key"]) for e in data["edges"]]
    assert edges == sorted(edges)


def test_cytoscape_structure(flow_graph: nx.MultiDiGraph) -> None:
    cy = to_cytoscape(flow_graph)
    nodes = cy["elements"]["nodes"]
    edges = cy["elements"]["edges"]
    assert len(nodes) == 20 and len(edges) == 21
    ids = [n["data"]["id"] for n in nodes] + [e["data"]["id"] for e in edges]
    assert len(ids) == len(set(ids)), "cytoscape.js refuses duplicate ids across nodes and edges"
    for e in edges:
        d = e["data"]
        assert d["id"] == edge_id(d["kind"], d["outpoint"])
        assert flow_graph.has_edge(d["source"], d["target"], d["outpoint"])
    names = {n["data"]["name"] for n in nodes}
    assert SCRIPT_LABEL in names
    assert cy["data"]["name"] == flow_graph.graph["title"]
    assert cy["data"]["trace_id"] == 42
