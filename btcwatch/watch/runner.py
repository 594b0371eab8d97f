"""One watch cycle, start to finish: poll, plan events, store everything at once, alert.

All state changes and new events of a cycle are committed in one transaction, before any alert
is sent; a run killed at any point leaves either the old state or the new one, and the outbox
re-sends what was stored but not yet delivered.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from btcwatch.event import Event, Kind
from btcwatch.prices import PriceTable
from btcwatch.providers.base import Capability, Provider
from btcwatch.store import Store
from btcwatch.store.cases import list_addresses
from btcwatch.store.events import get_state, record_events, set_state, stored_events
from btcwatch.store.evidence import EvidenceLog, store_with_evidence
from btcwatch.store.watchstate import (
    address_stats,
    forget_txids,
    save_address_stats,
    save_outputs,
    save_scanned,
    scanned_blocks,
    unconfirm_blocks,
    watched_outputs,
)
from btcwatch.watch.address_mode import poll_addresses
from btcwatch.watch.alerts import Sink, deliver
from btcwatch.watch.block_mode import poll_blocks
from btcwatch.watch.diff import Reported, plan_events
from btcwatch.watch.enrich import enrich_payment
from btcwatch.watch.poll import PollResult
from btcwatch.watch.watchset import WatchSet, load_watchset

AUTO_BLOCK_THRESHOLD = 20  # from this many addresses, one block costs less than N summaries


@dataclass(frozen=True, slots=True)
class WatchOptions:
    case: str | None = None
    mode: str = "auto"  # auto | address | block
    confirmations: int = 1
    from_height: int | None = None
    mempool: bool = True


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
    delivered: int = 0
    alert_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        kinds: dict[str, int] = {}
        for ev in self.events:
            kinds[ev.kind.value] = kinds.get(ev.kind.value, 0) + 1
        counted = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no new events"
        return (
            f"{self.mode} mode: tip {self.tip_height}, {self.addresses} addresses, "
            f"{self.blocks_scanned} blocks scanned, {self.requests} requests, {counted}, "
            f"{self.delivered} alerts sent in {self.seconds:.1f}s"
        )


def choose_mode(requested: str, provider: Provider, address_count: int) -> str:
    """Block scan when raw blocks are available and the watchlist is not tiny."""
    can_scan = provider.supports(Capability.BLOCK_RAW)
    if requested == "block":
        if not can_scan:
            from btcwatch.errors import ConfigError

            raise ConfigError(f"{provider.name} cannot serve raw blocks: use --mode address")
        return "block"
    if requested == "address":
        return "address"
    return "block" if can_scan and address_count >= AUTO_BLOCK_THRESHOLD else "address"


async def run_cycle(
    store: Store,
    provider: Provider,
    options: WatchOptions,
    sinks: Sequence[Sink],
    *,
    evidence: EvidenceLog | None = None,
    prices: PriceTable | None = None,
    now: datetime | None = None,
) -> CycleReport:
    """Poll once and record what is new; alerts are delivered after the commit."""
    started = time.monotonic()
    requests_before = provider.requests
    ws = load_watchset(store, options.case)
    mode = choose_mode(options.mode, provider, len(ws.addresses))
    report = CycleReport(mode, addresses=len(ws.addresses))
    if ws.addresses:
        result = await _poll(store, provider, ws, options, mode)
        report.tip_height = result.observation.tip_height
        report.blocks_scanned = len(result.scanned)
        report.block_requests = result.block_requests
        report.events = _commit(
            store, result, options, sinks, evidence, prices, now or datetime.now(UTC)
        )
    report.delivered, report.alert_errors = await deliver(store, sinks)
    report.requests = provider.requests - requests_before
    report.seconds = time.monotonic() - started
    return report


async def _poll(
    store: Store, provider: Provider, ws: WatchSet, options: WatchOptions, mode: str
) -> PollResult:
    outputs = watched_outputs(store, options.case)
    previous = address_stats(store)
    if mode == "address":
        tip_height = (await provider.tip()).height
        return await poll_addresses(
            provider, ws, outputs, previous, tip_height, needed=options.confirmations
        )
    scanned = scanned_blocks(store)
    catch_up: PollResult | None = None
    start = options.from_height
    if not scanned and start is None:
        # First block-scan run: learn each address's past from its history, then follow the tip.
        tip = await provider.tip()
        new = [a for a in ws.addresses if a not in previous]
        if new:
            catch_up = await poll_addresses(
                provider,
                ws,
                outputs,
                previous,
                tip.height,
                needed=options.confirmations,
                only=new,
            )
        start = tip.height + 1
        scanned = {tip.height: tip.hash}
        save_scanned(store, tip.height, tip.hash, None, None)
    seen = get_state(store, "mempool_seen")
    result = await poll_blocks(
        provider,
        ws,
        outputs,
        scanned,
        start_height=start or 0,
        mempool_seen=set(seen or []),
        scan_mempool=options.mempool,
    )
    if catch_up is not None:
        _merge(result, catch_up)
    return result


def _merge(into: PollResult, other: PollResult) -> None:
    obs, more = into.observation, other.observation
    obs.payments = more.payments + obs.payments
    obs.spends = more.spends + obs.spends
    obs.spend_outputs.update(more.spend_outputs)
    obs.gone_txids |= more.gone_txids
    into.outputs = {**other.outputs, **into.outputs}
    into.txs = {**other.txs, **into.txs}
    into.stats.extend(other.stats)


def _commit(
    store: Store,
    result: PollResult,
    options: WatchOptions,
    sinks: Sequence[Sink],
    evidence: EvidenceLog | None,
    prices: PriceTable | None,
    now: datetime,
) -> list[Event]:
    stored, dead = stored_events(store)
    reported = Reported.from_events(stored, dead)
    case_of = {ev.id: ev.case for ev in stored}
    events = plan_events(
        reported, result.observation, needed_confirmations=options.confirmations, case_of=case_of
    )
    demands = {(w.case, w.address): w.demand for w in list_addresses(store, options.case)}
    times = {p.outpoint.txid: p.time for p in result.observation.payments if p.time}
    events = [
        enrich_payment(
            ev,
            when=_when(times.get(ev.txid or ""), now),
            demand=demands.get((ev.case, ev.address or "")),
            prices=prices,
        )
        if ev.kind in (Kind.PAYMENT_RECEIVED, Kind.PAYMENT_CONFIRMED)
        else ev
        for ev in events
    ]
    with store.write():
        matched = {p.block_hash for p in result.observation.payments if p.block_hash}
        store_with_evidence(
            store,
            result.txs.values(),
            evidence,
            interesting_urls={url for url in _urls(evidence) if any(h in url for h in matched)},
        )
        unconfirm_blocks(store, result.observation.orphaned_blocks)
        if result.reorg_fork is not None:
            from btcwatch.store.watchstate import drop_scanned_above

            drop_scanned_above(store, result.reorg_fork)
        gone = result.observation.gone_txids
        save_outputs(
            store,
            [
                o
                for o in result.outputs.values()
                if o.outpoint.txid not in gone and (o.spent_by not in gone)
            ],
        )
        forget_txids(store, gone)
        save_address_stats(store, result.stats)
        for height, block_hash, prev, block_time in result.scanned:
            save_scanned(store, height, block_hash, prev, block_time)
        if result.mempool_seen is not None:
            set_state(store, "mempool_seen", result.mempool_seen)
        set_state(store, "tip_height", result.observation.tip_height)
        return record_events(store, events, [s.spec for s in sinks])


def _when(block_time: int | None, now: datetime) -> datetime:
    return datetime.fromtimestamp(block_time, UTC) if block_time else now


def _urls(log: EvidenceLog | None) -> list[str]:
    return [ev.url for ev in log.items] if log else []
