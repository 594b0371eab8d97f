"""The bundled daily price table (btcwatch.prices) against rows of the real source CSVs."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from btcwatch.errors import InputError
from btcwatch.prices import Price, PriceTable
from btcwatch.resources import data_file

HERE = Path(__file__).parent / "data" / "prices"
YAHOO = HERE / "BTC-USD_yahoo_daily.excerpt.csv"
DERIVED = HERE / "BTC-EUR_daily_derived.excerpt.csv"


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load_default()


def test_default_table_is_loaded_once(table: PriceTable) -> None:
    assert PriceTable.load_default() is table
    assert table.currencies == ("EUR", "USD")


def test_usd_closes_match_the_yahoo_rows(table: PriceTable) -> None:
    source = rows(YAHOO)
    assert len(source) == 43
    for row in source:
        price = table.price(date.fromisoformat(row["Date"]), "USD")
        assert price.per_btc == Decimal(row["Close"]), row["Date"]
        assert price.day_used == date.fromisoformat(row["Date"])
        assert "Yahoo Finance" in price.source


def test_eur_closes_match_the_ecb_derived_rows(table: PriceTable) -> None:
    for row in rows(DERIVED):
        day = date.fromisoformat(row["Date"])
        price = table.price(day, "EUR")
        assert price.per_btc == Decimal(row["close_eur"]), row["Date"]
        # and the EUR close really is the USD close over that ECB rate (to 6 places)
        usd = table.price(day, "USD").per_btc
        rate = Decimal(row["eurusd_ecb"])
        assert abs(usd / rate - price.per_btc) <= Decimal("0.0000005")
        assert f"ECB reference rate {row['eurusd_ecb']}" in price.source
        assert row["ecb_rate_date"] in price.source


def test_a_known_day(table: PriceTable) -> None:
    # Vastaamo's extortion of patients began on 2020-10-24 (Yahoo close 13,108.0625 USD).
    assert table.price(date(2020, 10, 24), "usd") == Price(
        "USD",
        Decimal("13108.062500"),
        date(2020, 10, 24),
        "Yahoo Finance BTC-USD daily close (UTC day)",
    )
    weekend = table.price(date(2020, 10, 24), "EUR")
    assert weekend.source.endswith("of 2020-10-23")  # a Saturday uses Friday's ECB rate


def test_range_and_coverage(table: PriceTable) -> None:
    assert table.first_day("USD") == date(2012, 2, 24)
    assert table.last_day("EUR") == date(2024, 10, 27)
    assert table.covers(date(2017, 5, 12), "EUR")
    assert not table.covers(date(2024, 10, 28), "EUR")


@pytest.mark.parametrize("day", [date(2030, 1, 1), date(2012, 2, 23), date(2024, 10, 28)])
def test_out_of_range_is_an_input_error(table: PriceTable, day: date) -> None:
    with pytest.raises(InputError) as caught:
        table.price(day, "EUR")
    assert str(caught.value) == (
        f"no EUR price for {day.isoformat()} (table covers 2012-02-24..2024-10-27)"
    )


def test_unknown_currency(table: PriceTable) -> None:
    with pytest.raises(InputError, match=r"no GBP prices \(table has EUR, USD\)"):
        table.price(date(2020, 10, 24), "GBP")


def gapped_table(tmp_path: Path) -> PriceTable:
    """The real Yahoo rows of the excerpt, without 2020-10-24 and 2020-10-25."""
    out = tmp_path / "gapped.csv"
    lines = ["date,close_usd"]
    for row in rows(YAHOO):
        if row["Date"] not in ("2020-10-24", "2020-10-25"):
            lines.append(f"{row['Date']},{row['Close']}")
    out.write_text("\n".join(lines) + "\n")
    return PriceTable.from_csv(out)


def test_missing_day_uses_the_latest_earlier_day(tmp_path: Path) -> None:
    table = gapped_table(tmp_path)
    price = table.price(date(2020, 10, 25), "USD")
    assert price.day_used == date(2020, 10, 23)
    assert price.per_btc == Decimal("12931.539063")
    assert price.source == "gapped.csv"
    # a gap of years (2017-05-19 .. 2020-10-15 in the excerpt) still answers, and says so
    assert table.price(date(2019, 1, 1), "USD").day_used == date(2017, 5, 19)


def test_value_rounds_half_even_to_cents(table: PriceTable) -> None:
    amount, price = table.value(100_000_000, date(2020, 10, 24), "USD")
    assert amount == Decimal("13108.06")  # 13108.0625 -> .06 (half-even), not .07
    assert price.day_used == date(2020, 10, 24)
    eur, _ = table.value(1_808_963, date(2020, 10, 24), "EUR")
    assert eur == Decimal("200.00")
    assert table.value(1, date(2020, 10, 24), "USD")[0] == Decimal("0.00")


def test_value_takes_the_utc_day_of_a_datetime(table: PriceTable) -> None:
    late_evening_in_brazil = datetime(2020, 10, 24, 23, 30, tzinfo=timezone(timedelta(hours=-3)))
    _, price = table.value(100_000_000, late_evening_in_brazil, "USD")
    assert price.day_used == date(2020, 10, 25)
    _, utc_price = table.value(100_000_000, datetime(2020, 10, 24, 23, 59, tzinfo=UTC), "USD")
    assert utc_price.day_used == date(2020, 10, 24)


def test_value_refuses_naive_datetimes(table: PriceTable) -> None:
    with pytest.raises(InputError, match="no time zone"):
        table.value(1, datetime(2020, 10, 24, 12, 0), "USD")


def test_bundled_file_has_every_day() -> None:
    days = [r["date"] for r in rows(data_file("prices", "btc_daily.csv"))]
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    assert len(days) == (last - first).days + 1 == 4630


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("day,close_usd\n2020-01-01,1\n", "needs a date column"),
        ("date,price\n2020-01-01,1\n", "needs a date column"),
        ("date,close_usd\n2020-01-01,1\n2020-13-01,2\n", r"bad\.csv:3: not a date"),
        ("date,close_usd\n2020-01-01,abc\n", r"bad\.csv:2: not a price"),
        ("date,close_usd\n2020-01-01,-5\n", r"bad\.csv:2: price must be positive"),
        ("date,close_usd\n2020-01-01,1\n2020-01-01,2\n", "duplicate days"),
        ("date,close_usd\n", "no prices"),
    ],
)
def test_bad_csv(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        PriceTable.from_csv(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read price table"):
        PriceTable.from_csv(tmp_path / "nope.csv")
