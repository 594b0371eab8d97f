"""nodes.csv + edges.csv for spreadsheets, Maltego, i2 Analyst's Notebook and Gephi.

``write_csv(g, folder)`` treats its path as a folder (created if missing) and writes
``folder/nodes.csv`` and ``folder/edges.csv``: importers map one file per entity kind, and
fixed names let a saved Maltego/i2 import specification be reused case after case.

Format: UTF-8 without BOM, a header row, every cell quoted, CRLF line ends (RFC 4180). Column
names are ones the import wizards map easily; ``Id``/``Label`` and ``Source``/``Target``/``Type``
are also what Gephi's spreadsheet import expects. Times are given twice: ISO 8601 UTC for
people and unix seconds for tools. BTC amounts are exact 8-decimal text.

Formula injection (OWASP "CSV Injection"): a cell that starts with ``=``, ``+``, ``-``, ``@``,
tab or CR (or with ``'``, so the rule stays reversible) gets a leading apostrophe, unless it is
a plain number such as ``-1``, which no spreadsheet evaluates as a formula. `unprotect_cell`
undoes it exactly.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import networkx as nx

from btcwatch.errors import InputError
from btcwatch.export.graph_schema import (
    ADDRESS,
    INPUT,
    display_label,
    edge_id,
    sorted_edges,
    sorted_nodes,
    validate_graph,
)
from btcwatch.money import format_btc
from btcwatch.timefmt import iso_utc

__all__ = [
    "EDGE_COLUMNS",
    "NODE_COLUMNS",
    "edges_csv",
    "nodes_csv",
    "protect_cell",
    "unprotect_cell",
    "write_csv",
]

_DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r", "'")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")

Row = Mapping[str, Any]


def protect_cell(value: str) -> str:
    """Neutralise a cell a spreadsheet could run as a formula (OWASP CSV injection)."""
    if value.startswith(_DANGEROUS_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def unprotect_cell(value: str) -> str:
    """Exact inverse of `protect_cell`, for programs that read the CSV back."""
    if len(value) > 1 and value[0] == "'" and value[1:].startswith(_DANGEROUS_START):
        return value[1:]
    return value


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _if_address(name: str, render: Callable[[Any], str] = _text) -> Callable[[str, Row], str]:
    return lambda node, d: render(d[name]) if d["kind"] == ADDRESS else ""


def _if_tx(name: str, render: Callable[[Any], str] = _text) -> Callable[[str, Row], str]:
    return lambda node, d: render(d[name]) if d["kind"] != ADDRESS else ""


NODE_COLUMNS: tuple[tuple[str, Callable[[str, Row], str]], ...] = (
    ("Id", lambda node, d: node),
    ("Type", lambda node, d: d["kind"]),
    ("Label", display_label),
    ("Address", _if_address("address")),
    ("TxID", _if_tx("txid")),
    ("Address Label", _if_address("label")),
    ("Entity", _if_address("entity")),
    ("Category", _if_address("category")),
    ("Role", _if_address("role")),
    ("Cluster", _if_address("cluster")),
    ("Is Source", _if_address("is_source")),
    ("Taint (sats)", _if_address("taint_sat")),
    ("Taint (BTC)", _if_address("taint_sat", format_btc)),
    ("Received (sats)", _if_address("received_sat")),
    ("Received (BTC)", _if_address("received_sat", format_btc)),
    ("First Seen (ISO UTC)", _if_address("first_seen", iso_utc)),
    ("First Seen (unix)", _if_address("first_seen")),
    ("Stop Reason", _if_address("stop_reason")),
    ("Height", _if_tx("height")),
    ("Time (ISO UTC)", _if_tx("time", iso_utc)),
    ("Time (unix)", _if_tx("time")),
    ("Fee (sats)", _if_tx("fee_sat")),
    ("CoinJoin", _if_tx("coinjoin")),
    ("Peel", _if_tx("peel")),
    ("Change Vout", _if_tx("change_vout")),
    ("Findings", _if_tx("findings")),
    ("Evidence", lambda node, d: d["evidence"]),
)

EdgeCell = Callable[[str, str, Row], str]


def _edge_attr(name: str, render: Callable[[Any], str] = _text) -> EdgeCell:
    return lambda u, v, d: render(d[name])


EDGE_COLUMNS: tuple[tuple[str, EdgeCell], ...] = (
    ("Id", lambda u, v, d: edge_id(d["kind"], d["outpoint"])),
    ("Source", lambda u, v, d: u),
    ("Target", lambda u, v, d: v),
    ("Type", lambda u, v, d: "Directed"),
    ("Kind", _edge_attr("kind")),
    ("Outpoint", _edge_attr("outpoint")),
    ("TxID", lambda u, v, d: (v if d["kind"] == INPUT else u).removeprefix("tx:")),
    ("Address", lambda u, v, d: (u if d["kind"] == INPUT else v).removeprefix("addr:")),
    ("Value (BTC)", _edge_attr("value_btc")),
    ("Value (sats)", _edge_attr("value_sat")),
    ("Value (EUR)", _edge_attr("value_eur")),
    ("EUR Price Time (ISO UTC)", _edge_attr("price_time")),
    ("EUR Price Resolution", _edge_attr("price_resolution")),
    ("EUR Price Source", _edge_attr("price_source")),
    ("Taint (sats)", _edge_attr("taint_sat")),
    ("Taint (BTC)", _edge_attr("taint_sat", format_btc)),
    ("Time (ISO UTC)", _edge_attr("time", iso_utc)),
    ("Time (unix)", _edge_attr("time")),
    ("Height", _edge_attr("height")),
    ("Is Change", _edge_attr("is_change")),
    ("Hop", _edge_attr("hop")),
)


def _render(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([protect_cell(cell) for cell in row] for row in rows)
    return out.getvalue()


def nodes_csv(g: nx.MultiDiGraph) -> str:
    """The text of nodes.csv for a validated graph."""
    validate_graph(g)
    rows = [[cell(node, data) for _, cell in NODE_COLUMNS] for node, data in sorted_nodes(g)]
    return _render([name for name, _ in NODE_COLUMNS], rows)


def edges_csv(g: nx.MultiDiGraph) -> str:
    """The text of edges.csv for a validated graph."""
    validate_graph(g)
    rows = [[cell(u, v, data) for _, cell in EDGE_COLUMNS] for u, v, _, data in sorted_edges(g)]
    return _render([name for name, _ in EDGE_COLUMNS], rows)


def write_csv(g: nx.MultiDiGraph, folder: Path) -> list[Path]:
    """Write ``folder/nodes.csv`` and ``folder/edges.csv``; returns both paths."""
    if folder.exists() and not folder.is_dir():
        raise InputError(f"CSV export writes a folder, but {folder} is a file")
    nodes, edges = nodes_csv(g), edges_csv(g)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "nodes.csv", folder / "edges.csv"]
    written[0].write_bytes(nodes.encode("utf-8"))
    written[1].write_bytes(edges.encode("utf-8"))
    return written
