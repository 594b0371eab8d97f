"""The money-flow graph's words, owned once: node and edge kinds, ids, attribute names and types.

The tracer builds the graph (`btcwatch.trace.graph`) and the exporters validate and write it
(`btcwatch.export.graph_schema`); both read their vocabulary from here, below them both:

- graph attributes `GraphAttrs` (``created_at`` is ISO 8601 or "" when unknown);
- address node ``"addr:<address>"`` (`address_node_id`) with the attributes of `AddressAttrs`,
  tx node ``"tx:<txid>"`` (`tx_node_id`) with those of `TxAttrs`;
- edges keyed by the outpoint ``"txid:vout"``: address -> tx for an input (kind ``input``,
  the outpoint it spends), tx -> address for an output (kind ``output``), attributes
  `EdgeAttrs`. An outpoint is an output of one tx *and* the input of the next, so formats that
  need a file-wide edge id use `edge_id` = ``"<kind>:<outpoint>"``.

Each attribute set is a `TypedDict`, so mypy checks every name and type where the graph is
built; `GRAPH_ATTRS`, `ADDRESS_ATTRS`, `TX_ATTRS` and `EDGE_ATTRS` are the same sets as
name -> type tables, in declaration order (the writers' column order), for the validator. No
attribute is ever None (GraphML and GEXF break on it): unknowns are "" or -1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, TypedDict, get_args, get_type_hints

__all__ = [
    "ADDRESS",
    "ADDRESS_ATTRS",
    "EDGE_ATTRS",
    "GRAPH_ATTRS",
    "INPUT",
    "OUTPUT",
    "TX",
    "TX_ATTRS",
    "AddressAttrs",
    "EdgeAttrs",
    "EdgePrice",
    "GraphAttrs",
    "TxAttrs",
    "address_node_id",
    "edge_id",
    "tx_node_id",
]

#: Node kinds (the ``kind`` attribute of a node).
ADDRESS: Final = "address"
TX: Final = "tx"
#: Edge kinds (the ``kind`` attribute of an edge).
INPUT: Final = "input"
OUTPUT: Final = "output"


def address_node_id(address: str) -> str:
    """Node id of an address (``addr:<address>``)."""
    return f"addr:{address}"


def tx_node_id(txid: str) -> str:
    """Node id of a transaction (``tx:<txid>``)."""
    return f"tx:{txid}"


def edge_id(kind: str, outpoint: str) -> str:
    """File-wide unique edge id: the outpoint is both an output edge and an input edge."""
    return f"{kind}:{outpoint}"


class GraphAttrs(TypedDict):
    """The graph's own attributes (``trace_id`` may be an int or a str)."""

    title: str
    case: str
    trace_id: int | str
    created_at: str
    policy: str


class AddressAttrs(TypedDict):
    """An address node, in the column order writers use."""

    kind: str
    address: str
    label: str
    entity: str
    category: str
    role: str
    cluster: int
    taint_sat: int
    received_sat: int
    first_seen: int
    stop_reason: str
    is_source: bool
    evidence: str


class TxAttrs(TypedDict):
    """A transaction node, in the column order writers use."""

    kind: str
    txid: str
    height: int
    time: int
    fee_sat: int
    coinjoin: bool
    peel: bool
    change_vout: int
    findings: str
    evidence: str


class EdgePrice(TypedDict):
    """The fiat value of an edge and the price that made it (all "" when unpriced)."""

    value_eur: str
    price_time: str
    price_resolution: str
    price_source: str


class EdgeAttrs(TypedDict):
    """An edge (inputs and outputs alike), in the column order writers use."""

    kind: str
    outpoint: str
    value_sat: int
    value_btc: str
    value_eur: str
    price_time: str
    price_resolution: str
    price_source: str
    time: int
    height: int
    taint_sat: int
    is_change: bool
    hop: int


def _types(attrs: type) -> dict[str, tuple[type, ...]]:
    """name -> the types its value may have, in declaration order."""
    return {name: get_args(hint) or (hint,) for name, hint in get_type_hints(attrs).items()}


def _single(attrs: type) -> Mapping[str, type]:
    types = _types(attrs)
    if any(len(t) != 1 for t in types.values()):
        raise TypeError(f"{attrs.__name__}: node and edge attributes have exactly one type")
    return {name: t[0] for name, t in types.items()}


#: Graph attributes as name -> allowed types.
GRAPH_ATTRS: Mapping[str, tuple[type, ...]] = _types(GraphAttrs)
#: Address node attributes as name -> type, in the column order writers use.
ADDRESS_ATTRS: Mapping[str, type] = _single(AddressAttrs)
#: Transaction node attributes as name -> type, in the column order writers use.
TX_ATTRS: Mapping[str, type] = _single(TxAttrs)
#: Edge attributes as name -> type, in the column order writers use.
EDGE_ATTRS: Mapping[str, type] = _single(EdgeAttrs)
