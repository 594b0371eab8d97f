"""The global ``--offline`` (and BTCWATCH_OFFLINE=1, ``offline = true``): prices and proofs only.

With a price source list naming the simulator, no price request reaches it; payments are
kept with a null value and a note saying the network sources were skipped; no Merkle proof
is fetched. Explorer commands still use their explorer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from simwatch import World, event_rows, ransom_addresses, setup_case

from btcwatch.config import load_settings
from btcwatch.errors import ConfigError
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.sim.prices import scenario_prices, set_prices

START_2026 = datetime(2026, 9, 21, 8, 0, tzinfo=UTC)
PRICE_ROUTES = ("GET /v1/historical-price", "GET /v1/prices")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    story = vastaamo(victims=7, seed=2020, background=2, emails_at=START_2026)
    truth = story.ground_truth()
    chain = SimChain.from_scenario(story, tip="end")
    db = tmp_path / "case.db"
    setup_case(db, ransom_addresses(truth))
    with SimServer(chain) as server:
        set_prices(server, scenario_prices(story))
        yield World(db, chain, server, truth)


def price_requests(world: World) -> int:
    return sum(world.server.requests[name] for name in PRICE_ROUTES)


def proof_requests(world: World) -> int:
    return sum(n for name, n in world.server.requests.items() if "merkle" in name)


def explorer_requests(world: World) -> int:
    return sum(world.server.requests.values()) - price_requests(world)


def payments(world: World) -> list[dict[str, object]]:
    return event_rows(world.db, kinds=["payment_received", "payment_confirmed"])


def check_unvalued_offline(world: World) -> None:
    rows = payments(world)
    assert rows
    for row in rows:
        details = row["details"]
        assert isinstance(details, dict)
        fiat = details["fiat"]["EUR"]
        assert fiat["value"] is None
        assert "network price sources skipped (offline)" in fiat["note"]


def watch(world: World, *root: str, env: dict[str, str] | None = None) -> None:
    args = ("watch", "--case", "vastaamo", "--once", "--explorer", world.url)
    result = world.cli(*root, *args, "--prices", f"{world.url},offline", env=env)
    assert result.exit_code == 0, result.output


def test_offline_flag_asks_no_price_source_but_still_the_explorer(world: World) -> None:
    watch(world, "--offline")
    assert price_requests(world) == 0
    assert explorer_requests(world) > 0  # watch still needs its explorer
    check_unvalued_offline(world)
    watch(world)  # the same sources without --offline: the simulator is asked and answers
    assert price_requests(world) > 0
    assert all(r["details"]["fiat"]["EUR"]["value"] for r in payments(world))  # type: ignore[index]


def test_offline_from_the_environment(world: World) -> None:
    watch(world, env={"BTCWATCH_OFFLINE": "1"})
    assert price_requests(world) == 0
    check_unvalued_offline(world)


def test_offline_from_the_config_file(world: World, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("offline = true\n", encoding="utf-8")
    watch(world, "--config", str(config))
    assert price_requests(world) == 0
    check_unvalued_offline(world)  # the bundled table is asked, and cannot answer for 2026


def test_offline_trace_evidence_and_prices_update_fetch_no_price_and_no_proof(
    world: World, tmp_path: Path
) -> None:
    watch(world, "--offline")
    traced = world.cli(
        "--offline", "trace", "--case", "vastaamo", "--explorer", world.url, "--prices", world.url
    )
    assert traced.exit_code == 0, traced.output
    bundle = world.cli(
        "--offline",
        "evidence",
        "--case",
        "vastaamo",
        "-o",
        str(tmp_path / "bundle"),
        "--explorer",
        world.url,
        "--prices",
        world.url,
        "--simulated",
    )
    assert bundle.exit_code == 0, bundle.output
    update = world.cli(
        "--offline", "prices", "update", "--from", "2026-09-21", "--prices", world.url
    )
    assert update.exit_code == 0, update.output
    assert "--offline: no network price source is asked" in update.stderr
    assert price_requests(world) == 0
    assert proof_requests(world) == 0
    # without --offline the trace proves what it relies on from the explorer
    assert world.cli("trace", "--case", "vastaamo", "--explorer", world.url).exit_code == 0
    assert proof_requests(world) > 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("yes", True), ("0", False), ("off", False)],
)
def test_offline_setting_is_read_from_the_environment(
    tmp_path: Path, raw: str, expected: bool
) -> None:
    settings = load_settings(config_path=None, env={"BTCWATCH_OFFLINE": raw}, db=tmp_path / "x")
    assert settings.offline is expected


def test_offline_setting_from_toml_and_a_bad_value_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("offline = true\n", encoding="utf-8")
    assert load_settings(config_path=config, env={}).offline is True
    config.write_text('offline = "maybe"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="offline must be true or false"):
        load_settings(config_path=config, env={})


def test_a_bad_offline_value_is_one_line_and_exit_2(world: World) -> None:
    result = world.cli("events", env={"BTCWATCH_OFFLINE": "maybe"})
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("btcwatch: error: offline must be true or false")
