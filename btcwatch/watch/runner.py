"""One watch cycle, start to finish: poll, plan events, store everything at once, alert.

All state changes and new events of a cycle are committed in one transaction, before any alert
is sent; a run killed at any point leaves either the old state or the new one, and the outbox
re-sends what was stored but not yet delivered. The polling itself is the mode's
(`watch/modes.py`); the writing is the store's (`store.watchstate.save_cycle`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from btcwatch.event import Event, Kind
from btcwatch.model import WatchedOutput
from btcwatch.prices import PriceLookup
from btcwatch.providers.base import Provider
from btcwatch.store import Store
from btcwatch.store.events import get_state, stored_events
from btcwatch.store.evidence import EvidenceLog
from btcwatch.store.watchstate import (
    CycleRecord,
    address_stats,
    save_cycle,
    scanned_block_time,
    watched_outputs,
)
from btcwatch.watch.alerts import Sink, deliver
from btcwatch.watch.budget import Budget
from btcwatch.watch.diff import Reported, Spend, complete_spends, plan_events
from btcwatch.watch.disputes import DisputeLog, disagreement_events
from btcwatch.watch.enrich import enrich_payment
from btcwatch.watch.modes import Mode, PollInputs, choose_mode
from btcwatch.watch.options import WatchOptions
from btcwatch.watch.poll import PollResult
from btcwatch.watch.revalue import Prices, cycle_prices
from btcwatch.watch.watchset import WatchSet, load_watchset

__all__ = ["CycleReport", "WatchOptions", "run_cycle"]

PROBED = "explorer_probes"  # what probing taught about explorers' optional endpoints


@dataclass(slots=True)
class CycleReport:
    """What one cycle did, for the per-cycle summary line and --exit-code."""

    mode: str
    tip_height: int | None = None
    addresses: int = 0
    blocks_scanned: int = 0
    requests: int = 0
    block_requests: int = 0
    events: list[Event] = field(default_factory=list)
    deferred: dict[str, int] = field(default_factory=dict)  # work left for the next tick
    delivered: int = 0
    alert_errors: list[str] = field(default_factory=list)
    followup_errors: list[str] = field(default_factory=list)  # owed traces that failed
    seconds: float = 0.0

    def summary(self) -> str:
        kinds: dict[str, int] = {}
        for ev in self.events:
            kinds[ev.kind.value] = kinds.get(ev.kind.value, 0) + 1
        counted = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no new events"
        detail = ", ".join(f"{n} {k}" for k, n in sorted(self.deferred.items()))
        deferred = f"{sum(self.deferred.values())} deferred" + (f" ({detail})" if detail else "")
        return (
            f"{self.mode} mode: tip {self.tip_height}, {self.addresses} addresses, "
            f"{self.blocks_scanned} blocks scanned, {self.requests} requests, {deferred}, "
            f"{counted}, {self.delivered} alerts sent in {self.seconds:.1f}s"
        )


@dataclass(slots=True)
class _Cycle:
    """One cycle's fixed inputs, handed from the poll to the commit."""

    store: Store
    provider: Provider
    options: WatchOptions
    sinks: Sequence[Sink]
    evidence: EvidenceLog | None
    disputes: DisputeLog | None
    now: datetime | None


async def run_cycle(
    store: Store,
    provider: Provider,
    options: WatchOptions,
    sinks: Sequence[Sink],
    *,
    evidence: EvidenceLog | None = None,
    prices: Prices | None = None,
    now: datetime | None = None,
    disputes: DisputeLog | None = None,
) -> CycleReport:
    """Poll once and record what is new; alerts are delivered after the commit.

    Nothing is written before the poll has finished: a cycle that fails (an explorer gave up,
    a body did not parse, the process was killed) leaves the database as it was, and the next
    cycle starts again from there.
    """
    started = time.monotonic()
    requests_before = provider.requests
    if disputes is not None:
        disputes.drain()  # what an abandoned cycle collected is not this cycle's business
    ws = load_watchset(store, options.case)
    mode = choose_mode(options.mode, provider, len(ws.addresses))
    report = CycleReport(mode.name, addresses=len(ws.addresses))
    if ws.addresses:
        cycle = _Cycle(store, provider, options, sinks, evidence, disputes, now)
        await _watch(cycle, ws, mode, prices, report)
    report.delivered, report.alert_errors = await deliver(store, sinks)
    report.requests = provider.requests - requests_before
    report.seconds = time.monotonic() - started
    return report


