"""Daily BTC prices in fiat, read once from a small CSV and looked up by bisection.

Why daily closes: a ransom note names a fiat amount for a day, and a report must say which
price turned it into satoshis. Each answer is a `Price` that names its day and its source,
so the figure can be checked later against the same public table.

The bundled table (``data/prices/btc_daily.csv``, see data/README.md) has the columns
``date,close_usd,close_eur,eurusd,ecb_day``. Any CSV with a ``date`` column and one or more
``close_<currency>`` columns can be loaded with `PriceTable.from_csv`.
"""

from __future__ import annotations

import csv
import functools
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Protocol

from btcwatch.errors import InputError
from btcwatch.resources import data_file
from btcwatch.timefmt import iso_utc

SATS_PER_BTC = 100_000_000
CENT = Decimal("0.01")
DEFAULT_FILE = ("prices", "btc_daily.csv")
DEFAULT_SOURCE = "Yahoo Finance BTC-USD daily close (UTC day)"
HOUR = "hour"
DAY = "day"


@dataclass(frozen=True, slots=True)
class Price:
    """The fiat price of one BTC, the day it belongs to, and where it comes from.

    ``day_used`` can be earlier than the day asked for when the table has a gap; callers show
    it so that nobody mistakes a stale price for that day's.
    """

    currency: str
    per_btc: Decimal
    day_used: date
    source: str
    resolution: str = DAY  # "hour" (an hourly price) or "day" (a daily close)
    time: datetime | None = None  # start of the hour for an hourly price

    @property
    def price_time(self) -> str:
        """When the price was quoted: ``2026-09-21T14:00:00Z`` (hour) or ``2026-09-21`` (day)."""
        if self.time is not None:
            return iso_utc(self.time)
        return self.day_used.isoformat()


class PriceLookup(Protocol):
    """What pure code needs to turn sats into fiat: the bundled table, or a `PriceBook`."""

    def price(self, day: date | datetime, currency: str) -> Price: ...

    def value(self, sats: int, when: date | datetime, currency: str) -> tuple[Decimal, Price]: ...


@dataclass(frozen=True, slots=True)
class _Series:
    """One currency's closes, sorted by day (ordinals for bisect)."""

    ordinals: tuple[int, ...]
    closes: tuple[Decimal, ...]
    notes: tuple[str, ...]


