"""Tracing the simulated Vastaamo case: requests per traced tx, cache, and the rate-limit floor.

Each trace runs with the provider's own rate limit set
(``make_provider(url, HttpOptions(rate=R))``), so its wall time can be compared with the floor
the limit imposes: requests / R seconds. A ratio near 1 means the tracer is waiting on the
limit, not on itself. Then the same trace runs again on the same database: confirmed
transactions come from the store, so it should fetch ~0.

Two starting points:
  cold         an empty database; the trace starts from the mined ransom payments given as
               outpoints (``btcwatch trace <txid:vout> ...``)
  after watch  the case was watched first (one address-mode cycle at the chain's end, which
               stores each ransom address's history); the trace starts from the case

    .venv/bin/python bench/bench_trace.py            # 300 and 3,000 victims
    .venv/bin/python bench/bench_trace.py --quick    # 300 victims
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_watch_cost import CASE, SimProcess, Table, fmt_int, make_case, watch_once

from btcwatch.providers import HttpOptions
from btcwatch.providers.factory import make_provider
from btcwatch.store import Store
from btcwatch.store.tags import save_tags
from btcwatch.tags import parse_tagpack
from btcwatch.trace.follow import TraceParams
from btcwatch.trace.run.service import run_trace

BACKGROUND = 3


@dataclass(frozen=True, slots=True)
class Plan:
    victims: int
    start: str  # "cold" | "after watch"
    rate: float  # requests per second allowed by the provider


@dataclass(frozen=True, slots=True)
class TraceRun:
    seconds: float
    requests: int
    txs: int
    fetched: int
    cached: int
    entities: dict[str, int]


def _trace(db: Path, url: str, rate: float, case: str | None, targets: Sequence[str]) -> TraceRun:
    box: list[TraceRun] = []

    async def go() -> None:  # returns None: asyncio.run on 3.11 repr()s what it returns
        provider = make_provider(url, HttpOptions(rate=rate))
        started = time.perf_counter()
        try:
            with Store.open(db) as store:
                _, _, summary = await run_trace(
                    store, provider, TraceParams(), case=case, targets=targets
                )
        finally:
            await provider.aclose()
        cache = summary["cache"]
        box.append(
            TraceRun(
                time.perf_counter() - started,
                int(summary["requests"]),
                int(summary["txs"]),
                int(cache["fetched_txs"]),
                int(cache["cached_txs"]),
                dict(summary["entities"]),
            )
        )

    asyncio.run(go())
    return box[0]


def measure(work: Path, plan: Plan) -> tuple[TraceRun, TraceRun, bool, int]:
    """First and second run of one trace, whether it found the true exchange totals, and the
    requests the watch made before it (0 when cold)."""
    with SimProcess(plan.victims, BACKGROUND, tip="end") as sim:
        truth = sim.truth
        db = work / f"trace-{plan.victims}-{plan.start.replace(' ', '-')}.db"
        with Store.open(db) as store:
            save_tags(store, parse_tagpack(truth["tagpack"], "sim").tags)
        watched = 0
        if plan.start == "cold":
            case = None
            targets = [f"{p['txid']}:{p['vout']}" for p in truth["payments"] if p["height"]]
        else:
            make_case(db, sim.ransom_addresses(), [])
            watched = watch_once(db, sim.url, "address").requests
            case, targets = CASE, []
        first = _trace(db, sim.url, plan.rate, case, targets)
        second = _trace(db, sim.url, plan.rate, case, targets)
    exact = all(first.entities.get(k, 0) == v for k, v in truth["exchange_totals"].items())
    return first, second, exact, watched


def run(plans: Sequence[Plan]) -> tuple[Table, list[dict[str, Any]]]:
    started = time.perf_counter()
    table = Table(
        "Trace: simulated Vastaamo case, provider rate limit on, loopback simulator",
        [
            "victims",
            "start",
            "txs traced",
            "requests",
            "req/tx",
            "rate req/s",
            "wall s",
            "floor s",
            "wall/floor",
            "2nd run: requests",
            "2nd: txs fetched",
            "2nd: cache hits",
            "exchange totals",
        ],
        left=2,
    )
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="btcwatch-bench-") as tmp:
        for plan in plans:
            first, second, exact, watched = measure(Path(tmp), plan)
            start = f"{plan.start} ({watched:,} req)" if watched else plan.start
            floor = first.requests / plan.rate
            looked_up = second.fetched + second.cached
            hits = second.cached / looked_up if looked_up else 1.0
            table.rows.append(
                [
                    fmt_int(plan.victims),
                    start,
                    fmt_int(first.txs),
                    fmt_int(first.requests),
                    f"{first.requests / max(first.txs, 1):.2f}",
                    f"{plan.rate:g}",
                    f"{first.seconds:.1f}",
                    f"{floor:.1f}",
                    f"{first.seconds / floor:.2f}" if floor else "n/a",
                    fmt_int(second.requests),
                    fmt_int(second.fetched),
                    f"{hits:.0%}",
                    "exact" if exact else "DIFFER",
                ]
            )
            results.append(
                {
                    "plan": plan,
                    "first": first,
                    "second": second,
                    "floor": floor,
                    "hits": hits,
                    "exact": exact,
                }
            )
            print(f"  trace: {plan.victims:,} victims, {plan.start} done", file=sys.stderr)
            table.summary.append(
                (
                    f"Trace, {plan.victims:,} victims, {plan.start}: {first.txs:,} txs",
                    f"{first.requests / max(first.txs, 1):.2f} requests/tx; wall/floor "
                    f"{first.seconds / floor:.2f} at {plan.rate:g} req/s; 2nd run fetched "
                    f"{second.fetched} txs ({hits:.0%} from cache)",
                )
            )
    table.notes += [
        "floor = requests / rate: the shortest time the provider's limiter allows; its window "
        "lets the first second's worth of requests through at once, so small runs can dip "
        "below 1.00",
        "req/tx counts every request (tx, outspends, address history) over the txs in the flow; "
        "after watch (N req): the watch cycle before the trace made N requests (not counted)",
        "2nd run: the same trace again on the same database; cache hits = txs read from the "
        "store / txs looked up; outspends of unspent outputs are asked again (spends are fresh "
        "data)",
        "exchange totals: the traced amounts per exchange equal the simulator's ground truth",
        f"measured in {time.perf_counter() - started:.0f} s",
    ]
    return table, results


def plans(quick: bool) -> list[Plan]:
    if quick:
        return [Plan(300, "cold", 20), Plan(300, "after watch", 20)]
    # 3,000 victims cold is ~2,400 requests: 50/s keeps it under a minute.
    return [
        Plan(300, "cold", 20),
        Plan(300, "after watch", 20),
        Plan(3_000, "cold", 50),
        Plan(3_000, "after watch", 20),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 victims only")
    args = parser.parse_args(argv)
    table, _ = run(plans(args.quick))
    print(table.text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
