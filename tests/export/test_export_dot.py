"""DOT text (golden, escaping) and SVG rendered by Graphviz."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import pytest
from export_graphs import SCRIPT_LABEL, check_golden

from btcwatch.errors import BtcwatchError
from btcwatch.export.dot import GRAPHVIZ_MISSING, dot_string, edge_width, write_dot, write_svg

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz `dot` not on PATH (apt-get install graphviz)"
)
SVG = "{http://www.w3.org/2000/svg}"


def test_dot_golden(flow_graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    path = write_dot(flow_graph, tmp_path / "flow.dot")[0]
    check_golden("flow.dot", path.read_bytes())


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash \\N", '"back\\\\slash \\\\N"'),
        ("two\r\nlines\rthree\nfour", '"two\\nlines\\nthree\\nfour"'),
        ("<script>&", '"<script>&"'),
        ('end\\"', '"end\\\\\\""'),
    ],
)
def test_dot_string(text: str, quoted: str) -> None:
    assert dot_string(text) == quoted


def test_edge_width_is_log_scaled() -> None:
    assert edge_width(0) == 1.0
    assert edge_width(10_000 * 9) == pytest.approx(2.0)
    assert edge_width(100_000_000) < 6


@needs_dot
def test_dot_parses_in_graphviz(flow_graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    path = write_dot(flow_graph, tmp_path / "flow.dot")[0]
    done = subprocess.run(
        ["dot", "-Tcanon", str(path)], capture_output=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.count(b" -> ") == 21


@needs_dot
def test_svg_renders_with_labels_as_text(flow_graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    path = write_svg(flow_graph, tmp_path / "flow.svg")[0]
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    assert not list(root.iter(f"{SVG}script")), "a label became an SVG <script>"
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert SCRIPT_LABEL in texts
    assert "Kryptopörssi – deposit Ä€ 😀 & <b>bold</b>" in texts
    assert '=HYPERLINK("http://evil.example","click")' in texts
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]) == 20
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]) == 21


@needs_dot
def test_svg_is_deterministic(flow_graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    one = write_svg(flow_graph, tmp_path / "1.svg")[0].read_bytes()
    two = write_svg(flow_graph, tmp_path / "2.svg")[0].read_bytes()
    assert one == two


def test_missing_graphviz_is_one_clear_line(flow_graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    with pytest.raises(BtcwatchError) as info:
        write_svg(flow_graph, tmp_path / "x.svg", dot_command="no-such-graphviz-dot")
    assert (
        str(info.value) == GRAPHVIZ_MISSING == "Graphviz is not installed: apt-get install graphviz"
    )
    assert not (tmp_path / "x.svg").exists()


def test_failing_graphviz_is_reported(flow_graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    with pytest.raises(BtcwatchError, match=r"Graphviz dot failed \(exit 1\)"):
        write_svg(flow_graph, tmp_path / "x.svg", dot_command="false")
