"""The simulator's mempool-compatible price API, and a story placed at another start date."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from btcwatch.cli import app
from btcwatch.prices import PriceTable
from btcwatch.providers.prices.mempool import parse_current_prices, parse_historical_price
from btcwatch.sim.chain import SimChain
from btcwatch.sim.prices import SimPrices, set_prices, story_start
from btcwatch.sim.scenarios import VastaamoScenario, vastaamo
from btcwatch.sim.server import SimServer


@pytest.fixture
def priced(small: VastaamoScenario) -> Iterator[tuple[SimServer, httpx.Client]]:
    chain = SimChain.from_scenario(small, tip="end")
    with SimServer(chain) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        yield server, client


def test_historical_price_is_the_scenarios_day_price_for_every_hour(
    priced: tuple[SimServer, httpx.Client], truth: dict[str, object]
) -> None:
    server, client = priced
    payment_time = server.chain.tip.time - 7200
    answer = client.get(
        "/v1/historical-price", params={"currency": "EUR", "timestamp": payment_time}
    ).json()
    (quote_eur, *_) = sorted(parse_historical_price(answer, payment_time), key=lambda q: q.currency)
    day = datetime.fromtimestamp(payment_time, UTC).date()
    expected = PriceTable.load_default().price(day, "EUR").per_btc.quantize(Decimal("0.01"))
    assert quote_eur.currency == "EUR" and quote_eur.per_btc == expected
    assert quote_eur.resolution == "hour" and quote_eur.time == payment_time // 3600 * 3600
    assert set(answer["prices"][0]) == {"time", "EUR", "USD"}
    assert "USDEUR" in answer["exchangeRates"]


def test_before_the_chain_zeros_and_now_is_the_tip(priced: tuple[SimServer, httpx.Client]) -> None:
    server, client = priced
    early = client.get("/v1/historical-price", params={"currency": "EUR", "timestamp": 1000}).json()
    assert parse_historical_price(early, 1000) == []
    now = parse_current_prices(client.get("/v1/prices").json())
    assert {q.time for q in now} == {server.chain.tip.time // 3600 * 3600}
    bad = client.get("/v1/historical-price", params={"timestamp": "soon"})
    assert bad.status_code == 400


def test_set_prices_overrides(priced: tuple[SimServer, httpx.Client]) -> None:
    server, client = priced
    set_prices(server, SimPrices(lambda d: Decimal(40000), lambda d: Decimal("1.25")))
    answer = client.get("/v1/prices").json()
    assert (answer["EUR"], answer["USD"]) == (40000, 50000)


def test_story_start_places_the_e_mails_on_that_day() -> None:
    assert story_start("2026-09-21") == datetime(2026, 9, 21, 8, 0, tzinfo=UTC)
    story = vastaamo(victims=3, seed=1, background=1, emails_at=story_start("2026-09-21"))
    truth = story.ground_truth()
    assert datetime.fromtimestamp(truth["emails_time"], UTC).date() == date(2026, 9, 21)
    assert set(truth["eur_per_btc"]) >= {"2026-09-21"}


def test_sim_generate_start_option(tmp_path: Path) -> None:
    out = tmp_path / "g"
    result = CliRunner().invoke(
        app,
        [
            "sim",
            "generate",
            "-o",
            str(out),
            "--victims",
            "3",
            "--background",
            "1",
            "--start",
            "2026-09-21",
        ],
    )
    assert result.exit_code == 0, result.output
    import json

    truth = json.loads((out / "ground-truth.json").read_text())
    assert datetime.fromtimestamp(truth["emails_time"], UTC).date() == date(2026, 9, 21)
    bad = CliRunner().invoke(app, ["sim", "generate", "-o", str(out), "--start", "soon"])
    assert bad.exit_code == 2 and "btcwatch: error: --start" in bad.output
