"""Issue 11 acceptance: a case paid in 2026 is valued from a mempool-compatible source.

The simulated Vastaamo story is placed on 2026-09-21 (after the bundled table). Watched with
the simulator's own price API it gets hourly EUR and USD values and the planned demand
verdicts; with ``--prices offline`` it gets null values with a note and no crash, and a later
``watch --once`` with the source back fills them in: same event ids, no second alert.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from simwatch import World, event_rows, ransom_addresses, setup_case

from btcwatch.sim import SimChain, SimServer, VastaamoScenario, vastaamo
from btcwatch.sim.prices import scenario_prices, set_prices
from btcwatch.store import Store

START = datetime(2026, 9, 21, 8, 0, tzinfo=UTC)
EXPECTED_VERDICTS = {
    "on_time": {"exact"},
    "late": {"late"},
    "partial": {"partial"},
    "double": {"exact"},
    "rbf_replacement": {"exact"},
}


@pytest.fixture(scope="module")
def story_2026() -> VastaamoScenario:
    return vastaamo(victims=7, seed=2020, background=2, emails_at=START)


@pytest.fixture
def world(tmp_path: Path, story_2026: VastaamoScenario) -> Iterator[World]:
    truth = story_2026.ground_truth()
    chain = SimChain.from_scenario(story_2026, tip="end")
    db = tmp_path / "case.db"
    setup_case(db, ransom_addresses(truth))
    with SimServer(chain) as server:
        set_prices(server, scenario_prices(story_2026))
        yield World(db, chain, server, truth)


def payments(db: Path) -> list[dict[str, Any]]:
    return event_rows(db, kinds=["payment_received", "payment_confirmed"])


def outbox_rows(db: Path) -> int:
    with Store.open(db) as store:
        return int(store.database_for_tests().execute("SELECT count(*) FROM outbox").fetchone()[0])


def check_valued(world: World, rows: list[dict[str, Any]]) -> None:
    kind_of = {(p["txid"], p["vout"]): p["kind"] for p in world.truth["payments"]}
    verdicts: dict[str, Counter[str]] = {}
    for row in rows:
        d = row["details"]
        assert d["time"].startswith("2026-09-2")
        for currency in ("EUR", "USD"):
            fiat = d["fiat"][currency]
            assert fiat["value"] is not None, fiat
            assert fiat["resolution"] == "hour"
            assert fiat["price_time"] == d["time"][:13] + ":00:00Z"
            assert world.server.url.removeprefix("http://").removesuffix("/api") in fiat["source"]
        verdicts.setdefault(kind_of[(row["txid"], row["vout"])], Counter())[
            d["demand_match"]["verdict"]
        ] += 1
        assert d["demand_match"]["resolution"] == "hour"
    assert {kind: set(v) for kind, v in verdicts.items()} == EXPECTED_VERDICTS


def test_a_2026_case_is_valued_from_the_simulators_price_api(world: World) -> None:
    result = world.watch_once(env={"BTCWATCH_PRICES": world.server.url})
    assert result.exit_code == 0, result.output
    rows = payments(world.db)
    assert rows
    check_valued(world, rows)
    on_time = next(r for r in rows if r["details"]["demand_match"]["verdict"] == "exact")
    assert on_time["details"]["fiat"]["EUR"]["value"] == "200.00"


def test_offline_leaves_nulls_with_a_note_then_a_later_cycle_fills_them(world: World) -> None:
    result = world.watch_once("--prices", "offline")
    assert result.exit_code == 0, result.output
    before = payments(world.db)
    assert before
    for row in before:
        fiat = row["details"]["fiat"]["EUR"]
        assert fiat["value"] is None
        assert "no EUR price for 2026-09-2" in fiat["note"]
        assert "table covers 2012-02-24..2024-10-27" in fiat["note"]
        assert row["details"]["demand_match"]["verdict"] is None
    sent = outbox_rows(world.db)

    again = world.watch_once(env={"BTCWATCH_PRICES": f"{world.server.url},offline"})
    assert again.exit_code == 0, again.output
    after = payments(world.db)
    assert [r["id"] for r in after] == [r["id"] for r in before]  # same events, same ids
    assert outbox_rows(world.db) == sent  # no second alert
    check_valued(world, after)


def test_events_refresh_fiat_values_what_watch_left_unvalued(world: World) -> None:
    assert world.watch_once("--prices", "offline").exit_code == 0
    result = world.cli("events", "--refresh-fiat", "--prices", world.server.url, "--json")
    assert result.exit_code == 0, result.output
    check_valued(world, payments(world.db))


def test_prices_are_cached_with_their_evidence_and_never_fetched_twice(world: World) -> None:
    assert world.watch_once(env={"BTCWATCH_PRICES": world.server.url}).exit_code == 0
    asked = world.server.requests["GET /v1/historical-price"]
    assert asked > 0
    with Store.open(world.db) as store:
        db = store.database_for_tests()
        rows = db.execute(
            "SELECT p.resolution, e.url FROM price_cache p JOIN evidence e ON e.id = p.evidence_id"
        ).fetchall()
    assert rows and all("/v1/historical-price" in url for _, url in rows)
    assert world.cli("events", "--refresh-fiat", "--prices", world.server.url).exit_code == 0
    result = world.cli(
        "prices",
        "show",
        "--prices",
        world.server.url,
        "--json",
        payments(world.db)[0]["details"]["time"],
    )
    assert result.exit_code == 0, result.output
    assert world.server.requests["GET /v1/historical-price"] == asked  # all from the cache


def test_report_values_unvalued_payments_and_names_each_price(world: World) -> None:
    assert world.watch_once("--prices", "offline").exit_code == 0
    result = world.cli(
        "report", "--case", "vastaamo", "--format", "json", "--prices", world.server.url
    )
    assert result.exit_code == 0, result.output
    import json

    doc = json.loads(result.stdout)
    assert doc["payments"]
    for p in doc["payments"]:
        assert p["eur"] is not None and p["resolution"] == "hour"
        assert p["price_time"].startswith("2026-09-2") and p["price_time"].endswith(":00:00Z")
        assert "hourly price" in p["price_source"]
    assert any("hourly price" in s for s in doc["price_sources"])


def test_trace_values_each_endpoint_at_its_hour_from_the_source(world: World) -> None:
    args = ["trace", "--case", "vastaamo", "--explorer", world.server.url, "--json"]
    offline = world.cli(*args, "--prices", "offline")
    assert offline.exit_code == 0, offline.output
    import json

    ends = [e for e in json.loads(offline.stdout)["endpoints"] if e["taint_sat"]]
    assert ends and all(e["taint_eur"] is None for e in ends)  # 2026: the table cannot
    valued = world.cli(*args, "--prices", world.server.url)
    assert valued.exit_code == 0, valued.output
    ends = [e for e in json.loads(valued.stdout)["endpoints"] if e["taint_sat"]]
    assert ends and all(e["taint_eur"] is not None for e in ends)
    assert all(
        e["price_resolution"] == "hour" and "hourly price" in e["price_source"] for e in ends
    )
    assert all(e["price_time"].endswith(":00:00Z") for e in ends)
