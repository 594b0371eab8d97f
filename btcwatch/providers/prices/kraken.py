"""Kraken public OHLC: hourly candles for the last 30 days, daily ones for about two years.

``GET /0/public/OHLC?pair=XXBTZEUR&interval=60&since=T`` answers ``{"error": [], "result":
{"XXBTZEUR": [[time, open, high, low, close, vwap, volume, count], ...], "last": id}}`` with at
most 720 rows, whatever ``since`` asks; the last row is the candle still open (its time is after
``last``) and is not a price yet. A candle's price is its volume-weighted average (the price
paid during that hour or day); a candle without trades (vwap 0) has its close.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from btcwatch.errors import BadResponse, RateLimited
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

NAME = "kraken"
BASE_URL = "https://api.kraken.com"
PAIRS = {"EUR": "XXBTZEUR", "USD": "XXBTZUSD"}
MAX_ROWS = 720


def parse_ohlc(obj: object, currency: str, resolution: str, *, provider: str = NAME) -> list[Quote]:
    """The committed candles of an OHLC answer as quotes (the open candle is left out)."""
    if not isinstance(obj, dict):
        raise BadResponse(f"OHLC: expected an object, got {obj!r:.80}", provider=provider)
    errors = obj.get("error") or []
    if errors:
        text = "; ".join(str(e) for e in errors)
        if "Too many requests" in text or "Rate limit" in text:
            raise RateLimited(f"OHLC: {text}", provider=provider)
        raise BadResponse(f"OHLC: {text}", provider=provider)
    result = obj.get("result")
    if not isinstance(result, dict):
        raise BadResponse("OHLC: no result", provider=provider)
    rows_by_pair = {k: v for k, v in result.items() if k != "last"}
    if len(rows_by_pair) != 1:
        raise BadResponse(f"OHLC: expected one pair, got {sorted(rows_by_pair)}", provider=provider)
    rows = next(iter(rows_by_pair.values()))
    if not isinstance(rows, list):
        raise BadResponse("OHLC: rows are not a list", provider=provider)
    last = unix_time(result.get("last"), provider=provider, what="last")
    step = HOUR_SECONDS if resolution == HOUR else DAY_SECONDS
    out: list[Quote] = []
    for row in rows:
        if not isinstance(row, list) or len(row) < 8:
            raise BadResponse(f"OHLC: bad row {row!r:.80}", provider=provider)
        time = unix_time(row[0], provider=provider, what="candle time")
        if time > last or time % step:
            continue  # still open (or not on the interval grid)
        vwap = decimal_price(row[5], provider=provider, what="vwap")
        price = vwap or decimal_price(row[4], provider=provider, what="close")
        if price is not None:
            out.append(Quote(currency.upper(), time, resolution, price, provider))
    return out


class KrakenPriceSource(PriceSource):
    """Hourly candles when the time is within Kraken's last 720 hours, else daily ones."""

    name = NAME

    async def quotes(self, moment: datetime, currencies: Sequence[str]) -> list[Quote]:
        timestamp = int(moment.timestamp())
        hour = timestamp // HOUR_SECONDS * HOUR_SECONDS
        day = timestamp // DAY_SECONDS * DAY_SECONDS
        out: list[Quote] = []
        for currency in currencies:
            pair = PAIRS.get(currency.upper())
            if pair is None:
                continue
            hourly = await self._ohlc(pair, currency, 60, hour - HOUR_SECONDS)
            if any(q.time == hour for q in hourly):
                out.extend(hourly)
                continue
            daily = await self._ohlc(pair, currency, 1440, day - DAY_SECONDS)
            out.extend(q for q in daily if q.time == day)
        return out

    async def _ohlc(self, pair: str, currency: str, interval: int, since: int) -> list[Quote]:
        params = {"pair": pair, "interval": str(interval), "since": str(since)}
        body: Any = await self.http.get_json("/0/public/OHLC", params)
        evidence: Evidence | None = self.http.last_evidence
        resolution = HOUR if interval == 60 else DAY
        return [
            Quote(q.currency, q.time, q.resolution, q.per_btc, self.name, evidence)
            for q in parse_ohlc(body, currency, resolution, provider=self.name)
        ]
