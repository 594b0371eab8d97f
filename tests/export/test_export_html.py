"""The offline viewer page, checked as text: CSP hashes, inlined code, escaped data, no URLs."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import networkx as nx
import pytest
from export_graphs import SCRIPT_LABEL, addr, build_flow_graph

from btcwatch.export import html as html_module
from btcwatch.export.html import LIBRARY_FILE, csp_source, embed_json, render_html, write_html
from btcwatch.export.jsonfmt import to_cytoscape

ASSETS = resources.files("btcwatch.export") / "assets"


class _Page(HTMLParser):
    """Collects tags, attributes and the raw text of each script/style element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.blocks: list[tuple[str, dict[str, str | None], str]] = []
        self._open: tuple[str, dict[str, str | None]] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._open, self._text = (tag, dict(attrs)), []

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag == self._open[0]:
            self.blocks.append((tag, self._open[1], "".join(self._text)))
            self._open = None


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


def test_page_structure_and_csp(flow_graph: nx.MultiDiGraph) -> None:
    text = render_html(flow_graph)
    page = _parse(text)
    scripts = [b for b in page.blocks if b[0] == "script"]
    styles = [b for b in page.blocks if b[0] == "style"]
    assert [s[1].get("type") for s in scripts] == ["application/json", None, None]
    assert len(styles) == 1
    metas = [a for t, a in page.tags if t == "meta" and a.get("http-equiv")]
    assert len(metas) == 1 and metas[0]["http-equiv"] == "Content-Security-Policy"
    policy = dict([*part.split(" ", 1), ""][:2] for part in (metas[0]["content"] or "").split("; "))
    assert policy["default-src"] == "'none'"
    assert policy["connect-src"] == "'none'"
    assert policy["img-src"] == "data:"
    assert policy["script-src"] == " ".join(csp_source(s[2]) for s in scripts[1:])
    assert policy["style-src"] == csp_source(styles[0][2])
    assert "unsafe" not in metas[0]["content"]  # type: ignore[operator]
    # the CSP must come before any script or style to govern them
    assert text.index("Content-Security-Policy") < text.index("<style")


def test_no_external_references(flow_graph: nx.MultiDiGraph) -> None:
    page = _parse(render_html(flow_graph))
    for tag, attrs in page.tags:
        for name in ("src", "href", "action", "srcset", "poster", "data"):
            assert name not in attrs, f"<{tag} {name}=...> would load something"
    assert not [t for t, _ in page.tags if t in ("link", "img", "iframe", "object", "base")]


def test_data_block_cannot_break_out(flow_graph: nx.MultiDiGraph) -> None:
    text = render_html(flow_graph)
    page = _parse(text)
    data = next(b[2] for b in page.blocks if b[1].get("type") == "application/json")
    assert "<" not in data and ">" not in data and "&" not in data
    payload = json.loads(data)
    assert payload["graph"] == to_cytoscape(flow_graph)
    assert SCRIPT_LABEL in {n["data"].get("label") for n in payload["graph"]["elements"]["nodes"]}
    assert [t for t, _ in page.tags].count("script") == 3


def test_a_closing_script_tag_in_a_label_stays_inside_the_json(
    flow_graph: nx.MultiDiGraph,
) -> None:
    flow_graph.nodes[f"addr:{addr('victim')}"]["label"] = (
        "</script><script>alert(2)</script><!-- @@DATA@@ @@CSS@@ \u2028"
    )
    text = render_html(flow_graph)
    page = _parse(text)
    assert [t for t, _ in page.tags].count("script") == 3
    assert "<script>alert(2)" not in text
    data = next(b[2] for b in page.blocks if b[1].get("type") == "application/json")
    # placeholders are filled in one pass: the label's "@@DATA@@" is never expanded
    assert "@@DATA@@" not in text.replace(data, "")
    assert data.count("@@DATA@@") == 2  # the node's label and its display name
    labels = {n["data"].get("label") for n in json.loads(data)["graph"]["elements"]["nodes"]}
    assert "</script><script>alert(2)</script><!-- @@DATA@@ @@CSS@@ \u2028" in labels


def test_embed_json_escapes() -> None:
    assert embed_json({"a": "</script>&\u2028"}) == '{"a":"\\u003c/script\\u003e\\u0026\\u2028"}'


def test_title_is_escaped(flow_graph: nx.MultiDiGraph) -> None:
    flow_graph.graph["title"] = "<b>Case</b> & co"
    text = render_html(flow_graph)
    assert "<title>&lt;b&gt;Case&lt;/b&gt; &amp; co</title>" in text


def test_viewer_writes_data_only_as_text() -> None:
    viewer = (ASSETS / "viewer.js").read_text(encoding="utf-8")
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "Function(",
    ):
        assert sink not in viewer, f"viewer.js uses {sink}"
    assert "textContent" in viewer
    assert not re.search(r"https?://", viewer)


def test_vendored_library_and_licence() -> None:
    library = (ASSETS / LIBRARY_FILE).read_text(encoding="utf-8")
    licence = (ASSETS / "cytoscape.LICENSE").read_text(encoding="utf-8")
    vendored = (ASSETS / "VENDORED.txt").read_text(encoding="utf-8")
    assert "Permission is hereby granted, free of charge" in licence  # MIT
    assert "The Cytoscape Consortium" in licence
    assert "version: 3.35.0" in vendored and "licence: MIT" in vendored
    assert "</script" not in library.lower() and "<!--" not in library
    digest = hashlib.sha256((ASSETS / LIBRARY_FILE).read_bytes()).hexdigest()
    assert f"cytoscape.min.js-sha256: {digest}" in vendored


def test_page_is_deterministic(
    graph_factory: Callable[[], nx.MultiDiGraph], tmp_path: Path
) -> None:
    one = write_html(graph_factory(), tmp_path / "1.html")[0].read_bytes()
    two = write_html(graph_factory(), tmp_path / "2.html")[0].read_bytes()
    assert one == two


@pytest.mark.parametrize("closing", ["</script>", "<!--"])
def test_uninlinable_code_is_refused(closing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    original = html_module._asset

    def fake(name: str) -> str:
        text = original(name)
        return text + f"/* {closing} */" if name == "viewer.js" else text

    monkeypatch.setattr(html_module, "_asset", fake)
    with pytest.raises(ValueError, match=r"viewer\.js cannot be inlined"):
        render_html(build_flow_graph())
