"""The watched side of a case: who paid, how much, against which demand, and what happened when.

Read from the stored events (what the watcher reported, with reverts applied), never from the
network. Fiat comes from the event's own details (priced at the payment's hour or day when it
was recorded, with its price_time, resolution and source); a payment recorded without a price
is valued here from ``prices`` (the bundled table, or a book the CLI filled beforehand).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from btcwatch.case import Role, WatchedAddress
from btcwatch.errors import BtcwatchError
from btcwatch.event import Kind
from btcwatch.money import btc
from btcwatch.prices import PriceLookup
from btcwatch.report.facts import (
    VERDICTS,
    DemandGroup,
    Payment,
    PaymentSummary,
    TimelineEntry,
)
from btcwatch.report.refs import EvidenceIndex
from btcwatch.store.events import StoredEvent
from btcwatch.timefmt import iso_utc

CURRENCIES = ("EUR", "USD")
TIMELINE_KINDS = (
    Kind.PAYMENT_RECEIVED,
    Kind.PAYMENT_CONFIRMED,
    Kind.FUNDS_MOVED,
    Kind.CO_SPENT,
    Kind.REVERTED,
    Kind.FUNDS_AT_EXCHANGE,
)
_KIND_ORDER = {k.value: n for n, k in enumerate(TIMELINE_KINDS)}


def confirmations(height: int | None, tip: int | None) -> int:
    return 0 if height is None or tip is None else max(0, tip - height + 1)


@dataclass(frozen=True, slots=True)
class _Fiat:
    eur: Decimal | None
    usd: Decimal | None
    day: str | None
    sources: tuple[str, ...]
    price_time: str | None = None
    resolution: str | None = None


def _fiat(
    details: Mapping[str, Any], sats: int, time: str | None, prices: PriceLookup | None
) -> _Fiat:
    """EUR/USD from the event's details, else from the price table at the payment's UTC day."""
    recorded = details.get("fiat") or {}
    values: dict[str, Decimal | None] = {}
    day: str | None = None
    sources: list[str] = []
    stamp: list[tuple[str | None, str | None]] = []
    for currency in CURRENCIES:
        entry = recorded.get(currency) or {}
        if entry.get("value") is not None:
            values[currency] = Decimal(str(entry["value"]))
            day = day or entry.get("price_day")
            stamp.append(
                (
                    entry.get("price_time") or entry.get("price_day"),
                    entry.get("resolution") or "day",
                )
            )
            if entry.get("source"):
                sources.append(str(entry["source"]))
            continue
        values[currency] = None
        if prices is None or time is None:
            continue
        try:
            value, price = prices.value(sats, datetime.fromisoformat(time), currency)
        except BtcwatchError:
            continue
        values[currency] = value
        day = day or price.day_used.isoformat()
        sources.append(price.source)
        stamp.append((price.price_time, price.resolution))
    first = stamp[0] if stamp else (None, None)
    return _Fiat(values["EUR"], values["USD"], day, tuple(sources), *first)


def gather_payments(
    events: Sequence[StoredEvent],
    watched: Sequence[WatchedAddress],
    refs: EvidenceIndex,
    prices: PriceLookup | None,
    tip: int | None,
) -> tuple[tuple[Payment, ...], set[str]]:
    """Live payments (received and not reverted), oldest first, and the price sources used."""
    by_address = {w.address: w for w in watched}
    live = [e for e in events if not e.reverted_by]
    confirmed = {
        (e.txid, e.vout): e.height
        for e in live
        if e.kind == Kind.PAYMENT_CONFIRMED and e.height is not None
    }
    received = [e for e in live if e.kind == Kind.PAYMENT_RECEIVED]
    times = refs.block_times(e.txid for e in received if e.txid)
    payments: list[Payment] = []
    sources: set[str] = set()
    for e in received:
        if e.address is None or e.txid is None or e.vout is None or e.value_sat is None:
            continue  # never stored: a payment always names the output it paid
        details = e.details
        height = confirmed.get((e.txid, e.vout), e.height)
        block_time = times.get(e.txid)
        time = iso_utc(block_time) if block_time else details.get("time") or e.seen_at
        fiat = _fiat(details, e.value_sat, time, prices)
        sources.update(fiat.sources)
        match = details.get("demand_match") or {}
        verdict = match.get("verdict") if match.get("verdict") in VERDICTS else "none"
        who = by_address.get(e.address)
        payments.append(
            Payment(
                address=e.address,
                role=who.role.value if who else "",
                label=who.label if who else "",
                txid=e.txid,
                vout=e.vout,
                value_sat=e.value_sat,
                eur=fiat.eur,
                usd=fiat.usd,
                price_day=fiat.day,
                time=time,
                height=height,
                confirmations=confirmations(height, tip),
                verdict=str(verdict),
                compared_to=match.get("compared_to"),
                expected_sat=match.get("expected_sat"),
                ratio=match.get("ratio"),
                evidence=refs.refs(e.txid),
                price_time=fiat.price_time,
                resolution=fiat.resolution,
                price_source=fiat.sources[0] if fiat.sources else None,
            )
        )
    payments.sort(key=lambda p: (p.time or "~", p.txid, p.vout))
    return tuple(payments), sources


def summarise(payments: Sequence[Payment], watched: Sequence[WatchedAddress]) -> PaymentSummary:
    """Counts and totals of what victims paid to ransom addresses.

    Money arriving at attacker addresses (sweeps, merges found by a trace) is the ransom moving
    on, not new payments: counting it would add the same coins twice. Fiat totals add only
    payments that have a value in that currency.
    """
    ransom = {w.address for w in watched if w.role is Role.RANSOM}
    paid = [p for p in payments if p.address in ransom]
    counts = dict.fromkeys(VERDICTS, 0)
    for p in paid:
        counts[p.verdict] += 1
    eur = [p.eur for p in paid if p.eur is not None]
    usd = [p.usd for p in paid if p.usd is not None]
    return PaymentSummary(
        count=len(paid),
        victims_paid=len({p.address for p in paid}),
        ransom_addresses=len(ransom),
        by_verdict=tuple(counts.items()),
        total_sat=sum(p.value_sat for p in paid),
        total_eur=sum(eur, Decimal("0.00")) if eur else None,
        total_usd=sum(usd, Decimal("0.00")) if usd else None,
        fiat_missing=sum(1 for p in paid if p.eur is None or p.usd is None),
    )


def demand_groups(
    watched: Sequence[WatchedAddress], payments: Sequence[Payment]
) -> tuple[DemandGroup, ...]:
    """Addresses grouped by their demand text: the victims' demand, the company's, none."""
    groups: dict[str | None, list[WatchedAddress]] = {}
    for w in watched:
        groups.setdefault(w.demand, []).append(w)
    out: list[DemandGroup] = []
    for demand, members in groups.items():
        addresses = {w.address for w in members}
        paid = [p for p in payments if p.address in addresses]
        out.append(
            DemandGroup(
                demand=demand,
                roles=tuple(sorted({w.role.value for w in members})),
                labels=tuple(sorted({w.label for w in members if w.label})),
                addresses=len(addresses),
                paid_addresses=len({p.address for p in paid}),
                payments=len(paid),
                paid_sat=sum(p.value_sat for p in paid),
            )
        )
    out.sort(key=lambda g: (-g.addresses, g.demand or "~"))
    return tuple(out)


def _note(e: StoredEvent) -> str:
    kind, details = e.kind, e.details
    if kind == Kind.PAYMENT_RECEIVED:
        match = details.get("demand_match") or {}
        verdict = match.get("verdict")
        return f"{verdict} against {match.get('compared_to')}" if verdict else ""
    if kind == Kind.PAYMENT_CONFIRMED:
        return f"confirmed at height {e.height}" if e.height is not None else ""
    if kind == Kind.FUNDS_MOVED:
        dests = details.get("destinations") or []
        shown = ", ".join(
            f"{d.get('address') or '?'} ({btc(int(d.get('value_sat') or 0))})" for d in dests[:3]
        )
        more = f" and {len(dests) - 3} more" if len(dests) > 3 else ""
        return f"to {shown}{more}" if dests else ""
    if kind == Kind.CO_SPENT:
        return f"{len(details.get('addresses') or [])} watched addresses spent together"
    if kind == Kind.REVERTED:
        return f"reverts event {details.get('reverts', '?')}: {details.get('reason', '')}".strip()
    return ", ".join(f"{k}: {details[k]}" for k in sorted(details) if isinstance(details[k], str))


def gather_timeline(
    events: Sequence[StoredEvent], refs: EvidenceIndex
) -> tuple[TimelineEntry, ...]:
    """Every payment, movement and revert, ordered by block time, then when it was seen."""
    wanted = [e for e in events if e.kind in _KIND_ORDER]
    times = refs.block_times(e.txid for e in wanted if e.txid)
    entries: list[tuple[tuple[str, int, int, str], TimelineEntry]] = []
    for e in wanted:
        block_time = times.get(e.txid or "") if e.kind != Kind.REVERTED else None
        time = iso_utc(block_time) if block_time else e.details.get("time") or e.seen_at
        entry = TimelineEntry(
            time=time,
            kind=e.kind,
            address=e.address,
            txid=e.txid,
            vout=e.vout,
            value_sat=e.value_sat,
            height=e.height,
            reverted=bool(e.reverted_by),
            note=_note(e),
            evidence=refs.refs(e.txid),
        )
        key = (time, e.height if e.height is not None else 1 << 62, _KIND_ORDER[e.kind])
        entries.append(((*key, e.id), entry))
    entries.sort(key=lambda pair: pair[0])
    return tuple(entry for _, entry in entries)
