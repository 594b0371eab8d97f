"""The rate learned from 429s outlives the process (issue 12, item 10, first half).

Behind the simulator limited to 10 requests/s (`sim serve --rate-limit 10`), a cron tick at the
default rate (unlimited on loopback) learns a slower pace and stores it per explorer; the next
tick starts at that pace and slows down further if it must, until a tick gets no 429 at all.
"""

from __future__ import annotations

from pathlib import Path

from btcwatch.intake import add_addresses, create_case
from btcwatch.providers import PoolSettings
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.sim.server import Reply
from btcwatch.store import Store
from btcwatch.store.events import list_events
from btcwatch.store.rates import learned_rates
from btcwatch.watch.runner import WatchOptions
from btcwatch.watch.service import WatchRun, run_watch


def test_learned_rate_is_stored_and_the_next_tick_starts_there(tmp_path: Path) -> None:
    scenario = vastaamo(victims=30, seed=2020, background=3)
    truth = scenario.ground_truth()
    chain = SimChain.from_scenario(scenario, tip="end")
    db = tmp_path / "v.db"
    with Store.open(db) as store:
        create_case(store, "v")
        add_addresses(store, "v", [r["address"] for r in truth["ransom_addresses"]])
    limited: list[int] = []
    with SimServer(chain, rate_limit=10.0) as server:
        answer = server.handle

        def handle(method: str, target: str, body: bytes) -> tuple[Reply | None, str]:
            reply, name = answer(method, target, body)
            if reply is not None and reply.status == 429:
                limited.append(1)
            return reply, name

        server.handle = handle  # type: ignore[method-assign]

        def tick() -> WatchRun:
            run = WatchRun(
                WatchOptions("v", "address"), alerts=[], pool=PoolSettings(explorers=(server.url,))
            )
            run_watch(db, run)
            return run

        first = tick()
        assert first.pool.learned == {}  # nothing known before the first tick
        assert limited  # it ran into the limit ...
        with Store.open(db) as store:
            rates = learned_rates(store)
            found = [row.as_dict() for row in list_events(store, case="v")]
        assert set(rates) == {server.url}  # ... and learned a pace
        assert found  # and the tick still finished its work

        paces = [rates[server.url]]
        for _ in range(4):
            limited.clear()
            later = tick()
            assert later.pool.learned == {server.url: paces[-1]}  # starts where the last one ended
            with Store.open(db) as store:
                paces.append(learned_rates(store)[server.url])
            if not limited:
                break
        assert limited == []  # a tick that no longer runs into the limit
        assert paces == sorted(paces, reverse=True) and paces[-1] < 15.0