class PriceTable:
    """Immutable daily closing prices for one or more fiat currencies."""

    __slots__ = ("_series", "source")

    def __init__(self, rows: Mapping[str, Iterable[tuple[date, Decimal, str]]], source: str):
        """``rows`` maps a currency code to (day, close per BTC, note) rows in any order."""
        series: dict[str, _Series] = {}
        for currency, items in rows.items():
            ordered = sorted(items, key=lambda r: r[0])
            if not ordered:
                continue
            days = [r[0].toordinal() for r in ordered]
            if len(set(days)) != len(days):
                raise InputError(f"price table {source}: duplicate days for {currency}")
            series[currency.upper()] = _Series(
                tuple(days), tuple(r[1] for r in ordered), tuple(r[2] for r in ordered)
            )
        if not series:
            raise InputError(f"price table {source}: no prices")
        self._series = series
        self.source = source

    @classmethod
    def from_csv(cls, path: Path | str, source: str | None = None) -> PriceTable:
        """Read ``date,close_<cur>...``; an ``eurusd``/``ecb_day`` pair is kept as a note."""
        path = Path(path)
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                return cls._from_lines(handle, path.name, source or path.name)
        except OSError as exc:
            raise InputError(f"cannot read price table {path}: {exc.strerror}") from exc

    @classmethod
    def _from_lines(cls, lines: Iterable[str], name: str, source: str) -> PriceTable:
        reader = csv.DictReader(lines)
        fields = reader.fieldnames or []
        closes = [f for f in fields if f.startswith("close_")]
        if "date" not in fields or not closes:
            raise InputError(f"{name}:1: price table needs a date column and close_<currency>")
        rows: dict[str, list[tuple[date, Decimal, str]]] = {
            f.removeprefix("close_").upper(): [] for f in closes
        }
        for record in reader:
            line = reader.line_num
            day = _read_day(record["date"], name, line)
            for field in closes:
                cell = (record.get(field) or "").strip()
                if not cell:
                    continue
                currency = field.removeprefix("close_").upper()
                rows[currency].append((day, _read_price(cell, name, line), _note(currency, record)))
        return cls(rows, source)

    @classmethod
    def load_default(cls) -> PriceTable:
        """The bundled table, parsed once per process (it is immutable)."""
        return _default_table()

    @property
    def currencies(self) -> tuple[str, ...]:
        return tuple(sorted(self._series))

    def first_day(self, currency: str) -> date:
        return date.fromordinal(self._get(currency).ordinals[0])

    def last_day(self, currency: str) -> date:
        return date.fromordinal(self._get(currency).ordinals[-1])

    def covers(self, day: date, currency: str) -> bool:
        """True when `price` would answer for this day."""
        series = self._get(currency)
        return series.ordinals[0] <= day.toordinal() <= series.ordinals[-1]

    def price(self, day: date | datetime, currency: str) -> Price:
        """The close of ``day``, or of the latest earlier day in the table (see ``day_used``)."""
        currency = currency.upper()
        series = self._get(currency)
        if isinstance(day, datetime):
            day = _utc_day(day)
        ordinal = day.toordinal()
        if not series.ordinals[0] <= ordinal <= series.ordinals[-1]:
            first = date.fromordinal(series.ordinals[0])
            last = date.fromordinal(series.ordinals[-1])
            raise InputError(
                f"no {currency} price for {day.isoformat()} "
                f"(table covers {first.isoformat()}..{last.isoformat()})"
            )
        index = bisect_right(series.ordinals, ordinal) - 1
        note = series.notes[index]
        source = f"{self.source}; {note}" if note else self.source
        return Price(
            currency, series.closes[index], date.fromordinal(series.ordinals[index]), source
        )

    def value(self, sats: int, when: date | datetime, currency: str) -> tuple[Decimal, Price]:
        """``sats`` in fiat at the close of ``when``'s UTC day, rounded half-even to cents."""
        day = _utc_day(when) if isinstance(when, datetime) else when
        price = self.price(day, currency)
        amount = (Decimal(sats) * price.per_btc / SATS_PER_BTC).quantize(CENT, ROUND_HALF_EVEN)
        return amount, price

    def _get(self, currency: str) -> _Series:
        try:
            return self._series[currency.upper()]
        except KeyError:
            have = ", ".join(self.currencies)
            raise InputError(f"no {currency.upper()} prices (table has {have})") from None


@functools.cache
def _default_table() -> PriceTable:
    return PriceTable.from_csv(data_file(*DEFAULT_FILE), DEFAULT_SOURCE)


def _utc_day(moment: datetime) -> date:
    """The UTC calendar day of an aware datetime; naive times are refused, not guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(f"time {moment.isoformat()} has no time zone; give it in UTC")
    return moment.astimezone(UTC).date()


def _note(currency: str, record: Mapping[str, str | None]) -> str:
    """Say which ECB rate made a EUR close, when the table records it."""
    rate, rate_day = record.get("eurusd"), record.get("ecb_day")
    if currency == "EUR" and rate and rate_day:
        return f"EUR via ECB reference rate {rate} USD/EUR of {rate_day}"
    return ""


def _read_day(text: str | None, name: str, line: int) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise InputError(f"{name}:{line}: not a date (YYYY-MM-DD): {text!r}") from None


def _read_price(text: str, name: str, line: int) -> Decimal:
    try:
        price = Decimal(text)
    except InvalidOperation:
        raise InputError(f"{name}:{line}: not a price: {text!r}") from None
    if not price.is_finite() or price <= 0:
        raise InputError(f"{name}:{line}: price must be positive: {text!r}")
    return price
