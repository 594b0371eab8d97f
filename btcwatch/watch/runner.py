"""One watch cycle, start to finish: poll, plan events, store everything at once, alert.

All state changes and new events of a cycle are committed in one transaction, before any alert
is sent; a run killed at any point leaves either the old state or the new one, and the outbox
re-sends what was stored but not yet delivered.
"""

from __future__ import annotations

import time
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from btcwatch.errors import ConfigError, InputError
from btcwatch.event import Event, Kind
from btcwatch.model import AddressStats, Tip
from btcwatch.prices import PriceLookup
from btcwatch.providers.base import Capability, Provider
from btcwatch.store import Store
from btcwatch.store.events import get_state, record_events, set_state, stored_events
from btcwatch.store.evidence import EvidenceLog, store_with_evidence
from btcwatch.store.followups import queue_followups
from btcwatch.store.watchstate import (
    WatchedOutput,
    address_stats,
    addresses_after,
    drop_scanned_above,
    forget_txids,
    last_address_id,
    save_address_stats,
    save_outputs,
    save_scanned,
    scanned_block_time,
    scanned_blocks,
    unconfirm_blocks,
    watched_outputs,
)
from btcwatch.watch.address_mode import poll_addresses
from btcwatch.watch.alerts import Sink, deliver
from btcwatch.watch.block_mode import poll_blocks
from btcwatch.watch.budget import Budget
from btcwatch.watch.diff import Observation, Reported, Spend, complete_spends, plan_events
from btcwatch.watch.disputes import DisputeLog, disagreement_events
from btcwatch.watch.enrich import enrich_payment
from btcwatch.watch.hotset import DEFAULT_HOT_SET, hot_addresses
from btcwatch.watch.mempool import MempoolWork
from btcwatch.watch.poll import PollResult
from btcwatch.watch.revalue import Prices, cycle_prices
from btcwatch.watch.watchset import WatchSet, load_watchset

AUTO_BLOCK_THRESHOLD = 20  # from this many addresses, one block costs less than N summaries
SCAN_ADDRESSES = "scan_address_id"  # watchlist row id when a case's block scan began
CATCHUP_PENDING = "catchup_pending"  # addresses whose past a budget-cut catch-up still owes
MEMPOOL_DEFERRED = "mempool_deferred"  # outspends and hot addresses a tick could not afford
PROBED = "explorer_probes"  # what probing taught about explorers' optional endpoints
CATCHUP_SHARE = 0.5  # of a tick's budget, what catching up new addresses may use
ADDRESSES_DEFERRED = "addresses_deferred"  # address mode: addresses a tick could not afford


@dataclass(frozen=True, slots=True)
class WatchOptions:
    case: str | None = None
    mode: str = "auto"  # auto | address | block
    confirmations: int = 1
    from_height: int | None = None
    mempool: str = "hot"  # block mode: hot | full | off (see watch/mempool.py)
    hot_set: int = DEFAULT_HOT_SET  # addresses whose mempool a block-mode tick reads
    budget: int | None = None  # requests per tick (None: no limit); the rest is deferred
    follow: bool = False  # `--follow`: owe a follow-up trace for each case whose money moved


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


def choose_mode(requested: str, provider: Provider, address_count: int) -> str:
    """Block scan when raw blocks are available and the watchlist is not tiny."""
    can_scan = provider.supports(Capability.BLOCK_RAW)
    if requested == "block":
        if not can_scan:
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
    report = CycleReport(mode, addresses=len(ws.addresses))
    if ws.addresses:
        outputs = watched_outputs(store, options.case)
        probed = get_state(store, PROBED)
        provider.assume(probed if isinstance(probed, dict) else {})
        budget = Budget(provider, options.budget)
        result = await _poll(store, provider, ws, outputs, options, mode, disputes, budget)
        complete_spends(result.observation, _stored_spends(outputs))
        learned = provider.probed()
        if learned and learned != probed:
            result.state[PROBED] = {**(probed if isinstance(probed, dict) else {}), **learned}
        report.deferred = dict(budget.deferred)
        report.tip_height = result.observation.tip_height
        report.blocks_scanned = len(result.scanned)
        report.block_requests = result.block_requests
        tip_time = await _tip_time(store, provider, result)
        found = disputes.drain() if disputes is not None else []
        extra = disagreement_events(found, _dispute_cases(ws, outputs, result, options.case))
        moment = now or datetime.now(UTC)
        book = await cycle_prices(store, prices, _moments(result, tip_time, moment), options.case)
        report.events = _commit(
            store, result, options, sinks, evidence, book, moment, tip_time, ws.demands, extra
        )
    report.delivered, report.alert_errors = await deliver(store, sinks)
    report.requests = provider.requests - requests_before
    report.seconds = time.monotonic() - started
    return report


