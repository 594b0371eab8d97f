"""What a payment is worth and whether it matches the demand: added to the event's details.

Fiat values use the bundled daily price table at the day of the transaction: its block's time
once confirmed, else the time of the chain tip when it was first seen in the mempool (the
chain's clock, so a replayed or simulated case is priced on its own days). The day of the
price used and where the time came from are always stated.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from btcwatch.errors import BtcwatchError
from btcwatch.event import Event, Kind
from btcwatch.money import format_btc, match_payment, parse_demand
from btcwatch.prices import PriceTable

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
    prices: PriceTable | None,
    time_source: str | None = None,
) -> Event:
    """Add BTC, EUR and USD values and the demand verdict to a payment event."""
    if event.kind not in (Kind.PAYMENT_RECEIVED, Kind.PAYMENT_CONFIRMED) or event.value_sat is None:
        return event
    details: dict[str, Any] = dict(event.details)
    details["value_btc"] = format_btc(event.value_sat)
    details["time"] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if time_source is not None:
        details["time_source"] = TIME_SOURCES.get(time_source, time_source)
    day = when.astimezone(UTC).date()
    if prices is not None:
        details["fiat"] = _fiat(prices, event.value_sat, day)
    if demand:
        details["demand"] = demand
        details["demand_match"] = _match(demand, event.value_sat, day, prices)
    return replace(event, details=details)


def _fiat(prices: PriceTable, sats: int, day: date) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for currency in ("EUR", "USD"):
        try:
            value, price = prices.value(sats, day, currency)
        except BtcwatchError as exc:
            out[currency] = {"value": None, "note": str(exc)}
            continue
        out[currency] = {
            "value": str(value),
            "price_per_btc": str(price.per_btc),
            "price_day": price.day_used.isoformat(),
            "source": price.source,
        }
    return out


def _match(demand: str, sats: int, day: date, prices: PriceTable | None) -> dict[str, Any]:
    try:
        result = match_payment(parse_demand(demand), sats, day, prices)
    except BtcwatchError as exc:
        return {"verdict": None, "note": str(exc)}
    return {
        "verdict": result.verdict.value,
        "expected_sat": result.expected_sat,
        "compared_to": str(result.compared_to),
        "ratio": str(result.ratio),
        "price_day": result.price.day_used.isoformat() if result.price else None,
    }
