"""Coinbase Exchange candles, parsed only: ``/products/BTC-EUR/candles?granularity=3600``.

Rows are ``[time, low, high, open, close, volume]``, newest first, at most 300 per answer. Not
a default source (no request is made); the parser lets an investigator's recorded answer be
read with the same rules as the other sources, and the contract tests compare it with Kraken.
"""

from __future__ import annotations

from btcwatch.errors import BadResponse
from btcwatch.providers.prices.base import (
    DAY,
    DAY_SECONDS,
    HOUR,
    HOUR_SECONDS,
    Quote,
    decimal_price,
    unix_time,
)

NAME = "coinbase"


def parse_candles(
    obj: object, currency: str, granularity: int, *, provider: str = NAME
) -> list[Quote]:
    """Candles as quotes (close price), oldest first; granularity 3600 or 86400."""
    if granularity not in (HOUR_SECONDS, DAY_SECONDS):
        raise BadResponse(
            f"candles: granularity {granularity} is not an hour or a day", provider=provider
        )
    if isinstance(obj, dict) and "message" in obj:
        raise BadResponse(f"candles: {obj['message']}", provider=provider)
    if not isinstance(obj, list):
        raise BadResponse(f"candles: expected a list, got {obj!r:.80}", provider=provider)
    resolution = HOUR if granularity == HOUR_SECONDS else DAY
    out = []
    for row in obj:
        if not isinstance(row, list) or len(row) < 6:
            raise BadResponse(f"candles: bad row {row!r:.80}", provider=provider)
        time = unix_time(row[0], provider=provider, what="candle time")
        price = decimal_price(row[4], provider=provider, what="close")
        if price is not None:
            out.append(Quote(currency.upper(), time, resolution, price, provider))
    return sorted(out, key=lambda q: q.time)
