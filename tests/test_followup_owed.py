"""followup, one level below tests/e2e/test_followup.py: an owed trace runs once, stays owed
when it fails, and flags each exchange deposit the ransom reached (simulator, loopback)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import httpx

from btcwatch.case import Role
from btcwatch.event import Event, Kind
from btcwatch.followup import resume_followups
from btcwatch.intake import add_addresses, create_case
from btcwatch.providers import HttpOptions
from btcwatch.providers.base import Provider
from btcwatch.providers.factory import PoolSettings, make_provider
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.store import Store
from btcwatch.store.cases import list_addresses
from btcwatch.store.events import stored_events
from btcwatch.store.followups import owed_followups, queue_followups
from btcwatch.store.tags import save_tags
from btcwatch.store.traces import list_runs
from btcwatch.tags import parse_tagpack
from btcwatch.watch.runner import WatchOptions
from btcwatch.watch.service import WatchRun, run_watch


async def _no_wait(seconds: float) -> None:
    return None


def _resume(db: Path, provider: Provider) -> tuple[list[Event], list[str]]:
    async def go() -> tuple[list[Event], list[str]]:
        try:
            with Store.open(db) as store:
                return await resume_followups(store, provider, sinks=["stderr"])
        finally:
            await provider.aclose()

    return asyncio.run(go())


def test_owed_traces_fail_softly_then_flag_each_deposit_once(tmp_path: Path) -> None:
    scenario = vastaamo(victims=20, seed=2020, background=3)
    truth: dict[str, Any] = scenario.ground_truth()
    db = tmp_path / "v.db"
    with Store.open(db) as store:
        create_case(store, "v")
        add_addresses(store, "v", [r["address"] for r in truth["ransom_addresses"]])
        save_tags(store, parse_tagpack(truth["tagpack"], "sim").tags)
        queue_followups(store, ["v"], "asked by hand")
    chain = SimChain.from_scenario(scenario, tip="end")
    with SimServer(chain) as server:
        # Nothing is cached yet: the trace needs the addresses' histories, and every answer
        # is a 503. The trace fails, stays owed with its error, and nothing is recorded.
        down = httpx.MockTransport(lambda request: httpx.Response(503))
        broken = make_provider(
            server.url, HttpOptions(transport=down, rate=math.inf, sleep=_no_wait)
        )
        events, problems = _resume(db, broken)
        assert events == []
        assert len(problems) == 1 and "case 'v' failed (will retry)" in problems[0]
        with Store.open(db) as store:
            owed = owed_followups(store)
            assert [(o.case, o.attempts) for o in owed] == [("v", 1)]
            assert "HTTP 503" in (owed[0].last_error or "")
            assert [r.status for r in list_runs(store, "v")] == ["failed"]

        # A --follow cycle owes a trace for the moved money (no hook runs it here); the debt
        # already owed is kept as it is, not queued twice.
        run_watch(
            db,
            WatchRun(
                WatchOptions("v", "address", follow=True),
                alerts=[],
                pool=PoolSettings((server.url,)),
            ),
        )
        with Store.open(db) as store:
            assert [(o.case, o.attempts) for o in owed_followups(store)] == [("v", 1)]

        events, problems = _resume(db, make_provider(server.url, HttpOptions(rate=math.inf)))
        assert problems == []
        again = _resume(db, make_provider(server.url, HttpOptions(rate=math.inf)))
    assert again == ([], [])  # nothing owed any more: no second trace
    assert {e.kind for e in events} == {Kind.FUNDS_AT_EXCHANGE}
    assert {(e.txid, e.vout) for e in events} == {(p["txid"], p["vout"]) for p in truth["peels"]}
    with Store.open(db) as store:
        assert owed_followups(store) == []
        runs = list_runs(store, "v")
        stored, _ = stored_events(store, "v")
        watched = {w.address: w for w in list_addresses(store, "v")}
    assert sorted(r.status for r in runs) == ["done", "failed"]
    assert {e.id for e in events} <= {e.id for e in stored}
    done = next(r for r in runs if r.status == "done")
    changes = {p["change_address"] for p in truth["peels"]}
    for address in changes:  # the attacker's next addresses are watched, from this trace
        assert watched[address].role is Role.ATTACKER
        assert watched[address].source == f"trace:{done.id}"
    assert not {p["deposit_address"] for p in truth["peels"]} & set(watched)
