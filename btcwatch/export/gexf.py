"""GEXF 1.2draft for Gephi, with times so its timeline can replay the flow.

Dynamic graph (``mode="dynamic"``, ``timeformat="double"``, values in unix seconds): a tx node
starts at its ``time``, an address at its ``first_seen``, an edge at its ``time``; nothing
ends, so the timeline shows money arriving and staying. Unknown times (0) get no ``start``
and exist throughout. ``double`` rather than ``dateTime`` because networkx (and so our
round-trip tests) cannot read ``dateTime`` starts.

Following networkx's GEXF convention, a node's ``label`` attribute is the element's label: the
address label when there is one, else the address or txid (`graph_schema.display_label`), so
Gephi always shows something readable. Edge weight is the value in BTC (Gephi draws thickness
from it); edge ids are ``<kind>:<outpoint>``. Nodes carry ``viz:color`` from the entity
category (addresses) so the file opens already coloured. Graph attributes go to ``<meta>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import networkx as nx

from btcwatch.export.graph_schema import (
    ADDRESS,
    ADDRESS_ATTRS,
    CATEGORY_COLOURS,
    EDGE_ATTRS,
    TX_ATTRS,
    TX_COLOUR,
    display_label,
    edge_id,
    edge_items,
    node_items,
    sorted_edges,
    sorted_nodes,
    validate_graph,
)
from btcwatch.export.graphml import xml_attr, xml_text, xml_value

__all__ = ["to_gexf", "write_gexf"]


def _gexf_type(python_type: type) -> str:
    if python_type is bool:
        return "boolean"
    if python_type is int:
        return "long"
    return "string"


def _attribute_block(scope: str, schema: Mapping[str, type]) -> list[str]:
    lines = [f'    <attributes class="{scope}" mode="static">']
    lines += [
        f'      <attribute id="{name}" title="{name}" type="{_gexf_type(python_type)}"/>'
        for name, python_type in schema.items()
    ]
    lines.append("    </attributes>")
    return lines


def _attvalues(items: list[tuple[str, Any]]) -> list[str]:
    lines = ["        <attvalues>"]
    lines += [
        f'          <attvalue for="{name}" value="{xml_attr(xml_value(value))}"/>'
        for name, value in items
    ]
    lines.append("        </attvalues>")
    return lines


def _start(unix: int) -> str:
    return f' start="{unix}.0"' if unix > 0 else ""


def _colour(data: Mapping[str, Any]) -> str:
    if data["kind"] == ADDRESS:
        return CATEGORY_COLOURS[data["category"]]
    return CATEGORY_COLOURS["mixer"] if data["coinjoin"] else TX_COLOUR


def _viz_colour(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f'        <viz:color r="{r}" g="{g}" b="{b}" a="1.0"/>'


def _meta_open(created_at: str) -> str:
    if not created_at:
        return "  <meta>"
    return f'  <meta lastmodifieddate="{xml_attr(created_at[:10])}">'


def _description(graph: Mapping[str, Any]) -> str:
    return (
        f"{graph['title']} | case: {graph['case']} | trace: {graph['trace_id']} | "
        f"taint policy: {graph['policy']} | created: {graph['created_at']}"
    )


def to_gexf(g: nx.MultiDiGraph) -> str:
    """The GEXF document of a validated graph (raises ValueError otherwise)."""
    validate_graph(g)
    node_schema = {
        name: python_type
        for name, python_type in {**ADDRESS_ATTRS, **TX_ATTRS}.items()
        if name != "label"
    }
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<gexf xmlns="http://www.gexf.net/1.2draft"'
        ' xmlns:viz="http://www.gexf.net/1.2draft/viz"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xsi:schemaLocation="http://www.gexf.net/1.2draft'
        ' http://www.gexf.net/1.2draft/gexf.xsd" version="1.2">',
        _meta_open(g.graph["created_at"]),
        "    <creator>btcwatch</creator>",
        f"    <description>{xml_text(_description(g.graph))}</description>",
        "  </meta>",
        '  <graph mode="dynamic" defaultedgetype="directed" timeformat="double">',
        *_attribute_block("node", node_schema),
        *_attribute_block("edge", EDGE_ATTRS),
        "    <nodes>",
    ]
    for node, data in sorted_nodes(g):
        start = data["first_seen"] if data["kind"] == ADDRESS else data["time"]
        label = xml_attr(display_label(node, data))
        lines.append(f'      <node id="{xml_attr(node)}" label="{label}"{_start(start)}>')
        lines += _attvalues([(k, v) for k, v in node_items(data) if k != "label"])
        lines.append(_viz_colour(_colour(data)))
        lines.append("      </node>")
    lines += ["    </nodes>", "    <edges>"]
    for u, v, key, data in sorted_edges(g):
        lines.append(
            f'      <edge id="{xml_attr(edge_id(data["kind"], key))}" source="{xml_attr(u)}"'
            f' target="{xml_attr(v)}" weight="{data["value_btc"]}"{_start(data["time"])}>'
        )
        lines += _attvalues(edge_items(data))
        lines.append("      </edge>")
    lines += ["    </edges>", "  </graph>", "</gexf>", ""]
    return "\n".join(lines)


def write_gexf(g: nx.MultiDiGraph, path: Path) -> list[Path]:
    """Write ``path`` (UTF-8 GEXF 1.2draft); returns ``[path]``."""
    path.write_bytes(to_gexf(g).encode("utf-8"))
    return [path]
