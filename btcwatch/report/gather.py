"""Gather a case's report from the database alone: events, watchlist, the latest trace, evidence.

Deterministic: the same database gives the same `CaseReport` (and so the same bytes from every
renderer); nothing reads the clock unless ``generated_at`` is passed in.
"""

from __future__ import annotations

from btcwatch.errors import InputError
from btcwatch.prices import PriceTable
from btcwatch.proofs import proof_status
from btcwatch.report.facts import CaseReport, FreezeRequest, Refs, TraceFacts
from btcwatch.report.flows import freeze_requests, trace_facts
from btcwatch.report.payments import demand_groups, gather_payments, gather_timeline, summarise
from btcwatch.report.refs import EvidenceIndex, evidence_rows
from btcwatch.store import Store
from btcwatch.store.cases import count_addresses, get_case, list_addresses
from btcwatch.store.events import get_state, list_events
from btcwatch.store.traces import TraceRun, get_run, latest_run, run_txids
from btcwatch.trace.run.stored import reopen


def pick_run(store: Store, case: str, run_id: int | None = None) -> TraceRun | None:
    """The run to report: the one named (it must belong to the case), else the latest done."""
    if run_id is None:
        return latest_run(store, case)
    run = get_run(store, run_id)
    if run.case != case:
        raise InputError(f"trace run {run_id} belongs to case {run.case!r}, not {case!r}")
    if run.status != "done":
        raise InputError(f"trace run {run_id} is {run.status}; report a finished run")
    return run


def _cited(report_parts: list[Refs]) -> set[int]:
    return {i for refs in report_parts for i in refs}


def build_report(
    store: Store,
    case: str,
    *,
    prices: PriceTable | None = None,
    run_id: int | None = None,
    generated_at: str | None = None,
    graph_files: tuple[str, ...] = (),
) -> CaseReport:
    """Everything the report states about ``case``; CaseError when there is no such case."""
    info = get_case(store, case)
    watched = list_addresses(store, case)
    events = list_events(store, case=case)
    tip_state = get_state(store, "tip_height")
    tip = int(tip_state) if tip_state is not None else None
    refs = EvidenceIndex(store)
    refs.load(e.txid for e in events if e.txid)
    payments, price_sources = gather_payments(events, watched, refs, prices, tip)
    timeline = gather_timeline(events, refs)
    run = pick_run(store, case, run_id)
    trace: TraceFacts | None = None
    freeze: tuple[FreezeRequest, ...] = ()
    if run is not None:
        analysis = reopen(store, run.id)
        trace = trace_facts(run, analysis, refs, prices)
        freeze = freeze_requests(store, analysis, refs, prices, tip)
        if prices is not None and (trace.entities or freeze):
            price_sources.add(prices.source)
    cited = _cited(
        [p.evidence for p in payments]
        + [t.evidence for t in timeline]
        + [r.evidence for f in freeze for r in f.rows]
        + (
            [e.evidence for e in trace.entities]
            + [s.evidence for c in trace.peel_chains for s in c.steps]
            + [c.evidence for c in trace.coinjoins]
            + [c.evidence for c in trace.clusters]
            if trace
            else []
        )
    )
    named = {p.txid for p in payments} | {e.txid for e in timeline if e.txid}
    if run is not None:
        named.update(run_txids(store, run.id))
    return CaseReport(
        case=info,
        generated_at=generated_at,
        tip_height=tip,
        last_event_at=max((e.seen_at for e in events), default=None),
        watchlist=tuple(sorted(count_addresses(store, case).items())),
        demands=demand_groups(watched, payments),
        summary=summarise(payments, watched),
        payments=payments,
        timeline=timeline,
        trace=trace,
        freeze_requests=freeze,
        price_sources=tuple(sorted(price_sources)),
        evidence=evidence_rows(store, cited),
        graph_files=graph_files,
        proofs=tuple(sorted(proof_status(store, named, info.network).items())),
    )
