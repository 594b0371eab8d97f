"""GraphML and GEXF: read back with networkx, every node, edge, value and type intact."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from export_graphs import SCRIPT_LABEL, T0, addr, txid

from btcwatch.export.gexf import to_gexf, write_gexf
from btcwatch.export.graph_schema import (
    ADDRESS,
    EDGE_ATTRS,
    GRAPH_ATTRS,
    display_label,
    edge_id,
    node_items,
)
from btcwatch.export.graphml import to_graphml, write_graphml, xml_attr, xml_text

GRAPHML_NS = "{http://graphml.graphdrawing.org/xmlns}"
GEXF_NS = "{http://www.gexf.net/1.2draft}"


def _expected_edges(g: nx.MultiDiGraph) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {edge_id(d["kind"], k): (u, v, dict(d)) for u, v, k, d in g.edges(keys=True, data=True)}


def _assert_same_values(got: dict[str, Any], want: dict[str, Any], where: str) -> None:
    for name, value in want.items():
        assert name in got, f"{where}: {name} missing after read-back"
        assert got[name] == value, f"{where}: {name} {got[name]!r} != {value!r}"
        assert type(got[name]) is type(value), f"{where}: {name} came back as {type(got[name])}"


@pytest.mark.parametrize("graph_name", ["flow_graph", "wannacry_graph"])
def test_graphml_round_trip(
    graph_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    g: nx.MultiDiGraph = request.getfixturevalue(graph_name)
    path = tmp_path / "flow.graphml"
    assert write_graphml(g, path) == [path]
    back = nx.read_graphml(path, force_multigraph=True)

    assert back.is_directed() and back.is_multigraph()
    assert back.number_of_nodes() == g.number_of_nodes()
    assert back.number_of_edges() == g.number_of_edges()
    _assert_same_values(back.graph, {k: g.graph[k] for k in GRAPH_ATTRS}, "graph")
    for node, data in g.nodes(data=True):
        got = back.nodes[node]
        _assert_same_values(got, dict(data), node)
        assert set(got) == set(data), f"{node}: attributes of the other node kind leaked in"
    want = _expected_edges(g)
    got_edges = {k: (u, v, d) for u, v, k, d in back.edges(keys=True, data=True)}
    assert set(got_edges) == set(want)
    for eid, (u, v, data) in want.items():
        assert got_edges[eid][:2] == (u, v)
        _assert_same_values(got_edges[eid][2], data, eid)
        assert set(got_edges[eid][2]) == set(EDGE_ATTRS)


def test_graphml_declares_ints_as_long_and_names_edges(flow_graph: nx.MultiDiGraph) -> None:
    root = ET.fromstring(to_graphml(flow_graph))
    keys = {
        (k.get("for"), k.get("attr.name")): k.get("attr.type")
        for k in root.iter(f"{GRAPHML_NS}key")
    }
    assert keys[("edge", "value_sat")] == "long"  # 32-bit int would overflow above 21.47 BTC
    assert keys[("node", "is_source")] == "boolean"
    assert keys[("node", "label")] == "string"
    assert keys[("graph", "trace_id")] == "long"
    graph = root.find(f"{GRAPHML_NS}graph")
    assert graph is not None and graph.get("edgedefault") == "directed"
    node_ids = {n.get("id") for n in graph.iter(f"{GRAPHML_NS}node")}
    edge_ids = [e.get("id") for e in graph.iter(f"{GRAPHML_NS}edge")]
    assert len(edge_ids) == len(set(edge_ids)) == 21
    for e in graph.iter(f"{GRAPHML_NS}edge"):
        assert e.get("source") in node_ids and e.get("target") in node_ids


def test_graphml_trace_id_may_be_text(wannacry_graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    path = write_graphml(wannacry_graph, tmp_path / "w.graphml")[0]
    assert nx.read_graphml(path).graph["trace_id"] == "wannacry-cashout"


def test_graphml_escapes_hostile_text(flow_graph: nx.MultiDiGraph) -> None:
    text = to_graphml(flow_graph)
    assert SCRIPT_LABEL not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "\r" not in text  # the CR of a label is a character reference, so it survives parsing


def test_xml_escaping_helpers() -> None:
    assert xml_text('a&b<c>"d"\r') == 'a&amp;b&lt;c&gt;"d"&#13;'
    assert xml_attr('a&b<"\t\n\r') == "a&amp;b&lt;&quot;&#9;&#10;&#13;"


@pytest.mark.parametrize("graph_name", ["flow_graph", "wannacry_graph"])
def test_gexf_round_trip(graph_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    g: nx.MultiDiGraph = request.getfixturevalue(graph_name)
    path = tmp_path / "flow.gexf"
    assert write_gexf(g, path) == [path]
    back = nx.MultiDiGraph(nx.read_gexf(path))

    assert back.number_of_nodes() == g.number_of_nodes()
    assert back.number_of_edges() == g.number_of_edges()
    assert back.graph["mode"] == "dynamic"
    for node, data in g.nodes(data=True):
        got = back.nodes[node]
        # networkx's GEXF convention: the element label is the node's "label".
        want = {k: v for k, v in node_items(data) if k != "label"}
        _assert_same_values(got, want, node)
        assert got["label"] == display_label(node, data)
        start = data["first_seen"] if data["kind"] == ADDRESS else data["time"]
        if start:
            assert got["start"] == float(start)
        else:
            assert "start" not in got
    by_id = {d["id"]: (u, v, d) for u, v, d in back.edges(data=True)}
    want_edges = _expected_edges(g)
    assert set(by_id) == set(want_edges)
    for eid, (u, v, data) in want_edges.items():
        assert by_id[eid][:2] == (u, v)
        _assert_same_values(by_id[eid][2], data, eid)
        assert by_id[eid][2]["start"] == float(data["time"])
        assert by_id[eid][2]["weight"] == float(data["value_btc"])


def test_gexf_is_dynamic_with_start_times_for_the_timeline(flow_graph: nx.MultiDiGraph) -> None:
    root = ET.fromstring(to_gexf(flow_graph))
    graph = root.find(f"{GEXF_NS}graph")
    assert graph is not None
    assert (graph.get("mode"), graph.get("timeformat"), graph.get("defaultedgetype")) == (
        "dynamic",
        "double",
        "directed",
    )
    starts = {n.get("id"): n.get("start") for n in graph.iter(f"{GEXF_NS}node")}
    assert starts[f"tx:{txid('pay-1')}"] == f"{T0}.0"
    assert starts[f"addr:{addr('victim')}"] == f"{T0 - 86400}.0"
    assert starts[f"addr:{addr('other-in-1')}"] is None  # first_seen unknown: always present
    types = {a.get("title"): a.get("type") for a in graph.iter(f"{GEXF_NS}attribute")}
    assert types["value_sat"] == "long" and types["is_change"] == "boolean"


def test_gexf_keeps_hostile_labels_as_text(flow_graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    path = write_gexf(flow_graph, tmp_path / "f.gexf")[0]
    labels = {d["label"] for _, d in nx.read_gexf(path).nodes(data=True)}
    assert SCRIPT_LABEL in labels
    assert '=HYPERLINK("http://evil.example","click")' in labels
    assert "-1+1 =cmd|' /C calc'!A0\r\nsecond line" in labels
