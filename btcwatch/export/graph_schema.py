"""The money-flow graph every exporter reads: one validator of the graph's vocabulary.

The tracer builds a `networkx.MultiDiGraph` in the words of `btcwatch.graphvocab` (node ids
``addr:<address>`` and ``tx:<txid>``, edges keyed by outpoint, the attribute sets
`GRAPH_ATTRS`, `ADDRESS_ATTRS`, `TX_ATTRS`, `EDGE_ATTRS`, re-exported here for the writers);
every writer in this package trusts only what `validate_graph` has checked.

The schema is closed: a missing, unknown, ``None`` or wrongly typed attribute is refused with a
ValueError naming the node or edge and the attribute, because GraphML and GEXF declare one type
per attribute and break (or silently stringify) on anything else, and because a typo in the
tracer should fail loudly, not vanish from an evidence file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import networkx as nx

from btcwatch.case import Role
from btcwatch.graphvocab import (
    ADDRESS,
    ADDRESS_ATTRS,
    EDGE_ATTRS,
    GRAPH_ATTRS,
    INPUT,
    OUTPUT,
    TX,
    TX_ATTRS,
    address_node_id,
    edge_id,
    tx_node_id,
)
from btcwatch.money import format_btc
from btcwatch.tags import CATEGORIES as TAG_CATEGORIES

__all__ = [
    "ADDRESS",
    "ADDRESS_ATTRS",
    "CATEGORIES",
    "CATEGORY_COLOURS",
    "EDGE_ATTRS",
    "GRAPH_ATTRS",
    "INPUT",
    "OUTPUT",
    "PRICE_RESOLUTIONS",
    "ROLES",
    "ROLE_COLOURS",
    "TX",
    "TX_ATTRS",
    "TX_COLOUR",
    "address_node_id",
    "display_label",
    "edge_id",
    "edge_items",
    "node_items",
    "sorted_edges",
    "sorted_nodes",
    "tx_node_id",
    "validate_graph",
]

#: What ``price_resolution`` may say on an edge that carries ``value_eur``.
PRICE_RESOLUTIONS: tuple[str, ...] = ("hour", "day")

#: Entity categories: the tag vocabulary (`btcwatch.tags.CATEGORIES`) plus "" for unknown.
CATEGORIES: tuple[str, ...] = (*TAG_CATEGORIES, "")
#: Roles in the case (`btcwatch.case.Role`) plus "" for none.
ROLES: tuple[str, ...] = (*(role.value for role in Role), "")

#: Fill colour per entity category (Okabe-Ito and Tol based, told apart by most colour-blind
#: readers); unknown is light grey so attributed entities stand out.
CATEGORY_COLOURS: Mapping[str, str] = {
    "ransomware": "#D55E00",
    "sanctioned": "#882255",
    "hack": "#EE3377",
    "darknet": "#332288",
    "exchange": "#009E73",
    "mixer": "#CC79A7",
    "service": "#0072B2",
    "gambling": "#E69F00",
    "miner": "#999933",
    "other": "#F0E442",
    "": "#BBBBBB",
}
#: Fill colour of transaction nodes (CoinJoins take the mixer colour).
TX_COLOUR = "#444444"
#: Border colour per role in the case.
ROLE_COLOURS: Mapping[str, str] = {
    "ransom": "#D55E00",
    "attacker": "#B00020",
    "victim": "#56B4E9",
    "exchange": "#009E73",
    "other": "#777777",
    "": "#555555",
}

_TXID = re.compile(r"[0-9a-f]{64}")
_ADDRESS = re.compile(r"[A-Za-z0-9]{14,90}")
_OUTPOINT = re.compile(r"([0-9a-f]{64}):(0|[1-9][0-9]{0,9})")
_EUR = re.compile(r"\d+(\.\d{1,8})?")
# XML 1.0 cannot carry these at all, and lone surrogates cannot be encoded as UTF-8.
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def display_label(node: str, data: Mapping[str, Any]) -> str:
    """What a person sees on a node: the address label, else the address or txid."""
    if data["kind"] == ADDRESS:
        label = str(data["label"])
        return label if label else str(data["address"])
    return str(data["txid"])


def sorted_nodes(g: nx.MultiDiGraph) -> list[tuple[str, dict[str, Any]]]:
    """Nodes sorted by id: the same graph always writes the same bytes."""
    return sorted(g.nodes(data=True), key=lambda item: item[0])


def sorted_edges(g: nx.MultiDiGraph) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Edges sorted by (source, target, key), for deterministic output."""
    return sorted(g.edges(keys=True, data=True), key=lambda item: (item[0], item[1], item[2]))


