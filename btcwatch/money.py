"""Amounts, ransom demands and how a payment compares to a demand.

Satoshis are ``int`` everywhere; `Decimal` appears only where people read or write amounts.

How `parse_amount` reads numbers (ransom notes mix English and European habits):

- A unit is required, before or after the number: ``BTC``/``XBT``/``₿``, ``sat``/``sats``/
  ``satoshi(s)``, ``EUR``/``euro(s)``/``€``, ``USD``/``dollar(s)``/``$`` (any case).
- With both ``,`` and ``.`` in the number, the last one is the decimal mark and the other
  groups thousands: ``1,000.50 EUR`` and ``1.000,50 EUR`` both mean 1000.50 EUR.
- With one kind repeated, it groups thousands: ``1,000,000 sat`` and ``1.000.000 sat``.
- With a single ``,`` or ``.``, it is the decimal mark (``0,05 BTC`` is 0.05 BTC), except when
  it could just as well group thousands (1 to 3 digits, not ``0``, then exactly 3 digits):
  ``1,000 EUR`` or ``2.500 BTC`` are refused as ambiguous rather than guessed.
- BTC has at most 8 decimals, fiat at most 2, sat none; zero and negative amounts are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum

from btcwatch.errors import AmountError
from btcwatch.prices import Price, PriceLookup

SATS_PER_BTC = 100_000_000
MAX_SATS = 21_000_000 * SATS_PER_BTC
UNITS = ("BTC", "SAT", "EUR", "USD")
FIAT = ("EUR", "USD")
_DECIMALS = {"BTC": 8, "SAT": 0, "EUR": 2, "USD": 2}

_UNIT_WORDS = {
    "btc": "BTC",
    "xbt": "BTC",
    "₿": "BTC",
    "bitcoin": "BTC",
    "bitcoins": "BTC",
    "sat": "SAT",
    "sats": "SAT",
    "satoshi": "SAT",
    "satoshis": "SAT",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "€": "EUR",
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "$": "USD",
}
_AMOUNT = re.compile(
    r"(?P<pre>[€$₿]|[^\W\d_]+)?\s*(?P<sign>[-+−])?\s*(?P<num>[\d.,]+)\s*(?P<post>[€$₿]|[^\W\d_]+)?"
)
_DURATION = re.compile(r"(?P<n>\d+)\s*(?P<unit>h|hrs?|hours?|d|days?)", re.IGNORECASE)
_THEN = re.compile(r"\s+then\s+|\s*;\s*|\s*(?:->|→)\s*", re.IGNORECASE)
_WITHIN = re.compile(r"^(?P<amount>.+?)\s+within\s+(?P<duration>.+)$", re.IGNORECASE)
_AFTER = re.compile(r"^(?P<amount>.+?)\s+after\s+(?P<duration>.+)$", re.IGNORECASE)


def format_btc(sats: int) -> str:
    """``123400`` -> ``"0.00123400"``: always 8 decimals, integer arithmetic only."""
    if isinstance(sats, bool) or not isinstance(sats, int):
        raise TypeError(f"satoshis must be an int, not {type(sats).__name__}")
    whole, frac = divmod(abs(sats), SATS_PER_BTC)
    return f"{'-' if sats < 0 else ''}{whole}.{frac:08d}"


def btc(sats: int, *, trim: bool = False) -> str:
    """``123400`` -> ``"0.00123400 BTC"``: the one way text shows an amount (reports, CLI,
    alerts); ``trim`` drops trailing zeros (``"0.001234 BTC"``, ``"1 BTC"``) for the short
    facts of heuristic findings."""
    number = format_btc(sats)
    if trim:
        number = number.rstrip("0").rstrip(".")
    return f"{number} BTC"


def sats_to_btc(sats: int) -> Decimal:
    """Exact BTC value with 8 decimal places (``Decimal("0.00123400")``)."""
    if isinstance(sats, bool) or not isinstance(sats, int):
        raise TypeError(f"satoshis must be an int, not {type(sats).__name__}")
    return Decimal(sats).scaleb(-8)


def btc_to_sats(btc: Decimal | str) -> int:
    """Exact conversion; refuses anything that is not a whole number of satoshis."""
    if isinstance(btc, str):
        if not re.fullmatch(r"-?\d+(\.\d+)?", btc.strip()):
            raise AmountError(f"not a BTC amount: {btc!r} (expected digits like 0.00123400)")
        btc = Decimal(btc.strip())
    if not isinstance(btc, Decimal) or not btc.is_finite():
        raise AmountError(f"not a BTC amount: {btc!r}")
    if abs(btc) > MAX_SATS // SATS_PER_BTC:
        raise AmountError(f"{btc} BTC is more than the 21 million BTC that can exist")
    sats = btc.scaleb(8)
    if sats != sats.to_integral_value():
        raise AmountError(f"{btc} BTC has more than 8 decimals (not a whole number of sats)")
    return int(sats)


@dataclass(frozen=True, slots=True)
class Amount:
    """A positive amount in BTC, sat, EUR or USD, as written in a demand."""

    value: Decimal
    unit: str

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise AmountError(f"unknown unit {self.unit!r} (use one of {', '.join(UNITS)})")
        if not isinstance(self.value, Decimal) or not self.value.is_finite():
            raise AmountError(f"amount must be a finite Decimal, not {self.value!r}")
        if self.value <= 0:
            raise AmountError(f"amount must be more than zero: {self}")
        places = _DECIMALS[self.unit]
        if _decimal_places(self.value) > places:
            raise AmountError(f"{self} has more than {places} decimals")
        if self.unit in ("BTC", "SAT") and self._exact_sats() > MAX_SATS:
            raise AmountError(f"{self} is more than the 21 million BTC that can exist")

    def __str__(self) -> str:
        unit = "sat" if self.unit == "SAT" else self.unit
        return f"{self.value:f} {unit}"

    @property
    def is_fiat(self) -> bool:
        return self.unit in FIAT

    def to_sats(self, price_table: PriceLookup | None = None, day: date | None = None) -> int:
        """Satoshis: exact for BTC/sat, at ``day``'s close for fiat (rounded half-even)."""
        return self.quote(price_table, day)[0]

    def quote(
        self, price_table: PriceLookup | None = None, day: date | None = None
    ) -> tuple[int, Price | None]:
        """Satoshis and the fiat price that produced them (``None`` for BTC and sat)."""
        if not self.is_fiat:
            return self._exact_sats(), None
        if price_table is None or day is None:
            raise AmountError(f"converting {self} to sats needs a price table and a day")
        price = price_table.price(day, self.unit)
        raw = self.value * SATS_PER_BTC / price.per_btc
        if raw > MAX_SATS:
            raise AmountError(f"{self} is more than all bitcoin at {price.day_used} prices")
        sats = raw.quantize(Decimal(1), ROUND_HALF_EVEN)
        if sats <= 0:
            raise AmountError(f"{self} is worth less than 1 sat at {price.day_used} prices")
        return int(sats), price

    def _exact_sats(self) -> int:
        return int(self.value) if self.unit == "SAT" else int(self.value.scaleb(8))


