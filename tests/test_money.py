"""Amounts, demands and payment matching (btcwatch.money)."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from btcwatch.errors import AmountError, InputError
from btcwatch.money import (
    MAX_SATS,
    Amount,
    Demand,
    Verdict,
    btc,
    btc_to_sats,
    format_btc,
    match_payment,
    parse_amount,
    parse_demand,
    sats_to_btc,
)
from btcwatch.prices import PriceTable

DERIVED = Path(__file__).parent / "data" / "prices" / "BTC-EUR_daily_derived.excerpt.csv"
VASTAAMO_DAY = date(2020, 10, 24)


def eur_close(day: date) -> Fraction:
    """The real EUR close of a day, read straight from the source excerpt."""
    with DERIVED.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Date"] == day.isoformat():
                return Fraction(row["close_eur"])
    raise AssertionError(f"{day} not in the excerpt")


def eur_in_sats(euros: int, day: date) -> int:
    """Independent of btcwatch: exact rational arithmetic, rounded half-even by round()."""
    return round(Fraction(euros * 100_000_000) / eur_close(day))


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load_default()


# --- sats <-> BTC -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sats", "text"),
    [
        (0, "0.00000000"),
        (1, "0.00000001"),
        (123_400, "0.00123400"),
        (100_000_000, "1.00000000"),
        (2_100_000_000_000_000, "21000000.00000000"),
        (-5, "-0.00000005"),
        (-150_000_000, "-1.50000000"),
    ],
)
def test_format_btc(sats: int, text: str) -> None:
    assert format_btc(sats) == text
    assert btc_to_sats(text) == sats
    assert sats_to_btc(sats) == Decimal(text)


@pytest.mark.parametrize(
    ("sats", "full", "short"),
    [
        (0, "0.00000000 BTC", "0 BTC"),
        (1, "0.00000001 BTC", "0.00000001 BTC"),
        (10_000_000, "0.10000000 BTC", "0.1 BTC"),
        (100_000_000, "1.00000000 BTC", "1 BTC"),
        (10_000_000_000, "100.00000000 BTC", "100 BTC"),
        (-150_000_000, "-1.50000000 BTC", "-1.5 BTC"),
    ],
)
def test_btc_is_the_amount_as_people_read_it(sats: int, full: str, short: str) -> None:
    assert btc(sats) == full == f"{format_btc(sats)} BTC"
    assert btc(sats, trim=True) == short


def test_format_btc_refuses_floats_and_bools() -> None:
    with pytest.raises(TypeError):
        format_btc(0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_btc(True)


def test_sats_to_btc_keeps_eight_places() -> None:
    assert str(sats_to_btc(123_400)) == "0.00123400"


@pytest.mark.parametrize(
    ("value", "sats"),
    [
        (Decimal("1e-8"), 1),
        (Decimal("0.1"), 10_000_000),
        (Decimal("0.000000010"), 1),  # a trailing zero is still a whole satoshi
        ("0.05", 5_000_000),
        ("21000000", MAX_SATS),
    ],
)
def test_btc_to_sats_exact(value: Decimal | str, sats: int) -> None:
    assert btc_to_sats(value) == sats


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0.000000001", "more than 8 decimals"),
        (Decimal("0.123456789"), "more than 8 decimals"),
        ("1e5", "not a BTC amount"),
        ("0,05", "not a BTC amount"),
        ("abc", "not a BTC amount"),
        (Decimal("NaN"), "not a BTC amount"),
        ("21000000.00000001", "21 million"),
    ],
)
def test_btc_to_sats_refuses(value: Decimal | str, message: str) -> None:
    with pytest.raises(AmountError, match=message):
        btc_to_sats(value)


@given(st.integers(min_value=-MAX_SATS, max_value=MAX_SATS))
def test_sats_btc_string_round_trip(sats: int) -> None:
    text = format_btc(sats)
    assert btc_to_sats(text) == sats
    assert btc_to_sats(sats_to_btc(sats)) == sats
    assert len(text.split(".")[1]) == 8


@given(st.integers(min_value=1, max_value=MAX_SATS))
def test_amount_text_round_trip(sats: int) -> None:
    amount = Amount(sats_to_btc(sats), "BTC")
    assert parse_amount(format_btc(sats) + " BTC").to_sats() == sats
    assert parse_amount(str(amount)) == amount
    assert parse_amount(f"{sats} sats").to_sats() == sats


# --- parse_amount -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("200EUR", "200", "EUR"),
        ("200 EUR", "200", "EUR"),
        ("200 eur", "200", "EUR"),
        ("€200", "200", "EUR"),
        ("200 €", "200", "EUR"),
        ("200 euros", "200", "EUR"),
        ("EUR 200", "200", "EUR"),
        ("0.05BTC", "0.05", "BTC"),
        ("0.05 btc", "0.05", "BTC"),
        ("₿0.05", "0.05", "BTC"),
        ("0.05 XBT", "0.05", "BTC"),
        ("150000sat", "150000", "SAT"),
        ("150000 sats", "150000", "SAT"),
        ("150000 satoshis", "150000", "SAT"),
        ("$300", "300", "USD"),
        ("300USD", "300", "USD"),
        ("300 dollars", "300", "USD"),
        ("1,000.50 EUR", "1000.50", "EUR"),
        ("1.000,50 EUR", "1000.50", "EUR"),
        ("1,000,000 sat", "1000000", "SAT"),
        ("1.000.000 sat", "1000000", "SAT"),
        ("0,05 BTC", "0.05", "BTC"),
        ("1,5 BTC", "1.5", "BTC"),
        ("0,005 BTC", "0.005", "BTC"),
        ("1234.567 BTC", "1234.567", "BTC"),
        ("0.12345678 BTC", "0.12345678", "BTC"),
        ("  200   EUR ", "200", "EUR"),
        ("+200 EUR", "200", "EUR"),
        ("150000.0 sat", "150000", "SAT"),
    ],
)
def test_parse_amount_accepts(text: str, value: str, unit: str) -> None:
    amount = parse_amount(text)
    assert amount == Amount(Decimal(value), unit)
    assert parse_amount(str(amount)) == amount


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty amount"),
        ("200", "no unit"),
        ("200 GBP", "unknown unit 'GBP'"),
        ("-200 EUR", "must be positive"),
        ("0 EUR", "more than zero"),
        ("0.00 BTC", "more than zero"),
        ("lots of money", "not an amount"),
        ("€200 EUR", "two units"),
        ("1,000 EUR", "ambiguous"),
        ("2.500 BTC", "ambiguous"),
        ("1,00,000 EUR", "cannot read"),
        ("1.000.5 EUR", "cannot read"),
        ("1,000.000,5 EUR", "cannot read"),
        ("0.123456789 BTC", "at most 8 decimals"),
        ("200.5 sat", "whole numbers"),
        ("200.555 EUR", "ambiguous"),
        ("200.5555 EUR", "at most 2 decimals"),
        ("22000000 BTC", "21 million"),
        ("200 EUR 300", "not an amount"),
    ],
)
def test_parse_amount_refuses(text: str, message: str) -> None:
    with pytest.raises(AmountError, match=message):
        parse_amount(text)


def test_ambiguous_message_offers_both_readings() -> None:
    with pytest.raises(AmountError) as caught:
        parse_amount("2.500 BTC")
    assert "write 2500 or 2.5" in str(caught.value)


def test_amount_errors_are_input_errors() -> None:
    with pytest.raises(InputError):
        parse_amount("nonsense")


def test_amount_validates_on_construction() -> None:
    with pytest.raises(AmountError, match="unknown unit"):
        Amount(Decimal(1), "GBP")
    with pytest.raises(AmountError, match="more than 8 decimals"):
        Amount(Decimal("0.000000001"), "BTC")
    with pytest.raises(AmountError, match="more than zero"):
        Amount(Decimal(-1), "EUR")


# --- to_sats ------------------------------------------------------------------------------


def test_to_sats_exact_for_btc_and_sat() -> None:
    assert parse_amount("0.05 BTC").to_sats() == 5_000_000
    assert parse_amount("150000 sat").to_sats() == 150_000


def test_fiat_to_sats_uses_that_days_close(table: PriceTable) -> None:
    amount = parse_amount("200 EUR")
    sats, price = amount.quote(table, VASTAAMO_DAY)
    assert sats == eur_in_sats(200, VASTAAMO_DAY) == 1_808_963
    assert price is not None
    assert price.day_used == VASTAAMO_DAY
    assert price.per_btc == Decimal("11056.058114")
    assert amount.to_sats(table, VASTAAMO_DAY) == sats


def test_fiat_to_sats_needs_a_table() -> None:
    with pytest.raises(AmountError, match="needs a price table"):
        parse_amount("200 EUR").to_sats()


def test_fiat_out_of_table_range(table: PriceTable) -> None:
    with pytest.raises(InputError, match="no EUR price for 2030-01-01"):
        parse_amount("200 EUR").to_sats(table, date(2030, 1, 1))


# --- demands ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("200EUR", Demand(Amount(Decimal(200), "EUR"))),
        ("200 EUR within 24h", Demand(Amount(Decimal(200), "EUR"), None, 24)),
        (
            "200EUR then 500EUR after 24h",
            Demand(Amount(Decimal(200), "EUR"), Amount(Decimal(500), "EUR"), 24),
        ),
        (
            "200 EUR within 24 hours then 500 EUR",
            Demand(Amount(Decimal(200), "EUR"), Amount(Decimal(500), "EUR"), 24),
        ),
        (
            "0.05 BTC; 0.1 BTC after 2 days",
            Demand(Amount(Decimal("0.05"), "BTC"), Amount(Decimal("0.1"), "BTC"), 48),
        ),
        (
            "€200 -> €500 after 24 h",
            Demand(Amount(Decimal(200), "EUR"), Amount(Decimal(500), "EUR"), 24),
        ),
        (
            "200 EUR THEN 500 EUR AFTER 24H",
            Demand(Amount(Decimal(200), "EUR"), Amount(Decimal(500), "EUR"), 24),
        ),
    ],
)
def test_parse_demand(text: str, expected: Demand) -> None:
    demand = parse_demand(text)
    assert demand == expected
    assert parse_demand(str(demand)) == demand


def test_demand_text_form() -> None:
    assert str(parse_demand("200EUR then 500EUR after 24h")) == "200 EUR then 500 EUR after 24h"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty demand"),
        ("200 EUR then 500 EUR", "needs a deadline"),
        ("200 EUR within 24h then 500 EUR after 48h", "two different deadlines"),
        ("200 EUR within soon", "cannot read the duration"),
        ("200 EUR within 0h", "at least 1 hour"),
        ("200 EUR then lots", "not an amount"),
    ],
)
def test_parse_demand_refuses(text: str, message: str) -> None:
    with pytest.raises(AmountError, match=message):
        parse_demand(text)


# --- match_payment (Vastaamo-like numbers) ------------------------------------------------

VASTAAMO = parse_demand("200 EUR then 500 EUR after 24h")


def test_payment_within_tolerance_is_exact(table: PriceTable) -> None:
    n = eur_in_sats(200, VASTAAMO_DAY)
    result = match_payment(VASTAAMO, int(n * 0.95), VASTAAMO_DAY, table)
    assert result.verdict is Verdict.EXACT
    assert result.expected_sat == n
    assert result.compared_to == Amount(Decimal(200), "EUR")
    assert result.price is not None and result.price.day_used == VASTAAMO_DAY
    assert result.ratio == Decimal("0.9500")


def test_half_payment_is_partial(table: PriceTable) -> None:
    n = eur_in_sats(200, VASTAAMO_DAY)
    assert match_payment(VASTAAMO, n // 2, VASTAAMO_DAY, table).verdict is Verdict.PARTIAL


def test_late_amount_is_late(table: PriceTable) -> None:
    late = eur_in_sats(500, VASTAAMO_DAY)
    unknown_time = match_payment(VASTAAMO, late, VASTAAMO_DAY, table)
    assert unknown_time.verdict is Verdict.LATE
    assert unknown_time.expected_sat == late
    after = match_payment(VASTAAMO, late, VASTAAMO_DAY, table, sent_at_hours_after_demand=30)
    assert after.verdict is Verdict.LATE


def test_late_amount_paid_on_time_is_over(table: PriceTable) -> None:
    late = eur_in_sats(500, VASTAAMO_DAY)
    result = match_payment(VASTAAMO, late, VASTAAMO_DAY, table, sent_at_hours_after_demand=10)
    assert result.verdict is Verdict.OVER
    assert result.expected_sat == eur_in_sats(200, VASTAAMO_DAY)


def test_first_amount_after_deadline_is_partial(table: PriceTable) -> None:
    n = eur_in_sats(200, VASTAAMO_DAY)
    result = match_payment(VASTAAMO, n, VASTAAMO_DAY, table, sent_at_hours_after_demand=25)
    assert result.verdict is Verdict.PARTIAL
    assert result.compared_to == Amount(Decimal(500), "EUR")


def test_deadline_hour_itself_is_on_time(table: PriceTable) -> None:
    n = eur_in_sats(200, VASTAAMO_DAY)
    result = match_payment(VASTAAMO, n, VASTAAMO_DAY, table, sent_at_hours_after_demand=24)
    assert result.verdict is Verdict.EXACT


def test_more_than_tolerance_is_over(table: PriceTable) -> None:
    n = eur_in_sats(200, VASTAAMO_DAY)
    assert match_payment(VASTAAMO, int(n * 1.2), VASTAAMO_DAY, table).verdict is Verdict.OVER


def test_tolerance_bounds_are_inclusive() -> None:
    demand = parse_demand("1000000 sat")
    day = VASTAAMO_DAY
    assert match_payment(demand, 900_000, day).verdict is Verdict.EXACT
    assert match_payment(demand, 899_999, day).verdict is Verdict.PARTIAL
    assert match_payment(demand, 1_100_000, day).verdict is Verdict.EXACT
    assert match_payment(demand, 1_100_001, day).verdict is Verdict.OVER
    strict = match_payment(demand, 999_999, day, tolerance=Decimal(0))
    assert strict.verdict is Verdict.PARTIAL


def test_single_amount_paid_after_deadline_is_late() -> None:
    demand = parse_demand("0.05 BTC within 48h")
    result = match_payment(demand, 5_000_000, VASTAAMO_DAY, sent_at_hours_after_demand=50)
    assert result.verdict is Verdict.LATE
    assert result.price is None


def test_the_price_day_changes_the_expectation(table: PriceTable) -> None:
    demand = parse_demand("200 EUR")
    other_day = date(2020, 10, 26)
    a = match_payment(demand, 1_808_963, VASTAAMO_DAY, table)
    b = match_payment(demand, 1_808_963, other_day, table)
    assert a.expected_sat != b.expected_sat
    assert b.expected_sat == eur_in_sats(200, other_day)


@pytest.mark.parametrize(
    ("value", "tolerance", "message"),
    [
        (0, Decimal("0.1"), "positive number of sats"),
        (-5, Decimal("0.1"), "positive number of sats"),
        (100, Decimal("1"), "tolerance"),
        (100, Decimal("-0.1"), "tolerance"),
    ],
)
def test_match_payment_refuses(value: int, tolerance: Decimal, message: str) -> None:
    with pytest.raises(AmountError, match=message):
        match_payment(parse_demand("100 sat"), value, VASTAAMO_DAY, tolerance=tolerance)
