"""The Valuer: cache first, sources in order, two sources checked, failures become notes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from btcwatch.errors import InputError
from btcwatch.providers import HttpOptions
from btcwatch.providers._http import HttpClient, RetryPolicy
from btcwatch.providers.prices.kraken import KrakenPriceSource
from btcwatch.providers.prices.mempool import MempoolPriceSource
from btcwatch.store import Store
from btcwatch.store.prices import cached_prices, price_disagreements
from btcwatch.valuation import PriceSettings, Valuer

MOMENT = datetime(2026, 9, 21, 14, 23, tzinfo=UTC)
HOUR = int(MOMENT.timestamp()) // 3600 * 3600


def mempool(eur: float, usd: float, counter: list[str], status: int = 200) -> MempoolPriceSource:
    def handler(request: httpx.Request) -> httpx.Response:
        counter.append(str(request.url))
        if status != 200:
            return httpx.Response(status, text="<html>down</html>")
        return httpx.Response(200, json={"prices": [{"time": HOUR, "EUR": eur, "USD": usd}]})

    return MempoolPriceSource(http("mempool.space", handler), "mempool.space")


def kraken_hour(eur: str, counter: list[str], usd: str = "58000") -> KrakenPriceSource:
    def handler(request: httpx.Request) -> httpx.Response:
        counter.append(str(request.url))
        pair = request.url.params["pair"]
        p = eur if pair == "XXBTZEUR" else usd
        row = [HOUR, p, p, p, p, p, "1.0", 3]
        return httpx.Response(200, json={"error": [], "result": {pair: [row], "last": HOUR}})

    return KrakenPriceSource(http("kraken", handler))


def http(name: str, handler: Callable[[httpx.Request], httpx.Response]) -> HttpClient:
    async def sleep(seconds: float) -> None:
        return None

    return HttpClient(
        name,
        "http://x.test/api",
        HttpOptions(
            transport=httpx.MockTransport(handler), retry=RetryPolicy(max_tries=2), sleep=sleep
        ),
    )


def prepare(valuer: Valuer, *moments: datetime) -> Any:
    return asyncio.run(valuer.prepare(list(moments)))


def test_first_source_is_used_and_cached_with_its_evidence_and_never_asked_again() -> None:
    store = Store.memory()
    asked: list[str] = []
    specs = ("mempool",)
    book = prepare(
        Valuer(PriceSettings(specs), store, sources=[mempool(50000, 58000, asked)]), MOMENT
    )
    price = book.price(MOMENT, "EUR")
    assert (price.per_btc, price.resolution, price.price_time) == (
        Decimal(50000),
        "hour",
        "2026-09-21T14:00:00Z",
    )
    assert "mempool.space" in price.source
    (row,) = cached_prices(store, "EUR", HOUR, HOUR)
    assert row.evidence_id is not None and row.source == "mempool.space"
    again = prepare(Valuer(PriceSettings(specs), store, sources=[mempool(1, 1, asked)]), MOMENT)
    assert again.price(MOMENT, "EUR").per_btc == Decimal(50000)
    assert len(asked) == 1


def test_two_sources_beyond_the_tolerance_record_a_disagreement_and_use_the_first() -> None:
    store = Store.memory()
    asked: list[str] = []
    sources = [mempool(50000, 58000, asked), kraken_hour("52000", asked)]
    book = prepare(Valuer(PriceSettings(("mempool", "kraken")), store, sources=sources), MOMENT)
    used = book.price(MOMENT, "EUR")
    assert used.per_btc == Decimal(50000)
    assert "price_disagreement: kraken says 52000 (4.00% apart, more than 2%)" in used.source
    (d,) = price_disagreements(store, "EUR")
    assert (d.used_source, d.other_source, d.difference) == (
        "mempool.space",
        "kraken",
        Decimal("0.0400"),
    )
    assert d.tolerance == Decimal("0.02")


def test_within_tolerance_no_finding() -> None:
    store = Store.memory()
    asked: list[str] = []
    sources = [mempool(50000, 58000, asked), kraken_hour("50500", asked)]
    book = prepare(Valuer(PriceSettings(("mempool", "kraken")), store, sources=sources), MOMENT)
    assert price_disagreements(store) == []
    assert book.price(MOMENT, "EUR").source.endswith("checked against kraken (1.00% apart)")


def test_a_failing_source_is_skipped_and_named_in_the_note() -> None:
    store = Store.memory()
    asked: list[str] = []
    sources = [mempool(0, 0, asked, status=503)]
    book = prepare(
        Valuer(PriceSettings(("mempool", "offline")), store, sources=sources),
        MOMENT,
        MOMENT.replace(hour=18),
    )
    with pytest.raises(InputError) as caught:
        book.price(MOMENT, "EUR")
    text = str(caught.value)
    assert "no EUR price for 2026-09-21 (table covers" in text
    assert "mempool.space: server error (HTTP 503)" in text
    assert "later watch cycle" in text
    assert len(asked) == 2  # two tries for the first hour, then not asked again this run


def test_offline_network_skips_sources_but_the_table_answers_old_days() -> None:
    asked: list[str] = []
    settings = PriceSettings(("mempool", "offline"), network=False)
    book = prepare(
        Valuer(settings, Store.memory(), sources=[mempool(1, 1, asked)]),
        datetime(2020, 10, 24, 9, tzinfo=UTC),
    )
    price = book.price(datetime(2020, 10, 24, 9, tzinfo=UTC), "EUR")
    assert price.resolution == "day" and price.day_used == date(2020, 10, 24)
    assert asked == []


def test_other_currencies_from_eur_at_the_ecb_rate() -> None:
    asked: list[str] = []
    valuer = Valuer(PriceSettings(("mempool",)), Store.memory(), sources=[mempool(50000, 0, asked)])
    book = asyncio.run(valuer.prepare([MOMENT], ["EUR", "USD", "GBP"]))
    usd = book.price(MOMENT, "USD")  # mempool said 0 USD: derived from EUR
    assert "ECB" in usd.source and usd.resolution == "hour"
    assert book.price(MOMENT, "GBP").per_btc < Decimal(50000)
