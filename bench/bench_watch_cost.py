"""Explorer requests and CPU a watch tick costs at 1,000 / 10,000 / 100,000 addresses.

On the simulator's mainnet profile (`sim serve --profile mainnet`: ~3,000-tx blocks, a mempool
fed at 5 tx/s in simulated time over a backlog of 20,000), the Vastaamo story with 1,000
victims. Each tick moves simulated time and mines one block, then runs one cycle of the real
watcher (`run_watch`, as `btcwatch watch --once` from cron):

  block mode, --mempool hot (default)  the tip, each new block raw, matched locally; the
                watched outputs' spends by /txs/outspends; the hot set's mempool
  block mode, --mempool full           the same, reading every new mempool tx raw instead
  address mode  one summary per address per cycle, history only on change
  naive         what simple trackers do: every address's full history, every cycle

Each hot tick is printed beside its target: 3 per new block + ceil(unspent watched txs / 50) +
the hot set's size, independent of the mempool's traffic. The watch set is the 1,000 ransom
addresses plus random never-used P2WPKH addresses. The simulator runs in a child process, so
the process time measured here is the watcher's own.

    .venv/bin/python bench/bench_watch_cost.py            # 1k, 10k, 100k (address/naive: 1k, 10k)
    .venv/bin/python bench/bench_watch_cost.py --quick    # 1k, 10k block mode; 1k address/naive
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlib import (
    CASE,
    SimProcess,
    Table,
    filler_rows,
    fmt_int,
    make_case,
    watch_once,
)

from btcwatch.providers.factory import make_provider
from btcwatch.store import Store
from btcwatch.store.events import get_state
from btcwatch.store.watchstate import watched_outputs
from btcwatch.watch.hotset import DEFAULT_HOT_SET, hot_addresses
from btcwatch.watch.watchset import load_watchset

__all__ = ["CASE", "SimProcess", "Table", "filler_rows", "fmt_int", "make_case", "watch_once"]

VICTIMS = 1_000  # ransom addresses in the watch set; the rest are random fillers
STEADY_CYCLES = 5  # block-mode ticks measured after the first one
QUIET_CYCLES = 2  # then ticks with the mempool's inflow stopped (0 tx/s), --mempool hot
INTERVAL = 300.0  # simulated seconds between two cron ticks (5 minutes)
RATE = 5.0  # mempool inflow, tx per simulated second (the mainnet profile's default)
OUTSPENDS_BATCH = 50
WINDOW_BEFORE = 2  # the measured ticks start this many blocks before the first sweep
CONCURRENCY = 16  # the naive poller asks as many addresses at once as address mode does


async def naive_cycle(url: str, addresses: Sequence[str]) -> int:
    """One cycle of a naive tracker: each address's full history (all pages); returns requests."""
    provider = make_provider(url)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(address: str) -> None:
        async with gate:
            await provider.address_history(address)

    try:
        await asyncio.gather(*(one(a) for a in addresses))
        return provider.requests
    finally:
        await provider.aclose()


def run_naive(url: str, addresses: Sequence[str]) -> tuple[int, float]:
    box: list[int] = []

    async def go() -> None:  # returns None: asyncio.run on 3.11 repr()s what it returns
        box.append(await naive_cycle(url, addresses))

    started = time.perf_counter()
    asyncio.run(go())
    return box[0], time.perf_counter() - started


# -- measurements ----------------------------------------------------------------------------


@dataclass(slots=True)
class Tick:
    """One measured block-mode tick: requests and the target, CPU and wall seconds."""

    chain: int  # CycleReport.block_requests: tip hash, tip block, raw block
    requests: int  # all requests of the tick, --mempool hot
    target: int  # 3 per new block + ceil(unspent watched txs / 50) + the hot set
    hot_set: int
    unspent_txs: int
    spend_fetches: int  # GET /tx/:txid: a spending tx, when seen and at its confirmation
    cpu: float  # process time of the watcher (the simulator runs in another process)
    seconds: float
    full_requests: int = 0  # the same tick of the same world with --mempool full
    full_cpu: float = 0.0
    arrived: int = 0  # mempool txs that arrived since the tick before


@dataclass(slots=True)
class Row:
    watched: int
    ticks: list[Tick] = field(default_factory=list)
    quiet: list[Tick] = field(default_factory=list)  # the inflow stopped: 0 tx/s
    address_first: int | None = None
    address_cycle: int | None = None
    address_seconds: float | None = None
    naive_cycle: int | None = None
    naive_seconds: float | None = None
    computed: bool = False