def validate_graph(g: nx.MultiDiGraph) -> None:
    """Raise ValueError naming the first bad graph attribute, node or edge (in sorted order)."""
    if not isinstance(g, nx.MultiDiGraph):
        raise ValueError(f"the graph must be a networkx.MultiDiGraph, not {type(g).__name__}")
    _check_graph_attrs(g.graph)
    for node in g.nodes:  # before sorting: mixed id types cannot be sorted
        if not isinstance(node, str):
            raise ValueError(f"node {node!r}: node ids must be str, not {type(node).__name__}")
    for u, v, key in g.edges(keys=True):
        if not isinstance(key, str):
            raise ValueError(f"edge {u!r} -> {v!r} (key {key!r}): the key must be an outpoint str")
    for node, data in sorted_nodes(g):
        _check_node(node, data)
    seen: dict[str, str] = {}
    for u, v, key, data in sorted_edges(g):
        where = f"edge {u!r} -> {v!r} (key {key!r})"
        _check_edge(where, u, v, key, data, g)
        eid = edge_id(data["kind"], key)
        if eid in seen:
            raise ValueError(
                f"{where}: outpoint {key} is already the {data['kind']} of {seen[eid]}"
            )
        seen[eid] = where


def _check_graph_attrs(attrs: Mapping[str, Any]) -> None:
    for name, value in attrs.items():
        if name not in GRAPH_ATTRS:
            known = ", ".join(GRAPH_ATTRS)
            raise ValueError(f"graph attribute {name!r} is not in the schema (known: {known})")
        if value is None:
            raise ValueError(f"graph attribute {name!r} is None")
        if type(value) not in GRAPH_ATTRS[name]:
            wanted = " or ".join(t.__name__ for t in GRAPH_ATTRS[name])
            raise ValueError(
                f"graph attribute {name!r} must be {wanted}, not {type(value).__name__}"
            )
        if isinstance(value, str):
            _check_text(f"graph attribute {name!r}", value)
    for name in GRAPH_ATTRS:
        if name not in attrs:
            raise ValueError(f"graph attribute {name!r} is missing")
    try:
        if attrs["created_at"]:  # "" when unknown
            datetime.fromisoformat(attrs["created_at"])
    except ValueError:
        raise ValueError(
            f"graph attribute 'created_at' is not an ISO date-time: {attrs['created_at']!r}"
        ) from None


def _check_attrs(where: str, data: Mapping[str, Any], schema: Mapping[str, type]) -> None:
    """None, unknown, missing and wrongly typed attributes (bool is not an int here)."""
    for name, value in data.items():
        if value is None:
            raise ValueError(f"{where}: attribute {name!r} is None")
        if name not in schema:
            raise ValueError(
                f"{where}: attribute {name!r} is not in the schema (known: {', '.join(schema)})"
            )
        if type(value) is not schema[name]:
            raise ValueError(
                f"{where}: attribute {name!r} must be {schema[name].__name__}, "
                f"not {type(value).__name__} ({value!r})"
            )
        if isinstance(value, str):
            _check_text(f"{where}: attribute {name!r}", value)
    for name in schema:
        if name not in data:
            raise ValueError(f"{where}: attribute {name!r} is missing")


def _check_text(where: str, value: str) -> None:
    bad = _BAD_CHARS.search(value)
    if bad:
        raise ValueError(
            f"{where} contains the control character U+{ord(bad.group()):04X}, "
            "which XML formats cannot carry"
        )


def _at_least(where: str, data: Mapping[str, Any], name: str, low: int) -> None:
    if data[name] < low:
        raise ValueError(f"{where}: attribute {name!r} must be >= {low}, got {data[name]}")


