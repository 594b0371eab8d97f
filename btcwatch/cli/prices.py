"""`prices show`, `prices update`, and ``--prices`` for the commands that value money."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

import typer

from btcwatch.cli.context import JsonOption, emit_json, info, run_async, state
from btcwatch.cli.network import ProxyOption
from btcwatch.config import Settings
from btcwatch.errors import InputError
from btcwatch.prices import PriceTable
from btcwatch.prices.book import day_start, hour_start
from btcwatch.providers.prices import OFFLINE, parse_price_specs
from btcwatch.store.db import must_stay_untouched
from btcwatch.store.prices import price_disagreements
from btcwatch.timefmt import iso_utc, utc_now
from btcwatch.valuation import PriceSettings, Valuer
from btcwatch.watch.revalue import refresh_fiat, unvalued_events

PRICES_HELP = (
    "Price sources in order, comma-separated: mempool, kraken, offline, or a mempool-compatible "
    "base URL (e.g. http://127.0.0.1:8999/api); repeatable. Default: mempool,kraken,offline."
)
PricesOption = typer.Option([], "--prices", help=PRICES_HELP)

app = typer.Typer(help="BTC prices: show one, or fill the price cache for a range.")


def price_settings(settings: Settings, flag: Sequence[str] = (), **extra: Any) -> PriceSettings:
    """``--prices`` over ``BTCWATCH_PRICES`` over the config file; checked here, at the edge.

    Under ``--offline`` no network source is asked: prices come from the cache (rows of the
    configured sources) and the bundled table, which is then always consulted.
    """
    specs = parse_price_specs(list(flag) or list(settings.prices))
    if settings.offline:
        extra = {**extra, "network": False}
        specs = specs if OFFLINE in specs else (*specs, OFFLINE)
    return PriceSettings(
        specs=specs, tolerance=settings.price_tolerance, proxy=settings.proxy, **extra
    )


def parse_when(text: str) -> datetime:
    """``2026-09-21`` (noon UTC), ``2026-09-21T14:30``, ``...Z``/``+02:00``, or ``now``."""
    cleaned = text.strip()
    if cleaned.lower() == "now":
        return utc_now()
    try:
        if len(cleaned) == 10:
            return datetime.combine(date.fromisoformat(cleaned), time(12), UTC)
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise InputError(
            f"not a date or time: {text!r} (e.g. 2026-09-21 or 2026-09-21T14:30Z)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@app.command("show")
def show(
    ctx: typer.Context,
    when: str = typer.Argument(..., help="A date (2026-09-21), a time (2026-09-21T14:30Z) or now."),
    currency: str = typer.Option("EUR", "--currency", help="EUR, USD, or an ECB currency."),
    prices: list[str] = PricesOption,
    proxy: str | None = ProxyOption,
    as_json: bool = JsonOption,
) -> None:
    """The price of one BTC at WHEN: value, price_time, resolution and source."""
    moment = parse_when(when)
    st = state(ctx)
    settings = st.settings(proxy=proxy)
    valuer = Valuer(price_settings(settings, prices), st.store())

    async def ask() -> Any:
        try:
            return await valuer.prepare([moment], ["EUR", "USD", currency.upper()])
        finally:
            await valuer.aclose()

    book = run_async(ask)
    price = book.price(moment, currency.upper())
    found = price_disagreements(st.store(), currency, day_start(moment), hour_start(moment))
    row = {
        "when": iso_utc(moment),
        "currency": price.currency,
        "per_btc": str(price.per_btc),
        "price_time": price.price_time,
        "resolution": price.resolution,
        "source": price.source,
        "disagreements": [
            {
                "used": f"{d.used_source} {d.used_value}",
                "other": f"{d.other_source} {d.other_value}",
                "difference": str(d.difference),
            }
            for d in found
        ],
    }
    if as_json:
        emit_json(row)
        return
    typer.echo(
        f"{row['per_btc']} {row['currency']} per BTC at {row['price_time']} "
        f"({row['resolution']}; {row['source']})"
    )
    for d in row["disagreements"]:
        typer.echo(f"price_disagreement: used {d['used']}, other {d['other']} ({d['difference']})")


@app.command("update")
def update(
    ctx: typer.Context,
    from_: str = typer.Option(..., "--from", help="First day or time to cache (UTC)."),
    to: str | None = typer.Option(None, "--to", help="Last day or time (default: now)."),
    currency: list[str] = typer.Option(
        [], "--currency", help="A currency to cache (repeatable; default EUR and USD)."
    ),
    prices: list[str] = PricesOption,
    proxy: str | None = ProxyOption,
) -> None:
    """Fill the price cache hour by hour for a range (a progress bar on a terminal)."""
    start = _day_edge(from_, first=True)
    end = _day_edge(to, first=False) if to else utc_now()
    if end < start:
        raise InputError(f"--to {to} is before --from {from_}")
    st = state(ctx)
    chosen = price_settings(st.settings(proxy=proxy), prices)
    if not chosen.network:
        info("prices: --offline: no network price source is asked, nothing to fetch")
        return
    if all(spec == OFFLINE for spec in chosen.specs):
        table = PriceTable.load_default()
        info(
            "prices: only the offline table is configured, nothing to fetch (it covers "
            f"{table.first_day('EUR')}..{table.last_day('EUR')})"
        )
        return
    valuer = Valuer(chosen, st.store())
    currencies = [c.upper() for c in currency] or ["EUR", "USD"]

    async def fill() -> Any:
        try:
            with _progress() as tick:
                return await valuer.update(start, end, currencies, tick)
        finally:
            await valuer.aclose()

    result = run_async(fill)
    info(
        f"prices: {result.hours} hours, {result.fetched} prices cached, {result.requests} requests"
    )
    for problem in result.problems:
        info(f"prices: {problem}")


def _day_edge(text: str, *, first: bool) -> datetime:
    moment = parse_when(text)
    if len(text.strip()) == 10:  # a bare day: from its first hour, to its last
        return moment.replace(hour=0 if first else 23)
    return moment


class _progress:
    """A rich progress bar on a terminal; nothing under cron or a pipe."""

    def __enter__(self) -> Callable[[int, int], None] | None:
        if not sys.stderr.isatty():
            return None
        from rich.progress import Progress

        self._bar = Progress(transient=True)
        self._bar.start()
        self._task = self._bar.add_task("prices", total=None)
        return self._tick

    def _tick(self, done: int, total: int) -> None:
        self._bar.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if hasattr(self, "_bar"):
            self._bar.stop()


def value_unvalued(ctx: typer.Context, flag: Sequence[str], case: str | None) -> int:
    """Before a report: value the case's payments still without a price (none: no request)."""
    st = state(ctx)
    if must_stay_untouched(st.settings().db) or not unvalued_events(st.reader(), case):
        return 0  # nothing to value, or a database that must stay as it is (a bundle's)
    return refresh_case_fiat(ctx, flag, case)


def refresh_case_fiat(ctx: typer.Context, flag: Sequence[str], case: str | None) -> int:
    """Value the payments of ``case`` (or all) that have no price yet; how many were valued."""
    st = state(ctx)
    valuer = Valuer(price_settings(st.settings(), flag), st.store())

    async def value() -> int:
        try:
            return len(await refresh_fiat(st.store(), valuer, case))
        finally:
            await valuer.aclose()

    return int(run_async(value))
