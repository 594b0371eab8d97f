"""ECB euro reference rates: other fiat currencies from a EUR price, and EUR/USD.

The ECB publishes one rate a working day (units of a currency per EUR, around 16:00 CET);
a weekend or holiday uses the latest earlier working day, and the price says which day.
The bundled file (``data/prices/ecb_rates.csv``, built by scripts/build_data.py from the
ECB history to 2026-10-30) has the columns ``date,usd,gbp,...``.
"""

from __future__ import annotations

import csv
import functools
from bisect import bisect_right
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from btcwatch.errors import InputError
from btcwatch.prices import Price
from btcwatch.resources import data_file

ECB_FILE = ("prices", "ecb_rates.csv")
ECB_SOURCE = "ECB euro reference rate"
_PLACES = Decimal("0.000001")


class EcbRates:
    """Units of each currency per EUR, by ECB working day."""

    __slots__ = ("_days", "_rates")

    def __init__(self, rows: dict[str, list[tuple[date, Decimal]]]) -> None:
        self._days = {c: [d.toordinal() for d, _ in r] for c, r in rows.items()}
        self._rates = {c: [v for _, v in r] for c, r in rows.items()}

    @classmethod
    def from_csv(cls, path: Path) -> EcbRates:
        rows: dict[str, list[tuple[date, Decimal]]] = {}
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            currencies = [f for f in reader.fieldnames or [] if f != "date"]
            for c in currencies:
                rows[c.upper()] = []
            for record in reader:
                day = date.fromisoformat(record["date"])
                for c in currencies:
                    if record[c]:
                        rows[c.upper()].append((day, Decimal(record[c])))
        return cls(rows)

    @classmethod
    def load_default(cls) -> EcbRates:
        return _default()

    @property
    def currencies(self) -> tuple[str, ...]:
        return ("EUR", *sorted(self._rates))

    def rate(self, day: date, currency: str) -> tuple[Decimal, date]:
        """Units of ``currency`` per EUR on ``day`` (or the latest earlier ECB day)."""
        currency = currency.upper()
        if currency == "EUR":
            return Decimal(1), day
        if currency not in self._rates:
            raise InputError(f"no ECB rate for {currency} (known: {', '.join(self.currencies)})")
        days = self._days[currency]
        index = bisect_right(days, day.toordinal()) - 1
        if index < 0 or day.toordinal() - days[-1] > 7:
            first, last = date.fromordinal(days[0]), date.fromordinal(days[-1])
            raise InputError(
                f"no ECB {currency} rate for {day.isoformat()} (bundled {first}..{last})"
            )
        return self._rates[currency][index], date.fromordinal(days[index])

    def convert(self, price: Price, currency: str) -> Price:
        """``price`` (in EUR or USD) expressed in ``currency`` at that day's ECB rate."""
        currency = currency.upper()
        if currency == price.currency:
            return price
        day = price.time.date() if isinstance(price.time, datetime) else price.day_used
        to_rate, to_day = self.rate(day, currency)
        from_rate, _ = self.rate(day, price.currency)
        per_btc = (price.per_btc * to_rate / from_rate).quantize(_PLACES)
        note = f"{price.currency}->{currency} via {ECB_SOURCE} of {to_day.isoformat()}"
        return replace(price, currency=currency, per_btc=per_btc, source=f"{price.source}; {note}")


@functools.cache
def _default() -> EcbRates:
    return EcbRates.from_csv(data_file(*ECB_FILE))
