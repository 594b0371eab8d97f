"""GraphML for yEd, Gephi and networkx, written by hand for exact types and stable bytes.

networkx's own writer declares Python ints as GraphML ``int``, which Java tools (yEd, Gephi)
read as 32-bit: a satoshi value above 21.47 BTC would overflow. Here every int is declared
``long``, booleans ``boolean``, text ``string``; nodes and edges are sorted and attributes come in
schema order, so the same graph always gives the same bytes. Edge ids are ``<kind>:<outpoint>``
(see `graph_schema.edge_id`). In yEd, show labels with Edit > Properties Mapper (node ``label``
or ``address``/``txid``); Gephi uses the ``label`` attribute as the node label on import.

Read back with ``networkx.read_graphml(path, force_multigraph=True)``: every node, edge
(keyed by its edge id) and typed attribute comes back.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import networkx as nx

from btcwatch.export.graph_schema import (
    ADDRESS_ATTRS,
    EDGE_ATTRS,
    GRAPH_ATTRS,
    TX_ATTRS,
    edge_id,
    edge_items,
    node_items,
    sorted_edges,
    sorted_nodes,
    validate_graph,
)

__all__ = ["to_graphml", "write_graphml", "xml_attr", "xml_text", "xml_value"]

_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)


def xml_text(value: str) -> str:
    """Escape element text; a CR is a character reference so parsers do not fold it away."""
    return value.translate(_TEXT_ESCAPES)


def xml_attr(value: str) -> str:
    """Escape a double-quoted attribute value, keeping tabs and newlines intact on read."""
    return value.translate(_ATTR_ESCAPES)


def xml_value(value: object) -> str:
    """GraphML/GEXF lexical form of a validated value (``true``/``false``, digits or text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml_type(python_type: type) -> str:
    if python_type is bool:
        return "boolean"
    if python_type is int:
        return "long"
    return "string"


def _key_lines(scope: str, prefix: str, schema: Mapping[str, type]) -> list[str]:
    return [
        f'  <key id="{prefix}_{name}" for="{scope}" attr.name="{name}" '
        f'attr.type="{_xml_type(python_type)}"/>'
        for name, python_type in schema.items()
    ]


def _data_lines(indent: str, prefix: str, items: list[tuple[str, Any]]) -> list[str]:
    return [
        f'{indent}<data key="{prefix}_{name}">{xml_text(xml_value(value))}</data>'
        for name, value in items
    ]


def to_graphml(g: nx.MultiDiGraph) -> str:
    """The GraphML document of a validated graph (raises ValueError otherwise)."""
    validate_graph(g)
    node_schema = {**ADDRESS_ATTRS, **TX_ATTRS}
    graph_schema = {name: type(g.graph[name]) for name in GRAPH_ATTRS}
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns'
        ' http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">',
        *_key_lines("graph", "g", graph_schema),
        *_key_lines("node", "n", node_schema),
        *_key_lines("edge", "e", EDGE_ATTRS),
        '  <graph id="btcwatch" edgedefault="directed">',
        *_data_lines("    ", "g", [(name, g.graph[name]) for name in GRAPH_ATTRS]),
    ]
    for node, data in sorted_nodes(g):
        lines.append(f'    <node id="{xml_attr(node)}">')
        lines.extend(_data_lines("      ", "n", node_items(data)))
        lines.append("    </node>")
    for u, v, key, data in sorted_edges(g):
        eid = edge_id(data["kind"], key)
        lines.append(
            f'    <edge id="{xml_attr(eid)}" source="{xml_attr(u)}" target="{xml_attr(v)}">'
        )
        lines.extend(_data_lines("      ", "e", edge_items(data)))
        lines.append("    </edge>")
    lines += ["  </graph>", "</graphml>", ""]
    return "\n".join(lines)


def write_graphml(g: nx.MultiDiGraph, path: Path) -> list[Path]:
    """Write ``path`` (UTF-8 GraphML); returns ``[path]``."""
    path.write_bytes(to_graphml(g).encode("utf-8"))
    return [path]