async def _poll(
    store: Store,
    provider: Provider,
    ws: WatchSet,
    outputs: list[WatchedOutput],
    options: WatchOptions,
    mode: str,
    disputes: DisputeLog | None,
    budget: Budget,
) -> PollResult:
    previous = address_stats(store)
    distrust = disputes.addresses if disputes is not None else frozenset[str]()
    if mode == "address":
        best = await provider.tip()
        if budget.limit is None:
            result = await poll_addresses(
                provider,
                ws,
                outputs,
                previous,
                best.height,
                needed=options.confirmations,
                distrust=distrust,
            )
        else:
            # Within a budget: the addresses left wait for the next tick, and go first then.
            key = f"{ADDRESSES_DEFERRED}:{options.case or '*'}"
            saved = get_state(store, key)
            waiting = [a for a in saved if a in ws.by_address] if isinstance(saved, list) else []
            order = list(dict.fromkeys([*waiting, *ws.addresses]))
            polled, left = await _catch_up(
                provider, ws, outputs, previous, best.height, options, order, distrust, budget, 1.0
            )
            result = polled or PollResult(Observation(best.height))
            budget.defer("addresses", len(left))
            result.state[key] = left
        result.tip_hash = best.hash
        return result
    scanned = scanned_blocks(store)
    start = options.from_height
    first_run = not scanned
    watchlist_end = last_address_id(store)  # read first: an address added meanwhile is new
    tip: Tip | None = None
    if start is not None:
        tip = await provider.tip()
        if start > tip.height:
            # Accepting it would store a scan position past blocks nobody scanned.
            raise InputError(f"--from-height {start} is above the explorer's tip ({tip.height})")
    if first_run and start is None:
        # First block-scan run: follow the chain from today's tip; the addresses' past comes
        # from their histories (below). The tip is stored with the rest, at the commit.
        tip = await provider.tip()
        scanned = {tip.height: tip.hash}
    skip = first_run and start is not None
    new, first_key = _unpolled(store, ws, options.case, previous, skip=skip)
    pending_key = f"{CATCHUP_PENDING}:{options.case or '*'}"
    owed = get_state(store, pending_key)
    owed_list = [a for a in owed if a in ws.by_address] if isinstance(owed, list) else []
    new = list(dict.fromkeys([*owed_list, *new]))
    catch_up: PollResult | None = None
    rest: list[str] = []
    if new:
        # Addresses the scan has not covered from the start (a new case, or added since):
        # learn their past from their histories. Payments seen both ways have the same ids.
        # A budget-cut catch-up stores the addresses left; the next tick starts with them.
        tip = tip or await provider.tip()
        catch_up, rest = await _catch_up(
            provider, ws, outputs, previous, tip.height, options, new, distrust, budget
        )
        budget.defer("addresses", len(rest))
    result_state = {pending_key: rest} if rest or owed_list else {}
    mempool = _mempool_work(store, ws, outputs, options)
    result = await poll_blocks(
        provider, ws, outputs, scanned, start_height=start or 0, mempool=mempool, budget=budget
    )
    result.state.update(result_state)
    if mempool is not None and mempool.mode == "hot":
        result.state[f"{MEMPOOL_DEFERRED}:{options.case or '*'}"] = mempool.state()
    if first_run and tip is not None and start is None:
        result.start_marker = (tip.height, tip.hash)
    if first_key is not None:
        result.state[first_key] = watchlist_end
    if catch_up is not None:
        _merge(result, catch_up)
    return result