async def _watch(
    cycle: _Cycle,
    ws: WatchSet,
    mode: type[Mode],
    prices: Prices | None,
    report: CycleReport,
) -> None:
    """Poll with ``mode``, plan and value the events, store them with the cycle's state."""
    store, provider, options = cycle.store, cycle.provider, cycle.options
    outputs = watched_outputs(store, options.case)
    probed = get_state(store, PROBED)
    known = probed if isinstance(probed, dict) else {}
    provider.assume(known)
    budget = Budget(provider, options.budget)
    distrust = cycle.disputes.addresses if cycle.disputes is not None else frozenset[str]()
    inputs = PollInputs(
        store, provider, ws, outputs, options, budget, distrust, address_stats(store)
    )
    result = await mode(inputs).poll()
    complete_spends(result.observation, _stored_spends(outputs))
    learned = provider.probed()
    if learned and learned != probed:
        result.state[PROBED] = {**known, **learned}
    report.deferred = dict(budget.deferred)
    report.tip_height = result.observation.tip_height
    report.blocks_scanned = len(result.scanned)
    report.block_requests = result.block_requests
    tip_time = await _tip_time(store, provider, result)
    found = cycle.disputes.drain() if cycle.disputes is not None else []
    extra = disagreement_events(found, _dispute_cases(ws, outputs, result, options.case))
    moment = cycle.now or datetime.now(UTC)
    book = await cycle_prices(store, prices, _moments(result, tip_time, moment), options.case)
    events = _plan(store, result, options, ws.demands, book, tip_time, moment)
    report.events = save_cycle(store, _record(cycle, result, [*events, *extra]))


def _stored_spends(outputs: Sequence[WatchedOutput]) -> list[Spend]:
    return [
        Spend(o.case, o.address, o.outpoint, o.value, o.spent_by, o.spent_vin or 0, None, None)
        for o in outputs
        if o.spent_by
    ]


async def _tip_time(store: Store, provider: Provider, result: PollResult) -> int | None:
    """The tip block's time, when an unconfirmed payment needs a date to be priced.

    The chain's own clock, not the wall clock: it is what the simulator and a replayed case
    agree on, and on the live chain it is within about an hour of now.
    """
    if not any(p.height is None for p in result.observation.payments):
        return None
    if result.tip_time is not None:
        return result.tip_time
    if result.tip_hash is None:
        return None
    known = scanned_block_time(store, result.tip_hash)
    if known is not None:
        return known
    return (await provider.block(result.tip_hash)).time


def _dispute_cases(
    ws: WatchSet, outputs: Sequence[WatchedOutput], result: PollResult, case: str | None
) -> dict[str, list[str]]:
    """address or txid -> the cases it concerns; "" -> every watched case (the fallback)."""
    cases: dict[str, set[str]] = {a: set(c) for a, c in ws.by_address.items()}
    for o in [*outputs, *result.outputs.values()]:
        cases.setdefault(o.outpoint.txid, set()).add(o.case)
        if o.spent_by:
            cases.setdefault(o.spent_by, set()).add(o.case)
    every = {case} if case else {c for cs in ws.by_address.values() for c in cs}
    cases[""] = every
    return {k: sorted(v) for k, v in cases.items()}


