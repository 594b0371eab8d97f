"""Issue 10 acceptance: a watch tick's cost does not grow with unrelated mempool traffic.

A watched Vastaamo case on the loopback simulator; the attacker's sweeps of ransom payments sit
unconfirmed in the mempool, next to 0, 1,000 or 3,000 unrelated new transactions
(``POST /_sim/mempool?add=N``). One `watch --once` (defaults: block mode, ``--mempool hot``)
must report ``funds_moved`` unconfirmed for every swept address, ask the explorer at most about
60 times, and ask exactly as often whatever the mempool holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from btcwatch.cli import app
from btcwatch.intake import add_addresses, create_case
from btcwatch.sim import SimChain, SimServer, VastaamoScenario, vastaamo
from btcwatch.store import Store
from btcwatch.store.events import list_events

CASE = "vastaamo"
MAX_REQUESTS = 60


@pytest.fixture(scope="module")
def scenario() -> VastaamoScenario:
    return vastaamo(victims=60, seed=2020, background=3, sweep_batch=5)


def watch_once(db: Path, url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app,
        ["--db", str(db), "watch", "--case", CASE, "--once", "--mode", "block",
         "--explorer", url, "--alert", "stderr", *args],
    )  # fmt: skip
    return result.exit_code, result.stderr


def explorer_requests(server: SimServer) -> int:
    return sum(n for name, n in server.requests.items() if "/_sim/" not in name)


def tick_with_noise(
    tmp_path: Path, scenario: VastaamoScenario, noise: int, *args: str
) -> dict[str, Any]:
    """Watch up to the block before the first sweeps, then measure the tick that sees them."""
    truth = scenario.ground_truth()
    first = min(s["height"] for s in truth["sweeps"])
    sweeps = [s for s in truth["sweeps"] if s["height"] == first]
    chain = SimChain.from_scenario(scenario, tip=first - 12)
    db = tmp_path / f"noise{noise}.db"
    with Store.open(db) as store:
        create_case(store, CASE)
        add_addresses(store, CASE, [r["address"] for r in truth["ransom_addresses"]])
    with SimServer(chain) as server:
        code, err = watch_once(db, server.url)  # the first run learns the case's past
        assert code == 0, err
        chain.advance_to(first - 2)
        code, err = watch_once(db, server.url)
        assert code == 0, err
        chain.advance(1)  # tip first - 1: the sweeps wait in the mempool for block `first`
        answer = httpx.post(f"{server.base_url}/_sim/mempool", params={"add": str(noise)})
        assert answer.json()["added"] == noise
        assert {s["txid"] for s in sweeps} <= {e.txid for e in chain.mempool()}
        before = explorer_requests(server)
        code, err = watch_once(db, server.url, *args)
        assert code == 0, err
        asked = explorer_requests(server) - before
        routes = dict(server.requests)
    with Store.open(db) as store:
        events = [row.as_dict() for row in list_events(store, case=CASE)]
    return {"requests": asked, "events": events, "sweeps": sweeps, "summary": err, "routes": routes}


@pytest.mark.slow
def test_tick_cost_is_flat_under_unrelated_mempool_traffic(
    tmp_path: Path, scenario: VastaamoScenario
) -> None:
    runs = {n: tick_with_noise(tmp_path, scenario, n) for n in (0, 1000, 3000)}
    for n, run in runs.items():
        moved = {
            (e["address"], e["txid"])
            for e in run["events"]
            if e["kind"] == "funds_moved" and e["height"] is None
        }
        expected = {(a, s["txid"]) for s in run["sweeps"] for a in s["input_addresses"]}
        assert expected and expected <= moved, n
        assert run["requests"] <= MAX_REQUESTS, (n, run["requests"])
        # Nothing read the whole mempool: no list of its txids, no raw mempool tx.
        assert run["routes"].get("GET /mempool/txids", 0) == 0
        assert run["routes"].get("GET /tx/:txid/hex", 0) == 0
    counts = {n: run["requests"] for n, run in runs.items()}
    assert len(set(counts.values())) == 1, counts
    print(counts, runs[3000]["summary"].splitlines()[-1])
