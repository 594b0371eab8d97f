"""`watch --follow`'s library half: trace on movement, extend the watchlist, flag exchanges."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

from btcwatch.case import Role
from btcwatch.event import Kind
from btcwatch.followup import follow_up
from btcwatch.intake import add_addresses, create_case
from btcwatch.providers import HttpOptions, PoolSettings
from btcwatch.providers.factory import make_provider
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.store import Store
from btcwatch.store.cases import list_addresses
from btcwatch.store.tags import save_tags
from btcwatch.tags import parse_tagpack
from btcwatch.watch.runner import WatchOptions
from btcwatch.watch.service import WatchRun, run_watch


def test_follow_up_flags_each_deposit_and_watches_the_attacker(tmp_path: Path) -> None:
    scenario = vastaamo(victims=60, seed=2020, background=3)
    truth: dict[str, Any] = scenario.ground_truth()
    db = tmp_path / "v.db"
    with Store.open(db) as store:
        create_case(store, "v")
        add_addresses(store, "v", [r["address"] for r in truth["ransom_addresses"]])
        save_tags(store, parse_tagpack(truth["tagpack"], "sim").tags)
    chain = SimChain.from_scenario(scenario, tip="end")
    with SimServer(chain) as server:
        run_watch(
            db,
            WatchRun(
                WatchOptions("v", "address"), alerts=[], pool=PoolSettings(explorers=(server.url,))
            ),
        )

        async def go() -> Any:
            provider = make_provider(server.url, HttpOptions(rate=math.inf))
            try:
                with Store.open(db) as store:
                    first = await follow_up(store, provider, ["v"])
                    again = await follow_up(store, provider, ["v"])
                    watched = list_addresses(store, "v")
                return first, again, watched
            finally:
                await provider.aclose()

        first, again, watched = asyncio.run(go())
    flagged = {(e.txid, e.vout): e for e in first.events}
    assert all(e.kind is Kind.FUNDS_AT_EXCHANGE for e in first.events)
    assert set(flagged) == {(p["txid"], p["vout"]) for p in truth["peels"]}
    for peel in truth["peels"]:
        event = flagged[(peel["txid"], peel["vout"])]
        assert event.details["entity"] == peel["exchange"]
        assert event.address == peel["deposit_address"]
        assert abs((event.value_sat or 0) - peel["value_sat"]) <= peel["value_sat"] / 100
    assert [e.id for e in again.events] == [e.id for e in first.events]  # same facts, same ids
    roles = {w.address: w.role for w in watched}
    deposits = {p["deposit_address"] for p in truth["peels"]}
    assert not deposits & set(roles)  # exchange deposits are not called the attacker's
    changes = {p["change_address"] for p in truth["peels"]}
    assert changes <= {a for a, r in roles.items() if r is Role.ATTACKER}
    assert again.new_addresses == {}


def test_watch_follow_through_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from btcwatch.cli import app
    from btcwatch.store.events import list_events

    scenario = vastaamo(victims=40, seed=2020, background=3)
    truth: dict[str, Any] = scenario.ground_truth()
    db = tmp_path / "v.db"
    with Store.open(db) as store:
        create_case(store, "v")
        add_addresses(store, "v", [r["address"] for r in truth["ransom_addresses"]])
    scenario.write_tagpack(tmp_path / "ex.yaml")
    runner = CliRunner()
    assert (
        runner.invoke(
            app, ["--db", str(db), "tags", "import", str(tmp_path / "ex.yaml")], env={}
        ).exit_code
        == 0
    )
    chain = SimChain.from_scenario(scenario, tip="end")
    with SimServer(chain) as server:
        result = runner.invoke(
            app,
            [
                "--db",
                str(db),
                "watch",
                "--once",
                "--follow",
                "--explorer",
                server.url,
                "--alert",
                f"jsonl:{tmp_path / 'alerts.jsonl'}",
            ],
            env={},
        )
    assert result.exit_code == 0, result.stderr
    with Store.open(db) as store:
        flagged = list_events(store, case="v", kinds=["funds_at_exchange"])
    assert {(e.txid, e.vout) for e in flagged} == {(p["txid"], p["vout"]) for p in truth["peels"]}
    alerts = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert sum('"funds_at_exchange"' in line for line in alerts) == len(truth["peels"])