def _plan(
    store: Store,
    result: PollResult,
    options: WatchOptions,
    demands: dict[tuple[str, str], str | None],
    prices: PriceLookup | None,
    tip_time: int | None,
    now: datetime,
) -> list[Event]:
    """The cycle's new events against what is stored, payments valued and matched to demands."""
    stored, dead = stored_events(store)
    reported = Reported.from_events(stored, dead)
    case_of = {ev.id: ev.case for ev in stored}
    planned = plan_events(
        reported, result.observation, needed_confirmations=options.confirmations, case_of=case_of
    )
    # What left the chain is reported before what replaced it (RBF, reorg), in one commit.
    planned.sort(key=lambda ev: ev.kind is not Kind.REVERTED)
    times = {p.outpoint.txid: p.time for p in result.observation.payments if p.time}
    return [_enrich(ev, times.get(ev.txid or ""), tip_time, now, demands, prices) for ev in planned]


def _record(cycle: _Cycle, result: PollResult, events: list[Event]) -> CycleRecord:
    """What `save_cycle` writes: the poll's findings, its evidence, the new events."""
    interesting, raw_blocks = _evidence_urls(cycle.evidence, result)
    gone = result.observation.gone_txids
    state: dict[str, Any] = {}
    if result.mempool_seen is not None:
        state["mempool_seen"] = result.mempool_seen
    state.update(result.state)
    state["tip_height"] = result.observation.tip_height
    return CycleRecord(
        events,
        sinks=[s.spec for s in cycle.sinks],
        txs=list(result.txs.values()),
        evidence=cycle.evidence,
        interesting_urls=interesting,
        raw_blocks=raw_blocks,
        orphaned_blocks=result.observation.orphaned_blocks,
        start_marker=result.start_marker,
        reorg_fork=result.reorg_fork,
        outputs=[
            o
            for o in result.outputs.values()
            if o.outpoint.txid not in gone and o.spent_by not in gone
        ],
        gone_txids=gone,
        stats=result.stats,
        scanned=result.scanned,
        state=state,
        follow=cycle.options.follow,
    )


def _evidence_urls(
    log: EvidenceLog | None, result: PollResult
) -> tuple[set[str], dict[str, list[str]]]:
    """(responses whose bodies are kept whatever their size, raw block URL -> its txids)."""
    urls = [ev.url for ev in log.items] if log else []
    matched = {p.block_hash for p in result.observation.payments if p.block_hash}
    matched |= set(result.block_txids)
    interesting = {url for url in urls if any(h in url for h in matched)}
    raw_blocks = {
        url: txids
        for url in urls
        for block_hash, txids in result.block_txids.items()
        if url.endswith(f"/block/{block_hash}/raw")
    }
    return interesting, raw_blocks


def _enrich(
    ev: Event,
    block_time: int | None,
    tip_time: int | None,
    now: datetime,
    demands: dict[tuple[str, str], str | None],
    prices: PriceLookup | None,
) -> Event:
    if ev.kind not in (Kind.PAYMENT_RECEIVED, Kind.PAYMENT_CONFIRMED):
        return ev
    if block_time is not None and ev.height is not None:
        when, source = datetime.fromtimestamp(block_time, UTC), "block"
    elif tip_time is not None:
        when, source = datetime.fromtimestamp(tip_time, UTC), "tip"
    else:
        when, source = now, "clock"
    return enrich_payment(
        ev,
        when=when,
        demand=demands.get((ev.case, ev.address or "")),
        prices=prices,
        time_source=source,
    )


def _moments(result: PollResult, tip_time: int | None, now: datetime) -> list[datetime]:
    """The times this cycle's payments are priced at (as `_enrich` chooses them)."""
    payments = result.observation.payments
    confirmed = [p for p in payments if p.time and p.height is not None]
    out = [datetime.fromtimestamp(p.time or 0, UTC) for p in confirmed]
    if len(confirmed) < len(payments):
        out.append(datetime.fromtimestamp(tip_time, UTC) if tip_time else now)
    return out
