"""The traced flow as a value-carrying networkx graph: what every export format writes.

Address and transaction nodes; edges keyed by outpoint carry sats, BTC, EUR (with the price
that made it: time, hour or day, source), time, height, taint and the hop. Ids, kinds and
attribute names are `btcwatch.graphvocab`'s (each node and edge is built as its TypedDict, so
mypy checks them); no attribute is ever None: unknowns are "" or -1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import cast

import networkx as nx

from btcwatch.errors import BtcwatchError
from btcwatch.graphvocab import (
    ADDRESS,
    INPUT,
    OUTPUT,
    TX,
    AddressAttrs,
    EdgeAttrs,
    EdgePrice,
    GraphAttrs,
    TxAttrs,
    address_node_id,
    tx_node_id,
)
from btcwatch.model import OutPoint, Tx
from btcwatch.money import format_btc
from btcwatch.prices import PriceLookup
from btcwatch.text import visible
from btcwatch.trace.analyse import Analysis
from btcwatch.trace.follow import StopReason
from btcwatch.trace.tagindex import TagIndex


def build_graph(
    analysis: Analysis,
    *,
    title: str,
    case: str = "",
    run_id: int | str = "",
    created_at: str = "",
    roles: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    tags: TagIndex | None = None,
    prices: PriceLookup | None = None,
    evidence: Mapping[str, str] | None = None,
) -> nx.MultiDiGraph:
    """Nodes for every address and tx of the flow, edges for every input and output."""
    flow = analysis.flow
    about: GraphAttrs = {
        "title": title,
        "case": case,
        "trace_id": run_id,
        "created_at": created_at,
        "policy": analysis.params.taint,
    }
    g = nx.MultiDiGraph(**about)
    roles = roles or {}
    labels = labels or {}
    evidence = evidence or {}
    sources = {s.outpoint for s in flow.sources}
    stop_of = {e.address: e.reason for e in analysis.endpoints if e.address}
    cluster_ids = {
        cid: n
        for n, cid in enumerate(sorted(analysis.clusters, key=analysis.clusters.representative))
    }
    peel_txids = {h.txid for c in analysis.peel_chains for h in c.hops}
    findings: dict[str, list[dict[str, object]]] = {}
    for f in analysis.findings:
        findings.setdefault(f.subject.split(":")[0], []).append(f.to_dict())

    def address_node(address: str) -> str:
        node = address_node_id(address)
        if node not in g:
            who = tags.get(address) if tags else None
            entity = next(
                (e.entity for e in analysis.endpoints if e.address == address and e.entity), None
            )
            cid = analysis.clusters.get(address)
            attrs: AddressAttrs = {
                "kind": ADDRESS,
                "address": address,
                # Labels and tag names are people's text: shown, never obeyed (btcwatch.text).
                "label": visible(labels.get(address, "")),
                "entity": visible(entity or (who.entity if who else "")),
                "category": visible(
                    (who.category if who else "")
                    or ("exchange" if stop_of.get(address) == StopReason.DEPOSIT else "")
                ),
                "role": roles.get(address, ""),
                "cluster": cluster_ids.get(cid, -1) if cid is not None else -1,
                "taint_sat": 0,
                "received_sat": 0,
                "first_seen": 0,
                "stop_reason": str(stop_of.get(address, "")),
                "is_source": False,
                "evidence": "",
            }
            g.add_node(node, **attrs)
        return node

    for txid in sorted(flow.hop_of):
        tx = flow.txs.get(txid)
        if tx is None:
            continue
        change = analysis.change.get(txid)
        tx_attrs: TxAttrs = {
            "kind": TX,
            "txid": txid,
            "height": tx.block.height if tx.block else -1,
            "time": tx.block.time if tx.block else 0,
            "fee_sat": tx.fee or 0,
            "coinjoin": any(f["heuristic"] == "coinjoin" for f in findings.get(txid, [])),
            "peel": txid in peel_txids,
            "change_vout": change.vout if change and change.vout is not None else -1,
            "findings": json.dumps(findings.get(txid, []), sort_keys=True),
            "evidence": evidence.get(txid, ""),
        }
        g.add_node(tx_node_id(txid), **tx_attrs)
    for txid in sorted(flow.hop_of):
        tx = flow.txs.get(txid)
        if tx is None:
            continue
        hop = flow.hop_of[txid]
        _inputs(g, analysis, tx, hop, address_node, prices)
        if txid in flow.walked or hop == 0:
            _outputs(g, analysis, tx, hop, address_node, prices, sources)
    source_txids = {op.txid for op in sources} - set(flow.hop_of)
    for txid in sorted(source_txids):
        tx = flow.txs.get(txid)
        if tx is None:
            continue
        for vout, out in enumerate(tx.outputs):
            if tx.outpoint(vout) in sources and out.address:
                node = address_node(out.address)
                _address(g, node)["is_source"] = True
                _credit(
                    g,
                    node,
                    out.value,
                    analysis.taint.taint_of(tx.outpoint(vout)),
                    tx.block.time if tx.block else 0,
                )
    return g


def _address(g: nx.MultiDiGraph, node: str) -> AddressAttrs:
    """An address node's attributes, typed (the dict networkx holds, updated in place)."""
    return cast(AddressAttrs, g.nodes[node])