def parse_amount(text: str) -> Amount:
    """Read ``200EUR``, ``€200``, ``0,05 BTC``, ``150000 sats``... (rules in the module doc)."""
    cleaned = " ".join(str(text).split())
    if not cleaned:
        raise AmountError("empty amount (expected e.g. 200 EUR, 0.05 BTC or 150000 sat)")
    match = _AMOUNT.fullmatch(cleaned)
    if match is None:
        raise AmountError(f"not an amount: {text!r} (expected e.g. 200 EUR, 0.05 BTC, €200)")
    pre, post = match["pre"], match["post"]
    if pre and post:
        raise AmountError(f"two units in {text!r}: give one, e.g. 200 EUR")
    word = pre or post
    if not word:
        raise AmountError(f"no unit in {text!r} (write e.g. 200 EUR, 0.05 BTC or 150000 sat)")
    unit = _UNIT_WORDS.get(word.lower())
    if unit is None:
        raise AmountError(f"unknown unit {word!r} in {text!r} (use BTC, sat, EUR or USD)")
    if match["sign"] in ("-", "−"):
        raise AmountError(f"amount must be positive: {text!r}")
    value = _parse_number(match["num"], text)
    if value == 0:
        raise AmountError(f"amount must be more than zero: {text!r}")
    places = _DECIMALS[unit]
    if _decimal_places(value) > places:
        what = "whole numbers" if places == 0 else f"at most {places} decimals"
        raise AmountError(f"{unit} amounts take {what}: {text!r}")
    return Amount(Decimal(int(value)) if unit == "SAT" else value, unit)