def _check_node(node: object, data: Mapping[str, Any]) -> None:
    if not isinstance(node, str):
        raise ValueError(f"node {node!r}: node ids must be str, not {type(node).__name__}")
    where = f"node {node!r}"
    kind = data.get("kind")
    if kind == ADDRESS:
        _check_attrs(where, data, ADDRESS_ATTRS)
        if not _ADDRESS.fullmatch(data["address"]):
            raise ValueError(f"{where}: {data['address']!r} does not look like an address")
        if node != address_node_id(data["address"]):
            raise ValueError(f"{where}: id must be {address_node_id(data['address'])!r}")
        if data["category"] not in CATEGORIES:
            raise ValueError(f"{where}: category {data['category']!r} is not one of {CATEGORIES}")
        if data["role"] not in ROLES:
            raise ValueError(f"{where}: role {data['role']!r} is not one of {ROLES}")
        _at_least(where, data, "cluster", -1)
        for name in ("taint_sat", "received_sat", "first_seen"):
            _at_least(where, data, name, 0)
    elif kind == TX:
        _check_attrs(where, data, TX_ATTRS)
        if not _TXID.fullmatch(data["txid"]):
            raise ValueError(f"{where}: txid {data['txid']!r} is not 64 lower-case hex digits")
        if node != tx_node_id(data["txid"]):
            raise ValueError(f"{where}: id must be {tx_node_id(data['txid'])!r}")
        for name, low in (("height", -1), ("time", 0), ("fee_sat", 0), ("change_vout", -1)):
            _at_least(where, data, name, low)
        try:
            findings = json.loads(data["findings"])
        except json.JSONDecodeError:
            findings = None
        if not isinstance(findings, list):
            raise ValueError(f"{where}: attribute 'findings' must be a JSON array")
    elif kind is None:
        raise ValueError(
            f"{where}: attribute 'kind' is missing or None (an edge to a node never added?)"
        )
    else:
        raise ValueError(f"{where}: kind {kind!r} is neither {ADDRESS!r} nor {TX!r}")


def _check_edge(
    where: str, u: str, v: str, key: object, data: Mapping[str, Any], g: nx.MultiDiGraph
) -> None:
    _check_attrs(where, data, EDGE_ATTRS)
    if not isinstance(key, str) or not (match := _OUTPOINT.fullmatch(key)):
        raise ValueError(f"{where}: the key must be an outpoint 'txid:vout'")
    if data["outpoint"] != key:
        raise ValueError(f"{where}: attribute 'outpoint' {data['outpoint']!r} differs from the key")
    kinds = (g.nodes[u]["kind"], g.nodes[v]["kind"])
    if data["kind"] == INPUT:
        if kinds != (ADDRESS, TX):
            raise ValueError(f"{where}: an input edge must go from an address to a tx")
    elif data["kind"] == OUTPUT:
        if kinds != (TX, ADDRESS):
            raise ValueError(f"{where}: an output edge must go from a tx to an address")
        tx = g.nodes[u]
        if match.group(1) != tx["txid"]:
            raise ValueError(f"{where}: an output's outpoint must belong to its tx {tx['txid']}")
        if data["is_change"] and int(match.group(2)) != tx["change_vout"]:
            raise ValueError(
                f"{where}: is_change is true but the tx's change_vout is {tx['change_vout']}"
            )
    else:
        raise ValueError(f"{where}: kind {data['kind']!r} is neither {INPUT!r} nor {OUTPUT!r}")
    for name, low in (("value_sat", 0), ("time", 0), ("height", -1), ("taint_sat", 0), ("hop", 0)):
        _at_least(where, data, name, low)
    if data["taint_sat"] > data["value_sat"]:
        raise ValueError(
            f"{where}: taint_sat {data['taint_sat']} exceeds value_sat {data['value_sat']}"
        )
    if data["value_btc"] != format_btc(data["value_sat"]):
        raise ValueError(
            f"{where}: value_btc {data['value_btc']!r} does not match value_sat "
            f"{data['value_sat']} (expected {format_btc(data['value_sat'])!r})"
        )
    if data["value_eur"] and not _EUR.fullmatch(data["value_eur"]):
        raise ValueError(f"{where}: value_eur {data['value_eur']!r} is not a decimal amount or ''")
    _check_price(where, data)


def _check_price(where: str, data: Mapping[str, Any]) -> None:
    """A fiat value names its price (time, resolution, source); no fiat value, no price."""
    names = ("price_time", "price_resolution", "price_source")
    if not data["value_eur"]:
        for name in names:
            if data[name]:
                raise ValueError(f"{where}: {name} {data[name]!r} is set but value_eur is ''")
        return
    for name in names:
        if not data[name]:
            raise ValueError(f"{where}: value_eur {data['value_eur']!r} has no {name}")
    if data["price_resolution"] not in PRICE_RESOLUTIONS:
        raise ValueError(
            f"{where}: price_resolution {data['price_resolution']!r} is not one of "
            f"{PRICE_RESOLUTIONS}"
        )
    try:
        datetime.fromisoformat(data["price_time"])
    except ValueError:
        raise ValueError(
            f"{where}: price_time {data['price_time']!r} is not an ISO date or date-time"
        ) from None


def node_items(data: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """A validated node's attributes in schema order (the writers' column order)."""
    schema = ADDRESS_ATTRS if data["kind"] == ADDRESS else TX_ATTRS
    return [(name, data[name]) for name in schema]


def edge_items(data: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """A validated edge's attributes in schema order."""
    return [(name, data[name]) for name in EDGE_ATTRS]