def hot_set_size(db: Path) -> int:
    """The hot set the next tick will read (what `modes.BlockMode._mempool_work` chooses)."""
    with Store.open(db) as store:
        ws = load_watchset(store, CASE)
        outputs = watched_outputs(store, CASE)
        tip = get_state(store, "tip_height")
        return len(hot_addresses(ws, outputs, tip if isinstance(tip, int) else 0, DEFAULT_HOT_SET))


def unspent_txs(db: Path) -> set[str]:
    """Txs with a confirmed watched output not finally spent: what /txs/outspends asks about."""
    with Store.open(db) as store:
        outputs = watched_outputs(store, CASE)
    return {
        o.outpoint.txid
        for o in outputs
        if o.height is not None and (o.spent_by is None or o.spent_height is None)
    }


def measured_tick(db: Path, sim: SimProcess, mempool: str = "hot") -> Tick:
    """One cycle, its requests by route (the simulator counts them) and its target.

    The target's unspent txs are those open before the tick and those its block added (a
    spend the block confirms is asked about once more: the tick's watch set is loaded first).
    """
    hot = hot_set_size(db)
    before_txs, before = unspent_txs(db), sim.route_counts()
    cpu = time.process_time()
    report = watch_once(db, sim.url, "block", mempool=mempool)
    cpu = time.process_time() - cpu
    routes = sim.route_counts() - before
    if report.blocks_scanned != 1:
        raise RuntimeError(f"expected one new block per tick: {report.summary()}")
    unspent = len(before_txs | unspent_txs(db))
    target = 3 * report.blocks_scanned + math.ceil(unspent / OUTSPENDS_BATCH) + hot
    return Tick(
        report.block_requests,
        report.requests,
        target,
        hot,
        unspent,
        routes["GET /tx/:txid"],
        cpu,
        report.seconds,
    )


def next_tick(sim: SimProcess) -> int:
    """One block, then the cron interval of simulated time; returns the txs that arrived."""
    before = int(sim.mempool_state()["traffic_due"])
    sim.advance()
    after = int(sim.advance_time(INTERVAL)["traffic_due"])
    return after - before


def measure_block(work: Path, watched: int, fillers: list[dict[str, Any]], row: Row) -> None:
    with SimProcess(VICTIMS, profile="mainnet") as sim:
        db = work / f"block-{watched}.db"
        full_db = work / f"block-full-{watched}.db"  # the same world, --mempool full
        for path in (db, full_db):
            make_case(path, sim.ransom_addresses(), fillers[: watched - VICTIMS])
        # Scan start is stored with second precision; addresses added in that same second
        # would count as "added since" and get a history catch-up. Real cases are older.
        time.sleep(1.1)
        # The measured window: the last blocks of the payments and the first sweeps. The
        # first cycle scans the story from its start (before the first payment) to there.
        start = sim.tip_height()
        sim.advance(min(s["height"] for s in sim.truth["sweeps"]) - WINDOW_BEFORE - start)
        watch_once(db, sim.url, "block", from_height=start)
        watch_once(full_db, sim.url, "block", from_height=start, mempool="full")
        for _ in range(STEADY_CYCLES):
            arrived = next_tick(sim)
            tick = measured_tick(db, sim)
            full = measured_tick(full_db, sim, "full")
            tick.full_requests, tick.full_cpu, tick.arrived = full.requests, full.cpu, arrived
            row.ticks.append(tick)
        sim._post("/_sim/mempool", rate=0)
        for _ in range(QUIET_CYCLES):
            arrived = next_tick(sim)
            tick = measured_tick(db, sim)
            tick.arrived = arrived
            row.quiet.append(tick)


def measure_address(work: Path, watched: int, fillers: list[dict[str, Any]], row: Row) -> None:
    with SimProcess(VICTIMS, profile="mainnet") as sim:
        db = work / f"address-{watched}.db"
        make_case(db, sim.ransom_addresses(), fillers[: watched - VICTIMS])
        row.address_first = watch_once(db, sim.url, "address").requests
        next_tick(sim)
        report = watch_once(db, sim.url, "address")
        row.address_cycle, row.address_seconds = report.requests, report.seconds
        addresses = sim.ransom_addresses() + [r["address"] for r in fillers[: watched - VICTIMS]]
        row.naive_cycle, row.naive_seconds = run_naive(sim.url, addresses)


def computed_row(watched: int, base: Row) -> Row:
    """Address and naive figures for ``watched`` addresses from a measured, smaller row."""
    assert base.address_cycle is not None and base.naive_cycle is not None
    assert base.address_first is not None
    row = Row(watched, computed=True)
    # Address mode: one summary per address, plus what did not scale (tip, changed histories).
    row.address_cycle = watched + (base.address_cycle - base.watched)
    row.address_first = 2 * watched + (base.address_first - 2 * base.watched)
    # Naive: the measured requests per address (history pages), times the addresses.
    row.naive_cycle = round(base.naive_cycle / base.watched * watched)
    return row


