"""`prices show`, `prices update`, ``--prices`` and the price settings, against the simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from btcwatch.config import load_settings
from btcwatch.errors import ConfigError
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.sim.prices import SimPrices, set_prices
from btcwatch.store import Store
from btcwatch.store.prices import cached_prices


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    chain = SimChain.from_scenario(vastaamo(victims=3, seed=1, background=1), tip="end")
    with SimServer(chain) as srv:
        set_prices(srv, SimPrices(lambda d: Decimal(50000), lambda d: Decimal("1.1")))
        yield srv


def tip_hour(server: SimServer) -> datetime:
    return datetime.fromtimestamp(server.chain.tip.time // 3600 * 3600, UTC)


def test_prices_show_names_time_resolution_and_source(cli: Any, server: SimServer) -> None:
    when = tip_hour(server).strftime("%Y-%m-%dT%H:%MZ")
    result = cli("prices", "show", "--prices", server.url, "--currency", "USD", "--json", when)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["per_btc"], shown["resolution"]) == ("55000", "hour")
    assert shown["price_time"] == tip_hour(server).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert server.base_url.removeprefix("http://") in shown["source"]
    text = cli("prices", "show", "--prices", server.url, when)
    assert "50000 EUR per BTC at" in text.stdout


def test_prices_show_offline_old_and_new_days(cli: Any) -> None:
    old = cli("prices", "show", "--prices", "offline", "2020-10-24")
    assert old.exit_code == 0 and "EUR per BTC at 2020-10-24 (day;" in old.stdout
    new = cli("prices", "show", "--prices", "offline", "2026-09-21")
    assert new.exit_code == 2
    assert new.stderr.startswith("btcwatch: error: no EUR price for 2026-09-21")
    bad = cli("prices", "show", "yesterday-ish")
    assert bad.exit_code == 2 and "not a date or time" in bad.stderr
    unknown = cli("prices", "show", "--prices", "coingecko", "2020-10-24")
    assert unknown.exit_code == 2 and "unknown price source" in unknown.stderr


def test_prices_update_fills_the_cache_hour_by_hour(
    cli: Any, server: SimServer, db_path: Path
) -> None:
    end = tip_hour(server)
    start = datetime.fromtimestamp(end.timestamp() - 5 * 3600, UTC)
    fmt = "%Y-%m-%dT%H:%MZ"
    result = cli(
        "prices",
        "update",
        "--prices",
        server.url,
        "--from",
        start.strftime(fmt),
        "--to",
        end.strftime(fmt),
    )
    assert result.exit_code == 0, result.output
    assert "6 hours, 12 prices cached" in result.stderr
    with Store.open(db_path) as store:
        rows = cached_prices(store, "EUR", int(start.timestamp()), int(end.timestamp()))
    assert len(rows) == 6 and {r.resolution for r in rows} == {"hour"}
    again = cli(
        "prices",
        "update",
        "--prices",
        server.url,
        "--from",
        start.strftime(fmt),
        "--to",
        end.strftime(fmt),
    )
    assert "0 prices cached, 0 requests" in again.stderr


def test_prices_update_offline_is_a_no_op_with_a_message(cli: Any) -> None:
    result = cli("prices", "update", "--prices", "offline", "--from", "2024-01-01")
    assert result.exit_code == 0
    assert "only the offline table" in result.stderr and "2012-02-24..2024-10-27" in result.stderr
    backwards = cli("prices", "update", "--from", "2024-01-02", "--to", "2024-01-01")
    assert backwards.exit_code == 2


def test_price_settings_from_file_environment_and_flags(tmp_path: Path) -> None:
    (tmp_path / "empty.toml").write_text("")
    config = tmp_path / "c.toml"
    config.write_text('prices = ["kraken", "offline"]\nprice_tolerance = "5%"\n')
    s = load_settings(config_path=config, env={})
    assert (s.prices, s.price_tolerance) == (("kraken", "offline"), Decimal("0.05"))
    s = load_settings(config_path=config, env={"BTCWATCH_PRICES": "mempool,offline"})
    assert s.prices == ("mempool", "offline")
    default = load_settings(env={"BTCWATCH_CONFIG": str(tmp_path / "empty.toml")})
    assert default.prices == ("mempool", "kraken", "offline")
    assert default.price_tolerance == Decimal("0.02")
    with pytest.raises(ConfigError, match="price_tolerance"):
        load_settings(config_path=config, env={"BTCWATCH_PRICE_TOLERANCE": "lots"})
