"""Graphviz DOT, and SVG rendered from it by Graphviz's ``dot``.

DOT is text an investigator can diff, edit and render anywhere (``dot -Tpdf flow.dot``).
Addresses are ellipses filled by entity category with a border by role, transactions are
boxes (CoinJoins filled like mixers), edges are labelled with their BTC value and drawn wider
for more money (log scale). Every string is quoted and escaped (backslash, quote, line ends),
so labels can neither end a string nor smuggle Graphviz escapes such as ``\\N``; Graphviz in
turn escapes text when it writes SVG, so a label like ``<script>`` stays text there too.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import networkx as nx

from btcwatch.errors import BtcwatchError
from btcwatch.export.graph_schema import (
    ADDRESS,
    CATEGORY_COLOURS,
    ROLE_COLOURS,
    TX_COLOUR,
    display_label,
    edge_id,
    sorted_edges,
    sorted_nodes,
    validate_graph,
)
from btcwatch.money import btc

__all__ = ["GRAPHVIZ_MISSING", "dot_string", "edge_width", "to_dot", "write_dot", "write_svg"]

GRAPHVIZ_MISSING = "Graphviz is not installed: apt-get install graphviz"
_RENDER_TIMEOUT_S = 600


def dot_string(value: str) -> str:
    """A double-quoted DOT string showing ``value`` literally (line ends become ``\\n``)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return f'"{escaped}"'


def edge_width(value_sat: int) -> float:
    """Pen width from 1 (dust) to about 6 (10 BTC): log scale, so small payments stay visible."""
    return 1.0 + math.log10(value_sat / 10_000 + 1)


def _attrs(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(f"{name}={dot_string(value)}" for name, value in pairs)


def _node_attrs(node: str, data: Mapping[str, Any]) -> list[tuple[str, str]]:
    if data["kind"] == ADDRESS:
        shown = display_label(node, data)
        label = shown if shown == data["address"] else f"{shown}\n{data['address']}"
        if data["entity"]:
            label += f"\n[{data['entity']}]"
        return [
            ("id", node),
            ("shape", "ellipse"),
            ("label", label),
            ("fillcolor", CATEGORY_COLOURS[data["category"]]),
            ("color", ROLE_COLOURS[data["role"]]),
            ("penwidth", "3" if data["role"] else "1"),
            ("tooltip", data["evidence"] or data["address"]),
        ]
    height = f"height {data['height']}" if data["height"] >= 0 else "unconfirmed"
    flags = [name for name in ("coinjoin", "peel") if data[name]]
    label = f"tx {data['txid'][:16]}…\n{height}" + (f"\n{' '.join(flags)}" if flags else "")
    return [
        ("id", node),
        ("shape", "box"),
        ("label", label),
        ("fillcolor", CATEGORY_COLOURS["mixer"] if data["coinjoin"] else TX_COLOUR),
        ("fontcolor", "#FFFFFF"),
        ("tooltip", data["txid"]),
    ]


def _edge_tooltip(data: Mapping[str, Any]) -> str:
    """The outpoint, and the EUR value with the price that made it (time, hour|day, source)."""
    if not data["value_eur"]:
        return str(data["outpoint"])
    what = "hourly" if data["price_resolution"] == "hour" else "daily"
    return (
        f"{data['outpoint']}\n{data['value_eur']} EUR, {what} price of {data['price_time']}"
        f"\nsource: {data['price_source']}"
    )


def to_dot(g: nx.MultiDiGraph) -> str:
    """The DOT text of a validated graph (raises ValueError otherwise)."""
    validate_graph(g)
    caption = (
        f"{g.graph['title']}\ncase: {g.graph['case']} | trace: {g.graph['trace_id']} | "
        f"taint policy: {g.graph['policy']} | created: {g.graph['created_at']}"
    )
    lines = [
        'digraph "btcwatch" {',
        "  graph ["
        + _attrs(
            [("label", caption), ("labelloc", "t"), ("rankdir", "LR"), ("fontname", "Helvetica")]
        )
        + "];",
        '  node [fontname="Helvetica", fontsize="9", style="filled"];',
        '  edge [fontname="Helvetica", fontsize="8", color="#555555"];',
    ]
    for node, data in sorted_nodes(g):
        lines.append(f"  {dot_string(node)} [{_attrs(_node_attrs(node, data))}];")
    for u, v, key, data in sorted_edges(g):
        pairs = [
            ("id", edge_id(data["kind"], key)),
            ("label", btc(data["value_sat"]) + (" (change)" if data["is_change"] else "")),
            ("penwidth", f"{edge_width(data['value_sat']):.2f}"),
            ("tooltip", _edge_tooltip(data)),
        ]
        lines.append(f"  {dot_string(u)} -> {dot_string(v)} [{_attrs(pairs)}];")
    lines += ["}", ""]
    return "\n".join(lines)


def write_dot(g: nx.MultiDiGraph, path: Path) -> list[Path]:
    """Write ``path`` (UTF-8 DOT); returns ``[path]``."""
    path.write_bytes(to_dot(g).encode("utf-8"))
    return [path]


def write_svg(g: nx.MultiDiGraph, path: Path, *, dot_command: str = "dot") -> list[Path]:
    """Render with Graphviz (``dot -Tsvg``) into ``path``; BtcwatchError when it is missing."""
    text = to_dot(g)
    executable = shutil.which(dot_command)
    if executable is None:
        raise BtcwatchError(GRAPHVIZ_MISSING)
    try:
        done = subprocess.run(
            [executable, "-Tsvg"],
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=_RENDER_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BtcwatchError(
            f"Graphviz took more than {_RENDER_TIMEOUT_S} s to lay out the graph"
        ) from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"]
        raise BtcwatchError(f"Graphviz dot failed (exit {done.returncode}): {reason[-1]}")
    path.write_bytes(done.stdout)
    return [path]
