"""PriceBook (hour, then day, then the table, else a note) and the bundled ECB rates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from btcwatch.errors import InputError
from btcwatch.money import Verdict, match_payment, parse_demand
from btcwatch.prices import Price, PriceTable
from btcwatch.prices.book import PriceBook, day_start, hour_start
from btcwatch.prices.ecb import EcbRates

T = datetime(2026, 9, 21, 14, 23, tzinfo=UTC)
HOUR = hour_start(T)


def hourly(value: str, currency: str = "EUR") -> Price:
    moment = datetime.fromtimestamp(HOUR, UTC)
    return Price(currency, Decimal(value), moment.date(), "src hourly price", "hour", moment)


def test_hour_then_day_then_fallback() -> None:
    daily = Price("EUR", Decimal(49000), T.date(), "src daily price")
    book = PriceBook({("EUR", HOUR): hourly("50000"), ("EUR", day_start(T)): daily})
    assert book.price(T, "eur").per_btc == Decimal(50000)
    assert book.price(T.replace(hour=20), "EUR").per_btc == Decimal(49000)  # another hour
    assert book.price(T.date(), "EUR").per_btc == Decimal(49000)  # a bare day
    value, price = book.value(100_000, T, "EUR")
    assert (value, price.price_time, price.resolution) == (
        Decimal("50.00"),
        "2026-09-21T14:00:00Z",
        "hour",
    )
    old = PriceBook({}, PriceTable.load_default())
    assert old.price(datetime(2020, 10, 24, 9, tzinfo=UTC), "EUR").day_used == date(2020, 10, 24)


def test_no_price_says_why() -> None:
    book = PriceBook({}, PriceTable.load_default(), {"*": "mempool.space: rate limited"})
    with pytest.raises(InputError, match=r"table covers .*; mempool.space: rate limited"):
        book.price(T, "EUR")
    with pytest.raises(InputError, match="no EUR price for 2026-09-21T14:23"):
        PriceBook({}).price(T, "EUR")
    with pytest.raises(InputError, match="no time zone"):
        PriceBook({}).price(datetime(2026, 9, 21, 14), "EUR")


def test_demand_matching_at_an_hourly_price_in_2026() -> None:
    book = PriceBook({("EUR", HOUR): hourly("50000")})
    demand = parse_demand("200EUR then 500EUR after 24h")
    exact = match_payment(demand, 400_000, T, book)  # 200 EUR at 50,000 EUR/BTC
    assert exact.verdict is Verdict.EXACT and exact.price is not None
    assert exact.price.resolution == "hour"
    late = match_payment(demand, 1_000_000, T, book, sent_at_hours_after_demand=30)
    assert late.verdict is Verdict.LATE
    assert match_payment(demand, 200_000, T, book).verdict is Verdict.PARTIAL


def test_ecb_rates_to_2026_10_30() -> None:
    ecb = EcbRates.load_default()
    assert ecb.rate(date(2026, 10, 30), "USD") == (Decimal("1.1172"), date(2026, 10, 30))
    assert ecb.rate(date(2026, 11, 1), "USD")[1] == date(2026, 10, 30)  # a Sunday: Friday's
    with pytest.raises(InputError, match="no ECB USD rate for 2026-12-07"):
        ecb.rate(date(2026, 12, 7), "USD")
    with pytest.raises(InputError, match="no ECB rate for XYZ"):
        ecb.rate(date(2026, 10, 30), "XYZ")
    usd = ecb.convert(hourly("50000"), "USD")
    day_rate = ecb.rate(T.date(), "USD")[0]
    assert usd.per_btc == (Decimal(50000) * day_rate).quantize(Decimal("0.000001"))
    assert usd.resolution == "hour" and "ECB euro reference rate of 2026-09-21" in usd.source