async def _catch_up(
    provider: Provider,
    ws: WatchSet,
    outputs: list[WatchedOutput],
    previous: dict[str, AddressStats],
    tip_height: int,
    options: WatchOptions,
    addresses: list[str],
    distrust: Container[str],
    budget: Budget,
    fraction: float = CATCHUP_SHARE,
) -> tuple[PollResult | None, list[str]]:
    """Histories of ``addresses`` in steps that fit the budget's share; returns those left.

    Each step costs about two requests per address (summary and first history page); at
    least one step runs, so a tick always moves forward.
    """
    share = budget.share(fraction)
    start = budget.spent
    done: PollResult | None = None
    todo = list(addresses)
    while todo:
        used = budget.spent - start
        if share is not None and done is not None and used >= share:
            break
        size = len(todo) if share is None else max(1, (share - used) // 2)
        step, todo = todo[:size], todo[size:]
        found = await poll_addresses(
            provider,
            ws,
            outputs,
            previous,
            tip_height,
            needed=options.confirmations,
            only=step,
            distrust=distrust,
        )
        if done is None:
            done = found
        else:
            _merge(done, found)
    return done, todo


def _mempool_work(
    store: Store, ws: WatchSet, outputs: list[WatchedOutput], options: WatchOptions
) -> MempoolWork | None:
    """What the tick looks at in the mempool, with what the last tick had to defer."""
    if options.mempool == "off":
        return None
    if options.mempool == "full":
        seen = get_state(store, "mempool_seen")
        return MempoolWork("full", seen=set(seen or []))
    tip = get_state(store, "tip_height")
    hot = hot_addresses(ws, outputs, tip if isinstance(tip, int) else 0, options.hot_set)
    saved = get_state(store, f"{MEMPOOL_DEFERRED}:{options.case or '*'}")
    saved = saved if isinstance(saved, dict) else {}
    return MempoolWork(
        "hot",
        hot=hot,
        deferred_txids=list(saved.get("outspends", [])),
        deferred_hot=list(saved.get("hot", [])),
    )


def _stored_spends(outputs: Sequence[WatchedOutput]) -> list[Spend]:
    return [
        Spend(o.case, o.address, o.outpoint, o.value, o.spent_by, o.spent_vin or 0, None, None)
        for o in outputs
        if o.spent_by
    ]


def _unpolled(
    store: Store, ws: WatchSet, case: str | None, previous: dict[str, AddressStats], *, skip: bool
) -> tuple[list[str], str | None]:
    """Addresses whose past the block scan has not seen, and the state key to set if any.

    The first block-scan cycle for a case (or for all cases) catches up every address: one
    summary for an address polled before, its history for one never polled. Later cycles catch
    up the addresses added to the watchlist since then that were never polled. ``skip``: the
    scan starts at a height the user gave, nothing before it is wanted.
    """
    key = f"{SCAN_ADDRESSES}:{case or '*'}"
    known = get_state(store, key)
    if not isinstance(known, int):
        return ([] if skip else ws.addresses), key
    return [a for a in addresses_after(store, known, case) if a not in previous], None


def _merge(into: PollResult, other: PollResult) -> None:
    obs, more = into.observation, other.observation
    obs.payments = more.payments + obs.payments
    obs.spends = more.spends + obs.spends
    obs.spend_outputs.update(more.spend_outputs)
    obs.gone_txids |= more.gone_txids
    obs.orphaned_blocks |= more.orphaned_blocks
    into.outputs = {**other.outputs, **into.outputs}
    into.txs = {**other.txs, **into.txs}
    into.stats.extend(other.stats)


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


def _commit(
    store: Store,
    result: PollResult,
    options: WatchOptions,
    sinks: Sequence[Sink],
    evidence: EvidenceLog | None,
    prices: PriceLookup | None,
    now: datetime,
    tip_time: int | None,
    demands: dict[tuple[str, str], str | None],
    extra: Sequence[Event] = (),
) -> list[Event]:
    stored, dead = stored_events(store)
    reported = Reported.from_events(stored, dead)
    case_of = {ev.id: ev.case for ev in stored}
    planned = plan_events(
        reported, result.observation, needed_confirmations=options.confirmations, case_of=case_of
    )
    # What left the chain is reported before what replaced it (RBF, reorg), in one commit.
    planned.sort(key=lambda ev: ev.kind is not Kind.REVERTED)
    times = {p.outpoint.txid: p.time for p in result.observation.payments if p.time}
    events = [
        _enrich(ev, times.get(ev.txid or ""), tip_time, now, demands, prices) for ev in planned
    ]
    events.extend(extra)
    with store.write():
        matched = {p.block_hash for p in result.observation.payments if p.block_hash}
        matched |= set(result.block_txids)
        store_with_evidence(
            store,
            result.txs.values(),
            evidence,
            interesting_urls={url for url in _urls(evidence) if any(h in url for h in matched)},
            raw_blocks={
                url: txids
                for url in _urls(evidence)
                for block_hash, txids in result.block_txids.items()
                if url.endswith(f"/block/{block_hash}/raw")
            },
        )
        unconfirm_blocks(store, result.observation.orphaned_blocks)
        if result.start_marker is not None:
            save_scanned(store, *result.start_marker, None, None)
        if result.reorg_fork is not None:
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
        for key, value in result.state.items():
            set_state(store, key, value)
        set_state(store, "tip_height", result.observation.tip_height)
        new = record_events(store, events, [s.spec for s in sinks])
        if options.follow:  # durable work, in this same transaction (see store/followups.py)
            queue_followups(store, (ev.case for ev in new if ev.kind is Kind.FUNDS_MOVED))
        return new


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


def _urls(log: EvidenceLog | None) -> list[str]:
    return [ev.url for ev in log.items] if log else []
