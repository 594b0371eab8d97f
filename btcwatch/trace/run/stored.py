"""A trace run as stored: saved once by `btcwatch trace`, reopened by export and report.

One module between the pure analysis and the store's trace tables, so a run is written and
read back by the same hands: `save_run` after a trace, `reopen` (the analysis, no network)
and `open_run` (everything an export draws: the analysis, the case's watchlist, tags, cached
prices and the evidence behind each transaction) afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from btcwatch.case import WatchedAddress
from btcwatch.errors import InputError
from btcwatch.model import OutPoint
from btcwatch.prices import PriceLookup, PriceTable
from btcwatch.store import Store
from btcwatch.store.cases import get_case, list_addresses
from btcwatch.store.chaindata import load_txs
from btcwatch.store.evidence import tx_evidence
from btcwatch.store.prices import stored_book
from btcwatch.store.tags import list_tags
from btcwatch.store.traces import (
    TraceRun,
    finish_run,
    get_run,
    latest_run,
    run_sources,
    run_stops,
    run_txs,
)
from btcwatch.tags import default_tags
from btcwatch.trace.analyse import Analysis, analyse
from btcwatch.trace.coinjoin import detect_coinjoin
from btcwatch.trace.follow import Flow, Source, Stop, StopReason, TraceParams
from btcwatch.trace.tagindex import TagIndex


def tag_index(store: Store) -> TagIndex:
    """Shipped tag packs plus everything imported into this database."""
    return TagIndex(default_tags(), list_tags(store))


def save_run(store: Store, run_id: int, result: Analysis, summary: dict[str, Any]) -> None:
    """Finish a run as done: its sources, txs (with hop), stops with taint, and findings."""
    flow = result.flow
    finish_run(
        store,
        run_id,
        status="done",
        requests=summary["requests"],
        summary=summary,
        sources=[
            {
                "txid": s.outpoint.txid,
                "vout": s.outpoint.vout,
                "address": s.address,
                "value_sat": s.value,
            }
            for s in flow.sources
        ],
        txs=[
            {"txid": t, "hop": h, "walked": t in flow.walked}
            for t, h in sorted(flow.hop_of.items())
        ],
        stops=[
            {
                "txid": e.outpoint.txid,
                "vout": e.outpoint.vout,
                "address": e.address,
                "value_sat": e.value_sat,
                "taint_sat": e.taint_sat,
                "reason": e.reason,
                "entity": e.entity,
                "category": e.category,
                "hop": e.hop,
                "detail": e.detail,
            }
            for e in result.endpoints
        ],
        findings=[
            {
                "subject": f.subject,
                "heuristic": f.heuristic,
                "verdict": f.verdict,
                "confidence": f.confidence,
                "facts": dict(f.facts),
            }
            for f in result.findings
        ],
    )


def reopen(store: Store, run_id: int) -> Analysis:
    """Rebuild a stored run's analysis from its rows and the stored transactions (no network)."""
    run = get_run(store, run_id)
    if run.status != "done":
        raise InputError(f"trace run {run_id} is {run.status}; nothing to reopen")
    sources = [
        Source(OutPoint(r.txid, r.vout), r.value_sat, r.address) for r in run_sources(store, run_id)
    ]
    tx_rows = run_txs(store, run_id)
    txids = sorted({r.txid for r in tx_rows} | {s.outpoint.txid for s in sources})
    flow = Flow(
        sources,
        txs=load_txs(store, txids),
        hop_of={r.txid: r.hop for r in tx_rows},
        walked={r.txid for r in tx_rows if r.walked},
    )
    for r in run_stops(store, run_id):
        op = OutPoint(r.txid, r.vout)
        flow.stops[op] = Stop(
            op,
            r.address,
            r.value_sat,
            StopReason(r.reason),
            r.hop,
            r.entity,
            r.category,
            r.detail,
        )
    for stop in flow.stops.values():
        joined = flow.txs.get(stop.detail) if stop.reason is StopReason.COINJOIN else None
        finding = detect_coinjoin(joined) if joined is not None else None
        if finding is not None and finding not in flow.findings:
            flow.findings.append(finding)
    params = TraceParams.from_dict(run.params)
    return analyse(flow, params)


def resolve_run(store: Store, *, case: str | None, run_id: int | None) -> int:
    """The run to export: the one named, or the case's latest finished trace."""
    if (case is None) == (run_id is None):
        raise InputError("give exactly one of --case NAME or --trace ID")
    if run_id is not None:
        get_run(store, run_id)
        return run_id
    assert case is not None
    get_case(store, case)
    run = latest_run(store, case)
    if run is None:
        raise InputError(
            f"case {case!r} has no finished trace yet: run `btcwatch trace --case {case}` first"
        )
    return run.id


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A finished run with everything its graph shows, read from the store in one visit."""

    run: TraceRun
    analysis: Analysis
    watched: tuple[WatchedAddress, ...]  # the case's watchlist (roles and labels)
    tags: TagIndex
    prices: PriceLookup  # the store's price cache, then the fallback table: never fetched
    evidence: Mapping[str, str]  # txid -> "provider URL fetched-at sha256:..."


def open_run(store: Store, run_id: int, prices: PriceLookup | None = None) -> StoredRun:
    """Reopen a run (no network) with its case's watchlist, tags, prices and evidence.

    Prices come from what the case already has: the store's price cache (hourly where
    cached, naming source and evidence), then ``prices`` (default: the bundled daily table).
    Nothing is fetched, so the same store always gives the same figures.
    """
    run = get_run(store, run_id)
    analysis = reopen(store, run_id)
    times = [tx.block.time for tx in analysis.flow.txs.values() if tx.block]
    book = stored_book(store, times, PriceTable.load_default() if prices is None else prices)
    return StoredRun(
        run=run,
        analysis=analysis,
        watched=tuple(list_addresses(store, run.case)) if run.case else (),
        tags=tag_index(store),
        prices=book,
        evidence=_evidence_refs(store, sorted(analysis.flow.txs)),
    )


def _evidence_refs(store: Store, txids: list[str]) -> dict[str, str]:
    """txid -> "provider URL fetched-at sha256" of the response it was stored from."""
    return {
        txid: link.ref for txid, link in tx_evidence(store, txids).items() if link.ref is not None
    }
