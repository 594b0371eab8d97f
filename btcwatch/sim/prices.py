"""mempool.space-compatible price routes for the simulator, priced like its scenario.

``GET /api/v1/historical-price?currency=EUR&timestamp=T`` answers the price of T's hour as
``{"prices": [{"time": hour, "USD": .., "EUR": ..}], "exchangeRates": {"USDEUR": ..}}``, and
``GET /api/v1/prices`` the price at the chain tip's time (the simulator's "now"). Every hour
of a day has the scenario's EUR price of that day (the one its victims paid with), so demand
verdicts come out as the story planned them; USD uses the ECB rate of the day. A time before
the simulated chain's first block, or after its tip, gets zeros, as mempool answers before
its data starts.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from btcwatch.errors import BtcwatchError
from btcwatch.sim.routing import HttpError, Reply, Request

if TYPE_CHECKING:
    from btcwatch.sim.server import SimServer

HOUR = 3600
FALLBACK_USD_PER_EUR = Decimal("1.10")
_PRICES: weakref.WeakKeyDictionary[Any, SimPrices] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class SimPrices:
    """EUR per BTC for a day (the scenario's rate) and USD per EUR for a day."""

    eur_per_btc: Callable[[date], Decimal]
    usd_per_eur: Callable[[date], Decimal]

    def at(self, moment: int) -> dict[str, Any]:
        day = datetime.fromtimestamp(moment, UTC).date()
        eur = self.eur_per_btc(day)
        rate = self.usd_per_eur(day)
        return {"EUR": _num(eur), "USD": _num(eur * rate), "_usdeur": rate}


def _num(value: Decimal) -> float | int:
    rounded = value.quantize(Decimal("0.01"))
    return int(rounded) if rounded == rounded.to_integral_value() else float(rounded)


def ecb_usd_per_eur(day: date) -> Decimal:
    """The ECB rate of the day (bundled), else a fixed 1.10 USD per EUR."""
    try:
        from btcwatch.prices.ecb import EcbRates

        return EcbRates.load_default().rate(day, "USD")[0]
    except (BtcwatchError, OSError):
        return FALLBACK_USD_PER_EUR


def scenario_prices(scenario: Any) -> SimPrices:
    """The prices a scenario was generated with (its ``eur_per_btc``, else the default)."""
    from btcwatch.sim.scenarios.vastaamo import default_eur_per_btc

    config = getattr(scenario, "config", None)
    rate = getattr(config, "eur_per_btc", None) or default_eur_per_btc()[0]
    return SimPrices(rate, ecb_usd_per_eur)


def story_start(text: str) -> datetime:
    """``--start``: ``2026-09-21`` (the e-mails go out at 08:00 UTC) or an ISO time (UTC)."""
    from btcwatch.errors import InputError

    cleaned = text.strip()
    try:
        if len(cleaned) == 10:
            day = date.fromisoformat(cleaned)
            return datetime(day.year, day.month, day.day, 8, 0, tzinfo=UTC)
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise InputError(f"--start wants a date or time, e.g. 2026-09-21, not {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def set_prices(server: SimServer, prices: SimPrices) -> None:
    """Price the server's answers with ``prices`` (default: the bundled table's day closes)."""
    _PRICES[server] = prices


def _prices(server: SimServer) -> SimPrices:
    found = _PRICES.get(server)
    if found is None:
        found = _PRICES[server] = scenario_prices(None)
    return found


def _window(server: SimServer) -> tuple[int, int]:
    """(first block time, tip time): the hours the simulated market has prices for."""
    chain = server.chain
    first = chain.block_at(chain.base_height)
    return (first.time if first else 0), chain.tip.time


def add_routes(server: SimServer) -> None:
    """Register the price routes on ``server`` (one of its ``ROUTE_FAMILIES``)."""

    def historical(r: Request) -> Any:
        currency = (r.arg("currency") or "USD").upper()
        text = r.arg("timestamp")
        if text is None or not text.isdigit():
            raise HttpError(400, "timestamp must be a unix time")
        first, tip = _window(server)
        hour = min(int(text), tip) // HOUR * HOUR
        if hour < first // HOUR * HOUR:
            row: dict[str, Any] = {"time": hour, "USD": 0, "EUR": 0}
            rate: Any = 0
        else:
            quoted = _prices(server).at(hour)
            rate = float(1 / quoted.pop("_usdeur"))
            row = {"time": hour, **quoted}
        if currency not in row:
            raise HttpError(400, f"unknown currency {currency}")
        return Reply.json({"prices": [row], "exchangeRates": {"USDEUR": rate}})

    def current(r: Request) -> Any:
        _, tip = _window(server)
        quoted = _prices(server).at(tip)
        quoted.pop("_usdeur")
        return Reply.json({"time": tip, **quoted})

    server.add_route("GET", "/v1/historical-price", historical)
    server.add_route("GET", "/v1/prices", current)