def _value_eur(prices: PriceLookup | None, sats: int, time: int) -> EdgePrice:
    """value_eur and the price that made it (the hour's where known, else the day's), or ""."""
    unpriced: EdgePrice = {
        "value_eur": "",
        "price_time": "",
        "price_resolution": "",
        "price_source": "",
    }
    if prices is None or not time:
        return unpriced
    try:
        value, price = prices.value(sats, datetime.fromtimestamp(time, UTC), "EUR")
    except BtcwatchError:
        return unpriced
    return {
        "value_eur": str(value),
        "price_time": price.price_time,
        "price_resolution": price.resolution,
        "price_source": visible(price.source),
    }


def _credit(g: nx.MultiDiGraph, node: str, value: int, taint: int, time: int) -> None:
    attrs = _address(g, node)
    attrs["received_sat"] += value
    attrs["taint_sat"] += taint
    if time and (not attrs["first_seen"] or time < attrs["first_seen"]):
        attrs["first_seen"] = time


def _inputs(
    g: nx.MultiDiGraph,
    analysis: Analysis,
    tx: Tx,
    hop: int,
    address_node: Callable[[str], str],
    prices: PriceLookup | None,
) -> None:
    time = tx.block.time if tx.block else 0
    for txin in tx.inputs:
        if txin.prevout is None or txin.prev_address is None:
            continue
        taint = analysis.taint.taint_of(txin.prevout)
        if not taint and txin.prevout not in analysis.flow.followed:
            continue  # untainted inputs from outside (e.g. dust) stay out of the picture
        node = address_node(txin.prev_address)
        value = txin.prev_value or 0
        edge: EdgeAttrs = {
            "kind": INPUT,
            "outpoint": str(txin.prevout),
            "value_sat": value,
            "value_btc": format_btc(value),
            **_value_eur(prices, value, time),
            "time": time,
            "height": tx.block.height if tx.block else -1,
            "taint_sat": taint,
            "is_change": False,
            "hop": hop,
        }
        g.add_edge(node, tx_node_id(tx.txid), key=str(txin.prevout), **edge)


def _outputs(
    g: nx.MultiDiGraph,
    analysis: Analysis,
    tx: Tx,
    hop: int,
    address_node: Callable[[str], str],
    prices: PriceLookup | None,
    sources: set[OutPoint],
) -> None:
    time = tx.block.time if tx.block else 0
    change = analysis.change.get(tx.txid)
    for vout, out in enumerate(tx.outputs):
        if out.address is None:
            continue
        op = tx.outpoint(vout)
        if hop == 0 and op not in sources:
            continue
        node = address_node(out.address)
        taint = analysis.taint.taint_of(op)
        if op in sources:
            _address(g, node)["is_source"] = True
        _credit(g, node, out.value, taint, time)
        edge: EdgeAttrs = {
            "kind": OUTPUT,
            "outpoint": str(op),
            "value_sat": out.value,
            "value_btc": format_btc(out.value),
            **_value_eur(prices, out.value, time),
            "time": time,
            "height": tx.block.height if tx.block else -1,
            "taint_sat": taint,
            "is_change": bool(change and change.vout == vout),
            "hop": hop,
        }
        g.add_edge(tx_node_id(tx.txid), node, key=str(op), **edge)
