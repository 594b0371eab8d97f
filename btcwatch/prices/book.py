"""A run's prices in memory: hourly or daily quotes fetched beforehand, then a fallback table.

Pure code (enrichment, demand matching, reports) asks prices synchronously; the network is
asked before, by `btcwatch.valuation`, which fills a `PriceBook` with what it found. A time
the book does not know falls back to the bundled daily table, and failing that raises an
`InputError` whose message says why (sources down, offline, table too old): the caller keeps
that note with a null value and values the payment on a later run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from btcwatch.errors import InputError
from btcwatch.prices import CENT, DAY, SATS_PER_BTC, Price, PriceLookup

HOUR_SECONDS = 3600
DAY_SECONDS = 86400


def hour_start(moment: datetime) -> int:
    """Unix time of the start of ``moment``'s UTC hour."""
    return _epoch(moment) // HOUR_SECONDS * HOUR_SECONDS


def day_start(moment: date | datetime) -> int:
    """Unix time of the start of the UTC day (of ``moment``, or the day itself)."""
    if isinstance(moment, datetime):
        return _epoch(moment) // DAY_SECONDS * DAY_SECONDS
    return int(datetime(moment.year, moment.month, moment.day, tzinfo=UTC).timestamp())


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(f"time {moment.isoformat()} has no time zone; give it in UTC")
    return int(moment.timestamp())


def key_times(when: date | datetime) -> tuple[int | None, int]:
    """(hour start or None for a bare day, day start): the keys a book is searched by."""
    if isinstance(when, datetime):
        return hour_start(when), day_start(when)
    return None, day_start(when)


class PriceBook:
    """Known prices by (currency, hour start) or (currency, day start), then ``fallback``.

    ``known`` holds hourly prices under their hour and daily ones under their day's start;
    an hourly price is preferred for a time, a daily one for a bare day. ``notes`` say why a
    currency had no network price (shown when the fallback cannot answer either).
    """

    __slots__ = ("_daily", "_hourly", "fallback", "notes")

    def __init__(
        self,
        known: Mapping[tuple[str, int], Price],
        fallback: PriceLookup | None = None,
        notes: Mapping[str, str] | None = None,
    ) -> None:
        self._hourly = {k: p for k, p in known.items() if p.resolution != DAY}
        self._daily = {k: p for k, p in known.items() if p.resolution == DAY}
        self.fallback = fallback
        self.notes = dict(notes or {})

    def price(self, day: date | datetime, currency: str) -> Price:
        currency = currency.upper()
        hour, start = key_times(day)
        if hour is not None and (currency, hour) in self._hourly:
            return self._hourly[(currency, hour)]
        if (currency, start) in self._daily:
            return self._daily[(currency, start)]
        if self.fallback is not None:
            try:
                return self.fallback.price(day, currency)
            except InputError as exc:
                raise InputError(self._why(currency, str(exc))) from None
        when = day.isoformat() if hour is None else f"{day.isoformat()}"
        raise InputError(self._why(currency, f"no {currency} price for {when}"))

    def value(self, sats: int, when: date | datetime, currency: str) -> tuple[Decimal, Price]:
        price = self.price(when, currency)
        amount = (Decimal(sats) * price.per_btc / SATS_PER_BTC).quantize(CENT, ROUND_HALF_EVEN)
        return amount, price

    def _why(self, currency: str, message: str) -> str:
        note = self.notes.get(currency) or self.notes.get("*")
        return f"{message}; {note}" if note else message
