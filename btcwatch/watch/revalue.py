"""Prices for a watch cycle, and payments recorded without a price valued later.

A payment no source could price (all down, ``--offline``, rate-limited, or a day after the
bundled table) is recorded anyway, with ``fiat: {EUR: {value: null, note: ...}}``. Each later
cycle, and ``btcwatch events --refresh-fiat``, prices it again; when a price is found the
event's details are updated in place: same id, no second alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from btcwatch.event import Event, Kind
from btcwatch.prices import PriceLookup
from btcwatch.store import Store
from btcwatch.store.events import stored_events
from btcwatch.store.prices import may_have_unvalued, update_event_details
from btcwatch.valuation import Valuer
from btcwatch.watch.enrich import enrich_payment, is_unvalued

PAYMENT_KINDS = (Kind.PAYMENT_RECEIVED, Kind.PAYMENT_CONFIRMED)
Prices = PriceLookup | Valuer


def unvalued_events(store: Store, case: str | None = None) -> list[Event]:
    """Stored payment events whose fiat value is still null, oldest first."""
    if not may_have_unvalued(store, case):
        return []
    events, reverted = stored_events(store, case)
    return [
        ev
        for ev in events
        if ev.kind in PAYMENT_KINDS and ev.id not in reverted and is_unvalued(ev.details)
    ]


def _moment(ev: Event) -> datetime | None:
    text = ev.details.get("time")
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def cycle_prices(
    store: Store,
    prices: Prices | None,
    moments: Iterable[datetime],
    case: str | None = None,
) -> PriceLookup | None:
    """This cycle's lookup; with a `Valuer`, old unvalued payments are valued on the way."""
    if not isinstance(prices, Valuer):
        return prices
    old = unvalued_events(store, case)
    wanted = [*moments, *(m for m in map(_moment, old) if m is not None)]
    book = await prices.prepare(wanted)
    revalue(store, old, book)
    return book


def revalue(store: Store, events: Sequence[Event], prices: PriceLookup) -> list[Event]:
    """Price ``events`` again with ``prices``; store and return the ones now valued."""
    done: list[Event] = []
    for ev in events:
        when = _moment(ev)
        if when is None:
            continue
        details: dict[str, Any] = dict(ev.details)
        demand = details.get("demand")
        fresh = enrich_payment(
            replace(ev, details=details),
            when=when,
            demand=demand if isinstance(demand, str) else None,
            prices=prices,
        )
        if _valued(fresh.details) <= _valued(ev.details):
            continue  # nothing new (a changed note alone is not worth a write)
        update_event_details(store, ev.id, dict(fresh.details))
        done.append(fresh)
    return done


def _valued(details: Any) -> int:
    fiat = details.get("fiat") or {}
    count = sum(1 for v in fiat.values() if isinstance(v, dict) and v.get("value") is not None)
    match = details.get("demand_match") or {}
    return count + (1 if match.get("verdict") else 0)


async def refresh_fiat(store: Store, valuer: Valuer, case: str | None = None) -> list[Event]:
    """``events --refresh-fiat``: value every stored payment still without a price."""
    old = unvalued_events(store, case)
    moments = [m for m in map(_moment, old) if m is not None]
    book = await valuer.prepare(moments)
    return revalue(store, old, book)
