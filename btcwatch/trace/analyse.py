"""From a collected flow to answers: taint per endpoint, entities, peel chains, clusters.

Pure: takes the flow and the tags, returns values a report can cite. Each decision keeps the
findings (heuristic, verdict, confidence, facts) it rests on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, NamedTuple

from btcwatch.model import OutPoint
from btcwatch.trace.change import ChangeVerdict, detect_change
from btcwatch.trace.cluster import Clusters, cluster_addresses
from btcwatch.trace.evidence import Finding
from btcwatch.trace.follow import Flow, StopReason, TraceParams
from btcwatch.trace.heap import gc_paused
from btcwatch.trace.peel import PeelChain, find_peel_chains
from btcwatch.trace.taint import TaintResult, propagate

COINJOIN_ENTITY = "CoinJoin"


class Endpoint(NamedTuple):
    """Where a branch of tainted money ended up, with the amount that can be claimed there."""

    outpoint: OutPoint
    address: str | None
    entity: str | None
    category: str | None
    value_sat: int
    taint_sat: int
    reason: str
    hop: int
    detail: str
    time: int | None
    height: int | None


@dataclass(slots=True)
class Analysis:
    params: TraceParams
    flow: Flow
    taint: TaintResult
    endpoints: list[Endpoint]
    entities: dict[str, int]
    coinjoins: list[str]
    peel_chains: list[PeelChain]
    clusters: Clusters
    change: dict[str, ChangeVerdict]
    findings: list[Finding] = field(default_factory=list)

    @property
    def source_total(self) -> int:
        return sum(s.value for s in self.flow.sources)


def analyse(flow: Flow, params: TraceParams) -> Analysis:
    """Taint, endpoints, entities and the heuristics' findings for one flow."""
    with gc_paused():  # pure and acyclic: nothing for the GC to find until it returns
        return _analyse(flow, params)


def _analyse(flow: Flow, params: TraceParams) -> Analysis:
    sources = {s.outpoint: s.value for s in flow.sources}
    walked = flow.taint_txs()
    taint = propagate(sources, walked, params.taint)  # type: ignore[arg-type]
    endpoints = _endpoints(flow, taint)
    endpoints.sort(key=_endpoint_key(endpoints))
    entities: dict[str, int] = {}
    for e in endpoints:
        name = e.entity or (COINJOIN_ENTITY if e.reason == StopReason.COINJOIN else None)
        if name and e.taint_sat:
            entities[name] = entities.get(name, 0) + e.taint_sat
    coinjoins = sorted({s.detail for s in flow.stops.values() if s.reason is StopReason.COINJOIN})
    change = {txid: detect_change(walked[txid]) for txid in sorted(walked)}
    chains = find_peel_chains(walked)
    # (each walked tx once: clustering the same tx twice links nothing more)
    clusters = cluster_addresses(walked.values())
    findings = list(flow.findings)
    for verdict in change.values():
        summary = verdict.summary()
        if summary is not None:
            findings.append(summary)
    findings.extend(chain.finding() for chain in chains)
    return Analysis(
        params,
        flow,
        taint,
        endpoints,
        dict(sorted(entities.items())),
        coinjoins,
        chains,
        clusters,
        change,
        findings,
    )


def _endpoint_key(endpoints: list[Endpoint]) -> Callable[[Endpoint], Any]:
    """Endpoints are ordered by hop, then by the outpoint's text ``TXID:VOUT``.

    Where every txid has the same length and every vout one digit (a flow of real txids
    without wide fan-outs), the (txid, vout) tuple sorts exactly as that text: the key is then
    built in C, with no string per endpoint (a million of them at 1M txs)."""
    lengths = {len(e.outpoint.txid) for e in endpoints}
    if len(lengths) <= 1 and all(0 <= e.outpoint.vout < 10 for e in endpoints):
        return itemgetter(7, 0)  # (hop, outpoint)
    return lambda e: (e.hop, str(e.outpoint))


def _endpoints(flow: Flow, taint: TaintResult) -> list[Endpoint]:
    """One endpoint per stop, with the taint it holds and the time of its tx's block."""
    txs = flow.txs
    taint_of = taint.taint_of
    reason_text = {reason: reason.value for reason in StopReason}  # (.value is a descriptor)
    found: list[Endpoint] = []
    append = found.append
    for op, stop in flow.stops.items():
        tx = txs.get(op.txid)
        block = tx.block if tx else None
        append(
            Endpoint(
                op,
                stop.address,
                stop.entity,
                stop.category,
                stop.value,
                taint_of(op),
                reason_text[stop.reason],
                stop.hop,
                stop.detail,
                block.time if block else None,
                block.height if block else None,
            )
        )
    return found


def to_json(
    analysis: Analysis,
    *,
    requests: int,
    run_id: int | None = None,
    fiat: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The machine-readable trace result (`btcwatch trace --json`)."""
    clusters = []
    for cid in analysis.clusters:
        members = sorted(analysis.clusters.members(cid))
        if len(members) > 1:
            clusters.append({"id": analysis.clusters.representative(cid), "addresses": members})
    return {
        "run_id": run_id,
        "params": {
            "hops": analysis.params.hops,
            "min_value_sat": analysis.params.min_value,
            "max_fanout": analysis.params.max_fanout,
            "taint": analysis.params.taint,
            "stop_at": list(analysis.params.stop_at),
            "max_txs": analysis.params.max_txs,
            "max_history_pages": analysis.params.max_history_pages,
        },
        "sources": [
            {"outpoint": str(s.outpoint), "address": s.address, "value_sat": s.value}
            for s in analysis.flow.sources
        ],
        "source_total_sat": analysis.source_total,
        "endpoints": [
            {
                "address": e.address,
                "entity": e.entity,
                "category": e.category,
                "value_sat": e.value_sat,
                "taint_sat": e.taint_sat,
                "reason": e.reason,
                "txid": e.outpoint.txid,
                "vout": e.outpoint.vout,
                "hop": e.hop,
                "detail": e.detail,
                "time": e.time,
                "height": e.height,
            }
            for e in analysis.endpoints
        ],
        "entities": analysis.entities,
        "entities_fiat": dict(fiat or {}),
        "coinjoins": analysis.coinjoins,
        "peel_chains": [
            {
                "start_txid": c.start_txid,
                "hops": len(c),
                "total_peeled_sat": c.total_peeled,
                "remaining_sat": c.remaining,
                "peels": [
                    {
                        "txid": h.txid,
                        "peel": str(h.peel),
                        "value_sat": h.peel_value,
                        "address": h.peel_address,
                    }
                    for h in c.hops
                ],
            }
            for c in analysis.peel_chains
        ],
        "clusters": clusters,
        "txs": len(analysis.flow.txs),
        "hops": max(analysis.flow.hop_of.values(), default=0),
        "fee_taint_sat": analysis.taint.fee_taint,
        "requests": requests,
        "findings": [f.to_dict() for f in analysis.findings],
    }
