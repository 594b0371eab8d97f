"""Price parsers on recorded Kraken, Coinbase and ccxt answers and documented mempool answers;
the sources on the shared HTTP client with a MockTransport: zeros, HTML, 429, truncated bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from btcwatch.errors import BadResponse, ConfigError, RateLimited
from btcwatch.providers import HttpOptions
from btcwatch.providers._http import HttpClient, RetryPolicy
from btcwatch.providers.prices import make_price_sources, parse_price_specs
from btcwatch.providers.prices.coinbase import parse_candles
from btcwatch.providers.prices.kraken import KrakenPriceSource, parse_ohlc
from btcwatch.providers.prices.mempool import (
    MempoolPriceSource,
    parse_current_prices,
    parse_historical_price,
)

APIS = Path(__file__).resolve().parents[1] / "data" / "prices" / "apis"


def load(name: str) -> Any:
    data = json.loads((APIS / name).read_text())
    return data["httpResponse"] if "_source" in data else data


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- Kraken -------------------------------------------------------------------------------


def test_kraken_hourly_candles_leave_out_the_open_one_and_use_vwap() -> None:
    body = load("OHLC_XXBTZEUR_interval60_2020-07-14.json")
    quotes = parse_ohlc(body, "EUR", "hour")
    assert len(quotes) == 719  # 720 rows, the last (after "last") still open
    assert quotes[-1].time == body["result"]["last"] == 1594728000
    assert quotes[-1].per_btc == Decimal("8124.8")  # the row's vwap
    assert quotes[0].per_btc == Decimal("8309.5")
    assert {q.resolution for q in quotes} == {"hour"}
    assert all(q.time % 3600 == 0 for q in quotes)


def test_kraken_daily_candles() -> None:
    quotes = parse_ohlc(load("OHLC_XXBTZEUR_interval1440_2020-07-15.json"), "EUR", "day")
    assert len(quotes) == 719
    assert quotes[-1].moment == at("2020-07-14T00:00:00")
    assert quotes[-1].per_btc == Decimal("8114.1")


def test_kraken_ccxt_answer_with_string_last() -> None:
    quotes = parse_ohlc(load("kraken_OHLC_XBTUSDT_1h_since1706628191.json"), "USD", "hour")
    # "last" is 1706796000: the trimmed last row (1706799600) is the open candle
    assert [q.time for q in quotes] == [1706626800, 1706630400, 1706634000, 1706637600, 1706641200]


def test_kraken_candle_without_trades_uses_its_close() -> None:
    body = load("OHLC_XXBTZEUR_interval60_2020-07-14.json")
    row = body["result"]["XXBTZEUR"][0]
    row[5], row[6], row[7] = "0.0", "0.00000000", 0
    assert parse_ohlc(body, "EUR", "hour")[0].per_btc == Decimal(row[4])


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"error": ["EAPI:Rate limit exceeded"], "result": {}}, RateLimited),
        ({"error": ["EQuery:Unknown asset pair"]}, BadResponse),
        ({"error": [], "result": {"XXBTZEUR": "nope", "last": 1}}, BadResponse),
        ({"error": [], "result": {"XXBTZEUR": [[1, "x"]], "last": 1}}, BadResponse),
        ([1, 2], BadResponse),
    ],
)
def test_kraken_bad_answers(body: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_ohlc(body, "EUR", "hour")


# -- Coinbase -------------------------------------------------------------------------------


def test_coinbase_hourly_candles_oldest_first_at_close() -> None:
    quotes = parse_candles(load("candles_BTC-USD_3600s_2020-03-09_to_2020-03-16.json"), "USD", 3600)
    assert len(quotes) == 169
    assert quotes[0].moment == at("2020-03-09T00:00:00")
    assert quotes[-1].moment == at("2020-03-16T00:00:00")
    assert quotes[-1].per_btc == Decimal("5245.17")  # [time, low, high, open, close, volume]


def test_coinbase_ccxt_candle() -> None:
    (quote,) = parse_candles(
        load("coinbaseexchange_candles_BTC-USDT_3600_2024-03-13.json"), "USD", 3600
    )
    assert (quote.time, quote.per_btc) == (1710327600, Decimal("73370.65"))


def test_coinbase_error_message() -> None:
    with pytest.raises(BadResponse, match="NotFound"):
        parse_candles({"message": "NotFound"}, "EUR", 3600)


# -- mempool -------------------------------------------------------------------------------


def test_mempool_documented_historical_price_is_a_daily_price() -> None:
    body = load("mempool_historical-price_documented.json")
    quotes = parse_historical_price(body, 1500000000)
    assert {(q.currency, q.per_btc) for q in quotes} == {
        ("EUR", Decimal("1964")),
        ("USD", Decimal("2254.9")),
    }
    assert {q.resolution for q in quotes} == {"day"}
    assert {q.time for q in quotes} == {1499904000}


def test_mempool_hourly_answer_and_stale_answer() -> None:
    body = {"prices": [{"time": 1790000000 // 3600 * 3600, "EUR": 51000, "USD": 0}]}
    quotes = parse_historical_price(body, 1790000000)
    assert [(q.currency, q.resolution) for q in quotes] == [("EUR", "hour")]  # zero: no price
    stale = {"prices": [{"time": 1790000000 - 3 * 86400, "EUR": 51000}]}
    assert parse_historical_price(stale, 1790000000) == []


def test_mempool_zero_before_its_data_starts_is_no_price() -> None:
    assert (
        parse_historical_price({"prices": [{"time": 1230940800, "USD": 0, "EUR": 0}]}, 1230940800)
        == []
    )
    assert parse_historical_price({"prices": [], "exchangeRates": {}}, 1230940800) == []


def test_mempool_current_prices() -> None:
    quotes = parse_current_prices(load("mempool_prices_documented.json"))
    assert {q.currency for q in quotes} == {"USD", "EUR", "GBP", "CAD", "CHF", "AUD", "JPY"}
    assert {q.time for q in quotes} == {1703252411 // 3600 * 3600}


@pytest.mark.parametrize(
    "body",
    [
        {"price": 1},
        {"prices": "x"},
        {"prices": [1]},
        {"prices": [{"time": "x", "EUR": 1}]},
        {"prices": [{"time": 1_800_000_000, "EUR": "abc"}]},
        {"prices": [{"time": 2_000_000_000, "EUR": 1}]},
    ],
)
def test_mempool_bad_answers(body: Any) -> None:
    with pytest.raises(BadResponse):
        parse_historical_price(body, 1_800_000_000)


# -- sources over HTTP (MockTransport) -------------------------------------------------------


def client(handler: Callable[[httpx.Request], httpx.Response], name: str = "m") -> HttpClient:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return HttpClient(
        name,
        "http://prices.test/api",
        HttpOptions(
            transport=httpx.MockTransport(handler), retry=RetryPolicy(max_tries=2), sleep=sleep
        ),
    )


def ask(source: Any, moment: datetime, currencies: tuple[str, ...] = ("EUR", "USD")) -> Any:
    async def run() -> Any:
        try:
            return await source.quotes(moment, currencies)
        finally:
            await source.aclose()

    return asyncio.run(run())


def test_mempool_source_sends_only_a_time_and_keeps_the_evidence() -> None:
    seen: list[httpx.Request] = []
    moment = at("2026-09-21T14:23:00")

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        hour = int(moment.timestamp()) // 3600 * 3600
        return httpx.Response(200, json={"prices": [{"time": hour, "EUR": 51000, "USD": 57000}]})

    quotes = ask(MempoolPriceSource(client(handler)), moment)
    assert [r.url.path for r in seen] == ["/api/v1/historical-price"]
    assert dict(seen[0].url.params) == {
        "currency": "EUR",
        "timestamp": str(int(moment.timestamp())),
    }
    assert {(q.currency, q.per_btc, q.resolution) for q in quotes} == {
        ("EUR", Decimal(51000), "hour"),
        ("USD", Decimal(57000), "hour"),
    }
    assert all(q.evidence is not None and q.evidence.status == 200 for q in quotes)


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(200, text="<html><body>502 Bad Gateway</body></html>"), BadResponse),
        (httpx.Response(200, text='{"prices": [{"time": 17'), BadResponse),
        (httpx.Response(429, text="Too Many Requests"), RateLimited),
    ],
)
def test_mempool_source_failures_raise_provider_errors(
    response: httpx.Response, error: type[Exception]
) -> None:
    source = MempoolPriceSource(client(lambda r: response))
    with pytest.raises(error):
        ask(source, at("2026-09-21T14:00:00"))


def test_kraken_source_falls_back_to_daily_candles_for_old_hours() -> None:
    hourly = load("OHLC_XXBTZEUR_interval60_2020-07-14.json")
    daily = load("OHLC_XXBTZEUR_interval1440_2020-07-15.json")
    asked: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(dict(request.url.params))
        return httpx.Response(200, json=hourly if request.url.params["interval"] == "60" else daily)

    quotes = ask(KrakenPriceSource(client(handler, "kraken")), at("2020-07-01T10:30:00"), ("EUR",))
    assert [q for q in quotes if q.time == int(at("2020-07-01T10:00:00").timestamp())]
    old = ask(KrakenPriceSource(client(handler, "kraken")), at("2019-05-01T10:30:00"), ("EUR",))
    assert [(q.resolution, q.moment) for q in old] == [("day", at("2019-05-01T00:00:00"))]
    assert [a["interval"] for a in asked] == ["60", "60", "1440"]


def test_price_specs() -> None:
    assert parse_price_specs("mempool, kraken,offline") == ("mempool", "kraken", "offline")
    assert parse_price_specs(["http://127.0.0.1:8999/api/", "OFFLINE"]) == (
        "http://127.0.0.1:8999/api",
        "offline",
    )
    with pytest.raises(ConfigError, match="unknown price source"):
        parse_price_specs("coingecko")
    with pytest.raises(ConfigError):
        parse_price_specs(" , ")
    sources = make_price_sources(("mempool", "offline", "kraken", "http://127.0.0.1:1/api"))
    assert [s.name for s in sources] == ["mempool.space", "kraken", "127.0.0.1:1"]
    for s in sources:
        asyncio.run(s.aclose())


def test_mempool_source_asks_v1_prices_for_the_current_hour() -> None:
    now = datetime.now(UTC)
    hour = int(now.timestamp()) // 3600 * 3600
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, json={"time": hour + 60, "USD": 70000, "EUR": 60000})

    quotes = ask(MempoolPriceSource(client(handler)), now)
    assert paths == ["/api/v1/prices"]
    assert {(q.currency, q.time, q.resolution) for q in quotes} == {
        ("EUR", hour, "hour"),
        ("USD", hour, "hour"),
    }


def test_price_requests_go_through_the_proxy_like_every_request() -> None:
    sources = make_price_sources(
        ("mempool", "kraken"), HttpOptions(proxy="socks5h://127.0.0.1:9050")
    )
    assert [s.http.proxy for s in sources] == ["socks5h://127.0.0.1:9050"] * 2
    for s in sources:
        asyncio.run(s.aclose())
    with pytest.raises(ConfigError, match="onion"):
        make_price_sources(
            ("http://mempoolhqx4isw62xs7abwphsq7ldayuidyx2v2oethdhhj6mlo2r6ad.onion/api",)
        )