def _decimal_places(value: Decimal) -> int:
    """Significant decimal places, exactly (``1.50`` has 1), without context rounding."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        return 0
    zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -min(0, exponent + zeros))


def _parse_number(num: str, text: str) -> Decimal:
    """Apply the decimal-mark rules of the module doc to the digits of ``text``."""
    has_dot, has_comma = "." in num, "," in num
    if has_dot and has_comma:
        mark = "." if num.rfind(".") > num.rfind(",") else ","
        group = "," if mark == "." else "."
        whole, _, frac = num.rpartition(mark)
        if mark in whole or not _grouped(whole, group) or not frac.isdigit():
            raise AmountError(f"cannot read the number in {text!r}")
        return _decimal(whole.replace(group, "") + "." + frac, text)
    if not (has_dot or has_comma):
        return _decimal(num, text)
    sep = "." if has_dot else ","
    if num.count(sep) > 1:
        if not _grouped(num, sep):
            raise AmountError(f"cannot read the number in {text!r}")
        return _decimal(num.replace(sep, ""), text)
    whole, _, frac = num.partition(sep)
    if not whole.isdigit() or not frac.isdigit():
        raise AmountError(f"cannot read the number in {text!r}")
    if len(frac) == 3 and len(whole) <= 3 and whole.lstrip("0"):
        short = (whole + "." + frac).rstrip("0").rstrip(".")
        raise AmountError(
            f"ambiguous number {num!r} in {text!r}: {sep!r} could group thousands or mark "
            f"decimals; write {whole}{frac} or {short}"
        )
    return _decimal(whole + "." + frac, text)


def _grouped(digits: str, sep: str) -> bool:
    """True for ``1,234,567``-style thousands grouping with the given separator."""
    return re.fullmatch(rf"\d{{1,3}}(?:{re.escape(sep)}\d{{3}})+", digits) is not None


def _decimal(digits: str, text: str) -> Decimal:
    try:
        return Decimal(digits)
    except InvalidOperation:
        raise AmountError(f"cannot read the number in {text!r}") from None


@dataclass(frozen=True, slots=True)
class Demand:
    """What the note asks: an amount, optionally a higher one after a deadline.

    Vastaamo (2020): about 200 EUR in bitcoin within 24 hours, 500 EUR after that is
    ``Demand(Amount(200, "EUR"), Amount(500, "EUR"), 24)``.
    """

    amount: Amount
    late_amount: Amount | None = None
    deadline_hours: int | None = None

    def __post_init__(self) -> None:
        if self.deadline_hours is not None and self.deadline_hours <= 0:
            raise AmountError(f"deadline must be at least 1 hour, not {self.deadline_hours}")
        if self.late_amount is not None and self.deadline_hours is None:
            raise AmountError(
                "a late amount needs a deadline, e.g. '200 EUR then 500 EUR after 24h'"
            )

    def __str__(self) -> str:
        if self.late_amount is not None:
            return f"{self.amount} then {self.late_amount} after {self.deadline_hours}h"
        if self.deadline_hours is not None:
            return f"{self.amount} within {self.deadline_hours}h"
        return str(self.amount)


def parse_demand(text: str) -> Demand:
    """Read ``200EUR``, ``200 EUR within 24h`` or ``200EUR then 500EUR after 24h``.

    ``then`` may also be written ``;`` or ``->``; durations are ``24h``, ``24 hours``, ``2d``.
    """
    cleaned = " ".join(str(text).split())
    parts = _THEN.split(cleaned, maxsplit=1)
    if not parts[0]:
        raise AmountError(f"empty demand: {text!r}")
    first_text, deadline = _split_duration(parts[0], _WITHIN, text)
    first = parse_amount(first_text)
    if len(parts) == 1:
        return Demand(first, None, deadline)
    late_text, after = _split_duration(parts[1], _AFTER, text)
    late = parse_amount(late_text)
    if deadline is not None and after is not None and deadline != after:
        raise AmountError(f"two different deadlines in {text!r}: {deadline}h and {after}h")
    deadline = deadline if deadline is not None else after
    if deadline is None:
        raise AmountError(
            f"a late amount needs a deadline: write e.g. '{first} then {late} after 24h'"
        )
    return Demand(first, late, deadline)


def _split_duration(part: str, pattern: re.Pattern[str], text: str) -> tuple[str, int | None]:
    match = pattern.match(part)
    if match is None:
        return part, None
    duration = _DURATION.fullmatch(match["duration"].strip())
    if duration is None:
        raise AmountError(f"cannot read the duration {match['duration']!r} in {text!r} (e.g. 24h)")
    hours = int(duration["n"]) * (24 if duration["unit"].lower().startswith("d") else 1)
    return match["amount"], hours


class Verdict(StrEnum):
    """How a payment compares to a demand."""

    EXACT = "exact"  # within tolerance of the amount, on time (or time unknown)
    LATE = "late"  # within tolerance of the amount due after the deadline
    PARTIAL = "partial"  # less than the amount due, beyond tolerance
    OVER = "over"  # more than the amount due, beyond tolerance


@dataclass(frozen=True, slots=True)
class PaymentMatch:
    """The verdict and the numbers behind it, for the report."""

    verdict: Verdict
    value_sat: int
    expected_sat: int
    compared_to: Amount
    price: Price | None
    tolerance: Decimal

    @property
    def ratio(self) -> Decimal:
        """Paid / expected, to 4 decimals."""
        return (Decimal(self.value_sat) / self.expected_sat).quantize(Decimal("0.0001"))


def match_payment(
    demand: Demand,
    value_sat: int,
    day: date,
    price_table: PriceLookup | None = None,
    tolerance: Decimal = Decimal("0.10"),
    sent_at_hours_after_demand: float | None = None,
) -> PaymentMatch:
    """Compare ``value_sat`` received on ``day`` with the demand, pure and deterministic.

    Fiat amounts are converted at ``day``'s close (the day the victim bought and paid), or at
    the price of its hour when ``day`` is a datetime and ``price_table`` knows hours. The
    amount due is the first one, unless the payment is known to be after the deadline, then
    the late one. When the time is unknown, a payment matching the late amount is ``late``.
    """
    if isinstance(value_sat, bool) or not isinstance(value_sat, int) or value_sat <= 0:
        raise AmountError(f"payment must be a positive number of sats, not {value_sat!r}")
    if not Decimal(0) <= tolerance < Decimal(1):
        raise AmountError(f"tolerance must be between 0 and 1 (0.10 = 10%), not {tolerance}")
    first = _Due(demand.amount, *demand.amount.quote(price_table, day))
    late = None
    if demand.late_amount is not None:
        late = _Due(demand.late_amount, *demand.late_amount.quote(price_table, day))
    after_deadline = (
        demand.deadline_hours is not None
        and sent_at_hours_after_demand is not None
        and sent_at_hours_after_demand > demand.deadline_hours
    )
    if after_deadline:
        due = late or first
        verdict = Verdict.LATE if due.matches(value_sat, tolerance) else due.miss(value_sat)
        return due.result(verdict, value_sat, tolerance)
    if first.matches(value_sat, tolerance):
        return first.result(Verdict.EXACT, value_sat, tolerance)
    if (
        late is not None
        and sent_at_hours_after_demand is None
        and late.matches(value_sat, tolerance)
    ):
        return late.result(Verdict.LATE, value_sat, tolerance)
    return first.result(first.miss(value_sat), value_sat, tolerance)


@dataclass(frozen=True, slots=True)
class _Due:
    amount: Amount
    sats: int
    price: Price | None

    def matches(self, value_sat: int, tolerance: Decimal) -> bool:
        low = Decimal(self.sats) * (1 - tolerance)
        high = Decimal(self.sats) * (1 + tolerance)
        return low <= value_sat <= high

    def miss(self, value_sat: int) -> Verdict:
        return Verdict.PARTIAL if value_sat < self.sats else Verdict.OVER

    def result(self, verdict: Verdict, value_sat: int, tolerance: Decimal) -> PaymentMatch:
        return PaymentMatch(verdict, value_sat, self.sats, self.amount, self.price, tolerance)
