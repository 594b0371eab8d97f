"""When watched money moves: trace it, watch the attacker's next addresses, flag exchanges.

This is `watch --follow`: it sits above watch and trace (it uses both) and below the CLI.
The `funds_at_exchange` event it raises is the alert an investigator acts on: which exchange,
which deposit, how much of the ransom.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from btcwatch.case import Role
from btcwatch.errors import AddressError, BtcwatchError
from btcwatch.event import Event, Kind, event_id
from btcwatch.intake import add_addresses
from btcwatch.prices import PriceLookup, PriceTable
from btcwatch.providers.base import Provider
from btcwatch.store import Store
from btcwatch.store.cases import list_addresses
from btcwatch.store.events import record_events
from btcwatch.store.evidence import EvidenceLog
from btcwatch.store.followups import (
    followup_done,
    followup_failed,
    owed_followups,
    reap_stale_runs,
)
from btcwatch.trace.analyse import Analysis
from btcwatch.trace.follow import StopReason, TraceParams
from btcwatch.trace.run.service import run_trace
from btcwatch.valuation import Valuer
from btcwatch.watch.runner import WatchOptions

NOT_ATTACKER = (StopReason.DEPOSIT, StopReason.TAGGED)


@dataclass(slots=True)
class FollowUp:
    """What following the money added: trace runs, watched addresses, exchange events."""

    runs: dict[str, int] = field(default_factory=dict)  # case -> trace run id
    new_addresses: dict[str, list[str]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)


def trail_addresses(analysis: Analysis) -> tuple[list[str], list[str]]:
    """(passed through, resting at): addresses to watch next, no exchange's or service's.

    Money that moved on from an address was the attacker's to move; money resting unspent at
    the end of the trail may be the attacker's or an exchange deposit not yet swept, so those
    are watched without calling them the attacker's.
    """
    sources = {s.outpoint for s in analysis.flow.sources}
    passed: dict[str, None] = {}
    resting: dict[str, None] = {}
    for op in sorted(analysis.flow.followed - sources):
        stop = analysis.flow.stops.get(op)
        if stop is not None and (stop.reason in NOT_ATTACKER or stop.entity):
            continue
        tx = analysis.flow.txs.get(op.txid)
        address = tx.outputs[op.vout].address if tx and op.vout < len(tx.outputs) else None
        if not address:
            continue
        if stop is not None and stop.reason is StopReason.UNSPENT:
            resting.setdefault(address)
        else:
            passed.setdefault(address)
    return list(passed), [a for a in resting if a not in passed]


def exchange_events(case: str, run_id: int, analysis: Analysis) -> list[Event]:
    """One funds_at_exchange per deposit (or tagged exchange wallet) the ransom reached."""
    events = []
    for e in analysis.endpoints:
        if e.category != "exchange" or not e.entity or not e.taint_sat:
            continue
        events.append(
            Event(
                event_id(Kind.FUNDS_AT_EXCHANGE, case, e.outpoint.txid, e.outpoint.vout),
                Kind.FUNDS_AT_EXCHANGE,
                case,
                e.address,
                e.outpoint.txid,
                e.outpoint.vout,
                e.taint_sat,
                e.height,
                None,
                {
                    "entity": e.entity,
                    "output_value_sat": e.value_sat,
                    "taint_sat": e.taint_sat,
                    "reason": e.reason,
                    "detail": e.detail,
                    "trace_run": run_id,
                    "hop": e.hop,
                },
            )
        )
    return events


async def follow_up(
    store: Store,
    provider: Provider,
    cases: Iterable[str],
    *,
    params: TraceParams | None = None,
    log: EvidenceLog | None = None,
    prices: PriceLookup | Valuer | None = None,
) -> FollowUp:
    """Trace each case whose watched money moved; extend its watchlist; flag exchanges."""
    result = FollowUp()
    for case in sorted(set(cases)):
        run_id, analysis, _ = await run_trace(
            store, provider, params or TraceParams(), case=case, log=log, prices=prices
        )
        result.runs[case] = run_id
        known = {w.address for w in list_addresses(store, case)}
        passed, resting = trail_addresses(analysis)
        for addresses, role, label in (
            (passed, Role.ATTACKER, "money passed through"),
            (resting, Role.OTHER, "trail end: watch for movement"),
        ):
            fresh = [a for a in addresses if a not in known]
            if not fresh:
                continue
            try:
                added = add_addresses(
                    store, case, fresh, role=role, label=label, source=f"trace:{run_id}"
                )
            except AddressError:
                continue  # an address of another network cannot be watched in this case
            result.new_addresses.setdefault(case, []).extend(added.added)
        result.events.extend(exchange_events(case, run_id, analysis))
    return result


async def resume_followups(
    store: Store,
    provider: Provider,
    *,
    case: str | None = None,
    sinks: Sequence[str] = (),
    params: TraceParams | None = None,
    log: EvidenceLog | None = None,
    prices: PriceLookup | Valuer | None = None,
) -> tuple[list[Event], list[str]]:
    """Run every follow-up trace still owed (of ``case``, or all); (new events, problems).

    Each case's events are recorded in the transaction that settles its debt, so a crash
    before then leaves the trace owed and the next tick redoes it (event ids are
    deterministic: nothing is recorded twice). A trace that fails (an explorer gave up) stays
    owed with its error; trace runs that a killed process left `running` are marked failed.
    """
    reap_stale_runs(store)
    events: list[Event] = []
    problems: list[str] = []
    for owed in owed_followups(store, case):
        try:
            found = await follow_up(
                store, provider, [owed.case], params=params, log=log, prices=prices
            )
        except BtcwatchError as exc:
            followup_failed(store, owed.case, str(exc))
            problems.append(f"follow-up trace of case {owed.case!r} failed (will retry): {exc}")
            continue
        with store.write():
            events.extend(record_events(store, found.events, sinks))
            followup_done(store, owed.case)
    return events, problems


async def after_cycle(
    store: Store,
    provider: Provider,
    options: WatchOptions,
    log: EvidenceLog,
    sinks: Sequence[str],
    prices: PriceLookup | Valuer | None = None,
) -> tuple[list[Event], list[str]]:
    """`watch --follow`'s hook: the follow-up traces the cycles owe (see resume_followups),
    valued with the watch run's prices (the bundled table when none are given)."""
    return await resume_followups(
        store,
        provider,
        case=options.case,
        sinks=sinks,
        log=log,
        prices=PriceTable.load_default() if prices is None else prices,
    )