def run(sizes: Sequence[int], address_sizes: Sequence[int]) -> tuple[list[Table], list[Row]]:
    started = time.perf_counter()
    fillers = filler_rows(max(sizes) - VICTIMS)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="btcwatch-bench-") as tmp:
        work = Path(tmp)
        for watched in sizes:
            row = Row(watched)
            measure_block(work, watched, fillers, row)
            if watched in address_sizes:
                measure_address(work, watched, fillers, row)
            elif rows and rows[-1].address_cycle is not None:
                extra = computed_row(watched, rows[-1])
                row.address_first, row.address_cycle = extra.address_first, extra.address_cycle
                row.naive_cycle, row.computed = extra.naive_cycle, True
            rows.append(row)
            print(f"  watch cost: {watched:,} addresses done", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    return [_tick_table(rows, seconds), _modes_table(rows)], rows


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def _ok(t: Tick) -> bool:
    """Within the target, spending txs fetched (outside it by design) set apart."""
    return t.requests <= t.target + t.spend_fetches


def _tick(t: Tick) -> str:
    extra = f"+{t.spend_fetches}" if t.spend_fetches else ""
    return f"{t.requests}/{t.target}{extra}"


def _tick_table(rows: list[Row], seconds: float) -> Table:
    table = Table(
        "Watch cost on the mainnet profile: one block-mode tick (one ~3,000-tx block, "
        f"{RATE:g} tx/s into the mempool, {INTERVAL / 60:g}-minute interval)",
        [
            "watched",
            "chain req/blk",
            "hot: req/tick",
            "target",
            "spend txs fetched",
            "within target",
            "hot, 0 tx/s: req/target",
            "full: req/tick",
            "hot: CPU s/tick",
            "full: CPU s/tick",
            "hot: wall s/tick",
            "new mempool txs/tick",
        ],
    )
    for r in rows:
        hot = [t.requests for t in r.ticks]
        targets = [t.target for t in r.ticks]
        table.rows.append(
            [
                fmt_int(r.watched),
                f"{max(t.chain for t in r.ticks)} max",
                f"{fmt_int(_median(hot))} median, {max(hot)} max",
                f"{fmt_int(_median(targets))} median, {max(targets)} max",
                str(sum(t.spend_fetches for t in r.ticks)),
                f"{sum(_ok(t) for t in r.ticks)} of {len(r.ticks)}",
                ", ".join(_tick(t) for t in r.quiet),
                fmt_int(_median([t.full_requests for t in r.ticks])) + " median",
                f"{_median([t.cpu for t in r.ticks]):.2f}",
                f"{_median([t.full_cpu for t in r.ticks]):.2f}",
                f"{_median([t.seconds for t in r.ticks]):.2f}",
                fmt_int(_median([t.arrived for t in r.ticks])),
            ]
        )
    last = rows[-1].ticks
    table.notes += [
        f"the Vastaamo story ({VICTIMS:,} victims) on the mainnet profile; the first cycle "
        "scans it with --from-height from its start (before the first payment) to "
        f"{WINDOW_BEFORE} blocks before the first sweep; then {STEADY_CYCLES} measured ticks, "
        "each: the simulator mines one block (its clock moves to the block's time, 10 minutes "
        f"after the last), then {INTERVAL:.0f} s of simulated time pass; traffic arrives at "
        f"{RATE:g} tx/s, ~{RATE * 600:,.0f} new mempool txs per tick (the blocks mine the "
        "20,000-tx backlog first in, first out)",
        "target = 3 per new block + ceil(unspent watched txs / 50) + the hot set's size, per "
        "tick from the case's database (the hot set the tick chose, default size "
        f"{DEFAULT_HOT_SET}; txs with a confirmed watched output not finally spent, before the "
        "tick or added by its block); outside it by design, counted by the simulator: GET "
        "/tx/:txid for each tx spending watched money, when first seen (where the money went) "
        "and at its confirmation (the full tx with prevouts); last size's ticks, "
        "measured/target+spend txs: " + ", ".join(_tick(t) for t in last),
        f"hot, 0 tx/s: {QUIET_CYCLES} more ticks with the inflow stopped "
        "(POST /_sim/mempool?rate=0), measured/target: the tick's cost follows the watched "
        "money (hot set, unspent txs), not the mempool's traffic",
        "full: the same ticks of the same world with --mempool full (every new mempool tx read "
        "raw, at most 500 a tick without a budget: loopback has none)",
        "CPU s/tick: process time of the watcher (run_watch; the simulator runs in its own "
        "process), the block's parse and match against the whole watch set included",
        f"measured in {seconds:.0f} s",
    ]
    sizes = " / ".join(fmt_int(r.watched) for r in rows)

    def per_size(fn: Any) -> str:
        return " / ".join(fn(r) for r in rows)

    def within(ticks: Any) -> str:
        every = [t for r in rows for t in ticks(r)]
        return f"{sum(_ok(t) for t in every)} of {len(every)}"

    table.summary += [
        (
            f"Watch tick, mainnet profile: chain requests per new block ({sizes} addresses)",
            per_size(lambda r: str(max(t.chain for t in r.ticks))),
        ),
        (
            f"Watch tick, mainnet profile, {RATE:g} tx/s, --mempool hot: requests per tick, "
            "median (max), vs target 3/block + ceil(unspent/50) + hot set",
            per_size(
                lambda r: (
                    f"{fmt_int(_median([t.requests for t in r.ticks]))}"
                    f" ({max(t.requests for t in r.ticks)})"
                )
            )
            + " vs "
            + per_size(
                lambda r: (
                    f"{fmt_int(_median([t.target for t in r.ticks]))}"
                    f" ({max(t.target for t in r.ticks)})"
                )
            )
            + f"; within target (+ spending txs fetched) in {within(lambda r: r.ticks)} ticks, "
            + f"{within(lambda r: r.quiet)} at 0 tx/s",
        ),
        (
            "Watch tick, mainnet profile: the same with --mempool full (median)",
            per_size(lambda r: fmt_int(_median([t.full_requests for t in r.ticks]))),
        ),
        (
            "Watch tick, mainnet profile: CPU seconds per tick, hot / full (median)",
            "hot "
            + per_size(lambda r: f"{_median([t.cpu for t in r.ticks]):.2f}")
            + ", full "
            + per_size(lambda r: f"{_median([t.full_cpu for t in r.ticks]):.2f}"),
        ),
    ]
    return table


def _modes_table(rows: list[Row]) -> Table:
    table = Table(
        "Watch cost: block mode vs address mode vs a naive poller (mainnet profile)",
        [
            "watched",
            "block hot: req/tick",
            "address: 1st cycle",
            "address: req/cycle",
            "address: s/cycle",
            "naive: req/cycle",
            "naive: s/cycle",
            "naive/block",
        ],
    )
    for r in rows:
        mark = " (computed)" if r.computed else ""
        total = _median([t.requests for t in r.ticks])
        table.rows.append(
            [
                fmt_int(r.watched),
                fmt_int(total),
                "" if r.address_first is None else fmt_int(r.address_first) + mark,
                "" if r.address_cycle is None else fmt_int(r.address_cycle) + mark,
                "" if r.address_seconds is None else f"{r.address_seconds:.1f}",
                "" if r.naive_cycle is None else fmt_int(r.naive_cycle) + mark,
                "" if r.naive_seconds is None else f"{r.naive_seconds:.1f}",
                "" if r.naive_cycle is None else f"{r.naive_cycle / total:,.0f}x",
            ]
        )
    table.notes += [
        "address mode: 1st cycle = summary + history per address; req/cycle = the next cycle, "
        "one tick later (a summary per address, history only for changed ones, tip)",
        "naive: every address's full history every cycle, 16 at a time (provider.address_history)",
        "computed: address = watched + the measured non-per-address requests of the smaller "
        "run; naive = watched x the measured requests per address (loopback HTTP to the "
        "Python simulator answers ~350 requests/s: 100,000 addresses a cycle would take minutes)",
    ]
    last = rows[-1]
    if last.address_cycle is not None and last.naive_cycle is not None:
        mark = " (computed)" if last.computed else ""
        block = _median([t.requests for t in last.ticks])
        table.summary += [
            (
                f"Address mode: requests per cycle at {fmt_int(last.watched)} addresses",
                fmt_int(last.address_cycle) + mark,
            ),
            (
                f"Naive poller: requests per cycle at {fmt_int(last.watched)} addresses",
                f"{fmt_int(last.naive_cycle)}{mark}, {last.naive_cycle / block:,.0f}x block mode",
            ),
        ]
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k only (a smoke run)")
    args = parser.parse_args(argv)
    if args.quick:
        tables, _ = run([1_000, 10_000], [1_000])
    else:
        tables, _ = run([1_000, 10_000, 100_000], [1_000, 10_000])
    print("\n\n".join(t.text() for t in tables))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
