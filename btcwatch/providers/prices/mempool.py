"""mempool.space-compatible price API: ``/v1/historical-price`` and ``/v1/prices``.

``GET /v1/historical-price?currency=EUR&timestamp=T`` answers the latest price at or before T
as ``{"prices": [{"time": t, "USD": .., "EUR": .., ...}], "exchangeRates": {...}}``; mempool
stores hourly prices for recent years and daily ones before, and answers 0 before its data
starts. A price whose ``time`` is in T's hour is hourly; one at the start of a UTC day (its old
data is daily) is that day's price, cached as such (it prices T only if T is on that day);
anything older is not a price.
``GET /v1/prices`` answers ``{"time": t, "USD": .., "EUR": .., ...}`` (now).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from btcwatch.errors import BadResponse
from btcwatch.model import Evidence
from btcwatch.providers.prices.base import (
    DAY,
    DAY_SECONDS,
    HOUR,
    HOUR_SECONDS,
    PriceSource,
    Quote,
    decimal_price,
    unix_time,
)
from btcwatch.timefmt import utc_now

NAME = "mempool.space"
_NOT_CURRENCIES = {"time"}


def _row_quotes(row: Mapping[str, Any], resolution: str, start: int, provider: str) -> list[Quote]:
    out = []
    for key, value in row.items():
        if key in _NOT_CURRENCIES or not key.isalpha() or len(key) != 3:
            continue
        price = decimal_price(value, provider=provider, what=f"price {key}")
        if price is not None:
            out.append(Quote(key.upper(), start, resolution, price, provider))
    return out


def parse_historical_price(obj: object, timestamp: int, *, provider: str = NAME) -> list[Quote]:
    """Quotes for ``timestamp``'s hour (or day) from a historical-price answer; [] if none."""
    if not isinstance(obj, dict) or not isinstance(obj.get("prices"), list):
        raise BadResponse(
            f"historical-price: expected {{prices: [...]}}, got {obj!r:.80}", provider=provider
        )
    rows = [r for r in obj["prices"] if isinstance(r, dict)]
    if len(rows) != len(obj["prices"]):
        raise BadResponse("historical-price: a price entry is not an object", provider=provider)
    if not rows:
        return []
    latest = max(rows, key=lambda r: unix_time(r.get("time"), provider=provider, what="time"))
    time = unix_time(latest.get("time"), provider=provider, what="time")
    if time > timestamp:
        raise BadResponse(
            f"historical-price: price of {time} is after {timestamp}", provider=provider
        )
    hour = timestamp // HOUR_SECONDS * HOUR_SECONDS
    if time >= hour:
        return _row_quotes(latest, HOUR, hour, provider)
    if time % DAY_SECONDS == 0 and timestamp - time < 2 * DAY_SECONDS:
        return _row_quotes(latest, DAY, time, provider)  # a daily price, of its own day
    return []


def parse_current_prices(obj: object, *, provider: str = NAME) -> list[Quote]:
    """The ``/v1/prices`` answer as hourly quotes for the hour of its ``time``."""
    if not isinstance(obj, dict):
        raise BadResponse(f"prices: expected an object, got {obj!r:.80}", provider=provider)
    time = unix_time(obj.get("time"), provider=provider, what="time")
    return _row_quotes(obj, HOUR, time // HOUR_SECONDS * HOUR_SECONDS, provider)


class MempoolPriceSource(PriceSource):
    """mempool.space, or any self-hosted mempool with the same ``/api`` base URL."""

    def __init__(
        self, http: Any, name: str = NAME, clock: Callable[[], datetime] = utc_now
    ) -> None:
        super().__init__(http)
        self.name = name
        self._clock = clock

    async def quotes(self, moment: datetime, currencies: Sequence[str]) -> list[Quote]:
        timestamp = int(moment.timestamp())
        wanted = {c.upper() for c in currencies}
        if timestamp >= int(self._clock().timestamp()) // HOUR_SECONDS * HOUR_SECONDS:
            now = await self.current(currencies)  # this hour: the latest price (/v1/prices)
            if now and all(q.time == timestamp // HOUR_SECONDS * HOUR_SECONDS for q in now):
                return now
        currency = "EUR" if "EUR" in wanted or not wanted else sorted(wanted)[0]
        body = await self.http.get_json(
            "/v1/historical-price", {"currency": currency, "timestamp": str(timestamp)}
        )
        evidence: Evidence | None = self.http.last_evidence
        found = parse_historical_price(body, timestamp, provider=self.name)
        return [
            Quote(q.currency, q.time, q.resolution, q.per_btc, self.name, evidence)
            for q in found
            if q.currency in wanted
        ]

    async def current(self, currencies: Sequence[str]) -> list[Quote]:
        """The latest price (``/v1/prices``), for the hour it was quoted."""
        body = await self.http.get_json("/v1/prices")
        evidence = self.http.last_evidence
        wanted = {c.upper() for c in currencies}
        return [
            Quote(q.currency, q.time, q.resolution, q.per_btc, self.name, evidence)
            for q in parse_current_prices(body, provider=self.name)
            if q.currency in wanted
        ]
