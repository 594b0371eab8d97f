"""The Vastaamo ground truth still holds when the explorer misbehaves like a public one.

10% of requests get a 5xx, a dropped connection, a slow answer or a truncated body, and a
token bucket answers 429 beyond its rate. The provider retries (fast policy, real waits, so
the bucket refills); a cycle that still fails must leave the database exactly as it was, and
a later cycle catches up. Every cycle is a cron-style `run_watch`, as `watch --once` runs it.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from test_vastaamo_watch import setup_case
from vastaamo_check import check_events_match_truth, live

from btcwatch.errors import BtcwatchError
from btcwatch.model import Evidence
from btcwatch.providers import HttpOptions
from btcwatch.providers._http import RetryPolicy
from btcwatch.providers.base import Provider
from btcwatch.providers.factory import make_provider
from btcwatch.sim import Faults, SimChain, SimServer, vastaamo
from btcwatch.sim.server import Reply
from btcwatch.store import Store
from btcwatch.store.events import list_events
from btcwatch.store.evidence import EvidenceLog
from btcwatch.watch.runner import WatchOptions
from btcwatch.watch.service import WatchRun, run_watch

RETRY = RetryPolicy(max_tries=6, base_delay=0.02, max_delay=0.5, jitter=0.25)
STEP = 3  # blocks per cycle: the RBF-replaced payment stays in the mempool for 6 blocks


def dump(db: Path) -> list[str]:
    """Every row of every table, as SQL: two equal dumps mean an unchanged database.

    Except the request rates learned from 429s (explorer_rates): a failed cycle keeps those
    on purpose, so that the next tick starts at the pace that works (issue 12, item 10).
    """
    conn = sqlite3.connect(db)
    try:
        return [line for line in conn.iterdump() if '"explorer_rates"' not in line]
    finally:
        conn.close()


@contextmanager
def mempool_broken(server: SimServer) -> Iterator[list[str]]:
    """Every /mempool/txids request answers 500 (other routes as usual) while inside;
    yields the list of refused requests."""
    answer = server.handle
    refused: list[str] = []

    def handle(method: str, target: str, body: bytes) -> tuple[Reply | None, str]:
        if target.endswith("/mempool/txids"):
            refused.append(target)
            return Reply.text("Internal Server Error", 500), "GET /mempool/txids"
        return answer(method, target, body)

    setattr(server, "handle", handle)  # noqa: B010 - an instance hook over the method
    try:
        yield refused
    finally:
        delattr(server, "handle")


def verdicts(events: list[dict[str, Any]], truth: dict[str, Any]) -> dict[str, Counter[str]]:
    """Victim payment kind (ground truth) -> the demand verdicts btcwatch gave its events."""
    kind_of = {(p["txid"], p["vout"]): p["kind"] for p in truth["payments"]}
    out: dict[str, Counter[str]] = {}
    for e in live(events, "payment_received") + live(events, "payment_confirmed"):
        verdict = e["details"]["demand_match"]["verdict"]
        out.setdefault(kind_of[(e["txid"], e["vout"])], Counter())[verdict] += 1
    return out


@pytest.mark.slow
def test_faults_and_rate_limit_still_match_ground_truth(tmp_path: Path) -> None:
    scenario = vastaamo(victims=60, seed=2020, background=3)
    truth = scenario.ground_truth()
    # Start 20 blocks in: the first cycle learns the case's past from address histories.
    chain = SimChain.from_scenario(scenario, tip=truth["start_tip_height"] + 20)
    db = tmp_path / "v.db"
    alerts = tmp_path / "alerts.jsonl"
    setup_case(db, truth)
    statuses: Counter[int] = Counter()
    faults = Faults(0.10, seed=7, delay=0.05)
    failed: list[str] = []

    with SimServer(chain, faults=faults, rate_limit=150, burst=8) as server:

        def provider(log: EvidenceLog) -> Provider:
            def seen(ev: Evidence) -> None:
                statuses[ev.status] += 1
                log(ev)

            return make_provider(
                server.url, HttpOptions(retry=RETRY, rate=math.inf, on_evidence=seen)
            )

        def cycle() -> bool:
            before = dump(db)
            # `full`: the late failure forced below is the whole-mempool read.
            options = WatchOptions("vastaamo", "block", mempool="full")
            run = WatchRun(options, alerts=[f"jsonl:{alerts}"])
            try:
                run_watch(db, run, provider_factory=provider)
            except BtcwatchError as exc:
                failed.append(str(exc))
                assert dump(db) == before, "a failed cycle stored something"
                return False
            return True

        def forced_failure() -> None:
            """A cycle that fails late: histories or blocks fetched, then the mempool list
            answers 500 until the retries run out."""
            for _ in range(5):  # a random fault may give out earlier: then force it again
                before = Counter(server.requests)
                with mempool_broken(server) as refused:
                    assert not cycle()
                if refused:
                    break
            asked = Counter(server.requests) - before
            assert len(refused) == RETRY.max_tries, failed[-1]
            assert asked["GET /block/:hash/raw"] + asked["GET /address/:id/txs"] > 0

        forced_failure()  # the first cycle: its catch-up of the case's past is lost, not stored
        forced_at = truth["reorg"]["height"] + 1
        while True:
            if forced_at and chain.tip_height >= forced_at:
                forced_failure()
                forced_at = 0
            cycle()
            if chain.tip_height >= chain.last_planned_height:
                break
            chain.advance(min(STEP, chain.last_planned_height - chain.tip_height))
        for _ in range(5):  # the last cycle may have failed too: catch up
            if cycle():
                break

    with Store.open(db) as store:
        events = [row.as_dict() for row in list_events(store, case="vastaamo")]
    check_events_match_truth(events, truth)

    # The explorer really misbehaved, and the provider really retried.
    assert faults.counts["ok"] > 1000
    assert sum(n for k, n in faults.counts.items() if k != "ok") > 100
    assert statuses[429] > 0 and statuses[500] > 0 and statuses[503] > 0
    assert sum("mempool/txids" in f and "gave up after 6 tries" in f for f in failed) >= 2

    # Every event went to the JSON lines sink exactly once (no crash here).
    sent = [json.loads(line)["id"] for line in alerts.read_text().splitlines()]
    assert sorted(sent) == sorted(e["id"] for e in events)

    # Enrichment: value, fiat on the price day used, and the verdict the victim's kind implies.
    sources: Counter[str] = Counter()
    for e in live(events, "payment_received"):
        d = e["details"]
        assert d["value_btc"] and d["fiat"]["EUR"]["value"] and d["fiat"]["USD"]["value"]
        assert d["fiat"]["EUR"]["price_day"].startswith("2020-1")
        assert d["demand_match"]["price_day"].startswith("2020-1")
        sources[d["time_source"]] += 1
    # Seen in the mempool first: priced at the chain's tip time, never at today's wall clock.
    assert set(sources) == {"block time", "chain tip time when first seen (unconfirmed)"}
    by_kind = verdicts(events, truth)
    assert set(by_kind["on_time"]) == {"exact"}
    assert set(by_kind["late"]) == {"late"}
    assert set(by_kind["partial"]) == {"partial"}
