"""A fresh case behind a rate-limited, faulty explorer catches up tick by tick (issue 12, item 10).

The two halves together: the client adapts its pace to the explorer's 429s (and keeps what it
learned in the database), and a long first catch-up is cut into budget-sized steps, each stored
by its own tick. Behind the simulator limited to 10 requests/s with 30% faults, cron-style ticks
(`run_watch` once each, as `watch --once` runs it) must each move forward, finish within a few
ticks, and report every payment exactly once.
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import pytest

from btcwatch.errors import BtcwatchError
from btcwatch.intake import add_addresses, create_case
from btcwatch.providers import PoolSettings
from btcwatch.sim import Faults, SimChain, SimServer, vastaamo
from btcwatch.store import Store
from btcwatch.store.events import get_state, list_events
from btcwatch.watch.modes import CATCHUP_PENDING
from btcwatch.watch.runner import WatchOptions
from btcwatch.watch.service import WatchRun, run_watch

BUDGET = 40  # requests a tick: the catch-up of ~30 addresses takes several ticks
MAX_TICKS = 12


def owed(db: Path) -> int:
    """Addresses whose history the block scan's catch-up still owes."""
    with Store.open(db) as store:
        pending = get_state(store, f"{CATCHUP_PENDING}:v")
    return len(pending) if isinstance(pending, list) else 0


@pytest.mark.slow
def test_fresh_case_catches_up_behind_a_limited_faulty_explorer(tmp_path: Path) -> None:
    scenario = vastaamo(victims=30, seed=7, background=3)
    truth = scenario.ground_truth()
    chain = SimChain.from_scenario(scenario, tip="end")
    db = tmp_path / "v.db"
    with Store.open(db) as store:
        create_case(store, "v")
        add_addresses(store, "v", [r["address"] for r in truth["ransom_addresses"]])
    faults = Faults(0.3, seed=11, delay=0.05)
    failures: list[str] = []
    history: list[tuple[int, int]] = []  # (addresses still owed, events stored) after each tick
    with SimServer(chain, rate_limit=10.0, faults=faults) as server:
        for _ in range(MAX_TICKS):
            run = WatchRun(
                WatchOptions("v", "block", budget=BUDGET),
                alerts=[],
                pool=PoolSettings(explorers=(server.url,)),
            )
            try:
                run_watch(db, run, on_error=lambda e: failures.append(str(e)))
            except BtcwatchError as exc:
                failures.append(str(exc))
            with Store.open(db) as store:
                stored = len(list_events(store, case="v"))
            history.append((owed(db), stored))
            if history[-1][0] == 0 and len(history) > 1 and history[-1] == history[-2]:
                break  # caught up, and a further tick found nothing new
    assert faults.counts, "the explorer misbehaved"
    assert history[-1][0] == 0, f"catch-up unfinished after {len(history)} ticks: {history}"
    assert history[0][0] > 0, "the first tick could not afford the whole catch-up"
    # Each tick moved forward (fewer addresses owed, or more events) while work was owed.
    steps = list(itertools.pairwise(history))
    assert all(b[0] < a[0] or b[1] > a[1] for a, b in steps if a[0] > 0), (history, failures)
    with Store.open(db) as store:
        events = [row.as_dict() for row in list_events(store, case="v")]
    received = Counter(
        (e["txid"], e["vout"])
        for e in events
        if e["kind"] == "payment_received" and not e["reverted_by"]
    )
    expected = Counter(
        (p["txid"], p["vout"]) for p in truth["payments"] if p["kind"] != "rbf_replaced"
    )
    assert received == expected  # every payment exactly once
