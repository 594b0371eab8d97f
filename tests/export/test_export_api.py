"""export_graph: one entry point, the files each format writes, same graph -> same bytes."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import pytest

from btcwatch.errors import InputError
from btcwatch.export import FORMATS, export_graph

Factory = Callable[[], nx.MultiDiGraph]


def _formats() -> list[str]:
    return [f for f in FORMATS if f != "svg" or shutil.which("dot")]


def test_formats() -> None:
    assert FORMATS == ("graphml", "gexf", "json", "cyjs", "csv", "dot", "svg", "html")


@pytest.mark.parametrize("fmt", _formats())
def test_each_format_writes_what_it_returns(
    graph_factory: Factory, tmp_path: Path, fmt: str
) -> None:
    target = tmp_path / f"flow.{fmt}"
    written = export_graph(graph_factory(), fmt, target)
    if fmt == "csv":
        assert written == [target / "nodes.csv", target / "edges.csv"]
    else:
        assert written == [target]
    for path in written:
        assert path.is_file() and path.stat().st_size > 0
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == sorted(written)


@pytest.mark.parametrize("fmt", _formats())
def test_same_graph_same_bytes(graph_factory: Factory, tmp_path: Path, fmt: str) -> None:
    one = export_graph(graph_factory(), fmt, tmp_path / f"a.{fmt}")
    # a graph built in another order must not change a byte either
    g = graph_factory()
    shuffled = nx.MultiDiGraph(**g.graph)
    shuffled.add_nodes_from(sorted(g.nodes(data=True), reverse=True))
    shuffled.add_edges_from(
        sorted(g.edges(keys=True, data=True), key=lambda e: e[:3], reverse=True)
    )
    two = export_graph(shuffled, fmt, tmp_path / f"b.{fmt}")
    assert [p.read_bytes() for p in one] == [p.read_bytes() for p in two]


def test_unknown_format_lists_the_valid_ones(graph_factory: Factory, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        export_graph(graph_factory(), "pdf", tmp_path / "x.pdf")
    assert str(info.value) == (
        "unknown export format 'pdf'; choose one of: graphml, gexf, json, cyjs, csv, dot, svg, html"
    )


def test_format_name_is_case_insensitive(graph_factory: Factory, tmp_path: Path) -> None:
    assert export_graph(graph_factory(), "GraphML", tmp_path / "x.graphml") == [
        tmp_path / "x.graphml"
    ]


def test_a_folder_is_not_a_file(graph_factory: Factory, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder; json export writes a file"):
        export_graph(graph_factory(), "json", tmp_path)


def test_missing_parent_folder(graph_factory: Factory, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        export_graph(graph_factory(), "dot", tmp_path / "nope" / "x.dot")
