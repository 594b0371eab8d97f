"""The one small interface every price source implements, and the value it answers with."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from btcwatch.errors import BadResponse
from btcwatch.model import Evidence
from btcwatch.providers._http import HttpClient

HOUR = "hour"
DAY = "day"
HOUR_SECONDS = 3600
DAY_SECONDS = 86400


@dataclass(frozen=True, slots=True)
class Quote:
    """One BTC price: currency, start of its hour or day (unix), resolution, where from."""

    currency: str
    time: int
    resolution: str  # "hour" | "day"
    per_btc: Decimal
    source: str
    evidence: Evidence | None = None

    @property
    def moment(self) -> datetime:
        return datetime.fromtimestamp(self.time, UTC)


class PriceSource(ABC):
    """A network price source on the shared HttpClient (throttle, retries, proxy, evidence)."""

    name: str

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    @property
    def requests(self) -> int:
        return self.http.requests

    @abstractmethod
    async def quotes(self, moment: datetime, currencies: Sequence[str]) -> list[Quote]:
        """Prices for the hour of ``moment`` (or its day when no hourly price exists).

        May return more than asked (neighbouring hours of the same answer: the caller caches
        them); returns no quote for a currency the source has no price for at that time.
        Raises ProviderError subclasses when the source fails.
        """

    async def aclose(self) -> None:
        await self.http.aclose()


def decimal_price(value: object, *, provider: str, what: str) -> Decimal | None:
    """A positive price from a JSON number or string; 0 (no data yet) is None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadResponse(f"{what}: not a price: {value!r}", provider=provider)
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise BadResponse(f"{what}: not a price: {value!r}", provider=provider) from None
    if not price.is_finite() or price < 0:
        raise BadResponse(f"{what}: not a price: {value!r}", provider=provider)
    return price if price > 0 else None


def unix_time(value: object, *, provider: str, what: str) -> int:
    if isinstance(value, bool):
        raise BadResponse(f"{what}: not a unix time: {value!r}", provider=provider)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or value < 0:
        raise BadResponse(f"{what}: not a unix time: {value!r}", provider=provider)
    return value
