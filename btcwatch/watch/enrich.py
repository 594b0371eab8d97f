"""What a payment is worth and whether it matches the demand: added to the event's details.

Fiat values use the price of the transaction's hour where a source has hourly prices, else of
its day: its block's time once confirmed, else the time of the chain tip when it was first seen
in the mempool (the chain's clock, so a replayed or simulated case is priced on its own days).
Each value states its ``price_time``, ``resolution`` (hour or day) and ``source``; a value no
source could give is ``null`` with a ``note``, and is filled in on a later cycle.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from btcwatch.errors import BtcwatchError
from btcwatch.event import Event, Kind
from btcwatch.money import format_btc, match_payment, parse_demand
from btcwatch.prices import PriceLookup
from btcwatch.timefmt import iso_utc

TIME_SOURCES = {
    "block": "block time",
    "tip": "chain tip time when first seen (unconfirmed)",
    "clock": "wall clock when first seen (unconfirmed)",
}


def enrich_payment(
    event: Event,
    *,
    when: datetime,
    demand: str | None,
    prices: PriceLookup | None,
    time_source: str | None = None,
) -> Event:
    """Add BTC, EUR and USD values and the demand verdict to a payment event."""
    if event.kind not in (Kind.PAYMENT_RECEIVED, Kind.PAYMENT_CONFIRMED) or event.value_sat is None:
        return event
    details: dict[str, Any] = dict(event.details)
    details["value_btc"] = format_btc(event.value_sat)
    details["time"] = iso_utc(when)
    if time_source is not None:
        details["time_source"] = TIME_SOURCES.get(time_source, time_source)
    if prices is not None:
        details["fiat"] = fiat_values(prices, event.value_sat, when)
    if demand:
        details["demand"] = demand
        details["demand_match"] = _match(demand, event.value_sat, when, prices)
    return replace(event, details=details)


def fiat_values(prices: PriceLookup, sats: int, when: datetime) -> dict[str, Any]:
    """``{EUR: {value, price_per_btc, price_time, resolution, source}, USD: ...}``."""
    out: dict[str, Any] = {}
    for currency in ("EUR", "USD"):
        try:
            value, price = prices.value(sats, when, currency)
        except BtcwatchError as exc:
            out[currency] = {"value": None, "note": str(exc)}
            continue
        out[currency] = {
            "value": str(value),
            "price_per_btc": str(price.per_btc),
            "price_day": price.day_used.isoformat(),
            "price_time": price.price_time,
            "resolution": price.resolution,
            "source": price.source,
        }
    return out


def is_unvalued(details: Any) -> bool:
    """True for a payment whose fiat (or demand verdict, for want of a price) is still null."""
    fiat = details.get("fiat") if isinstance(details, dict) else None
    if not isinstance(fiat, dict):
        return False
    if any(isinstance(v, dict) and v.get("value") is None for v in fiat.values()):
        return True
    match = details.get("demand_match")
    return (
        isinstance(match, dict)
        and match.get("verdict") is None
        and "price" in str(match.get("note", ""))
    )


def _match(demand: str, sats: int, when: datetime, prices: PriceLookup | None) -> dict[str, Any]:
    try:
        result = match_payment(parse_demand(demand), sats, when, prices)
    except BtcwatchError as exc:
        return {"verdict": None, "note": str(exc)}
    return {
        "verdict": result.verdict.value,
        "expected_sat": result.expected_sat,
        "compared_to": str(result.compared_to),
        "ratio": str(result.ratio),
        "price_day": result.price.day_used.isoformat() if result.price else None,
        "price_time": result.price.price_time if result.price else None,
        "resolution": result.price.resolution if result.price else None,
        "source": result.price.source if result.price else None,
    }
