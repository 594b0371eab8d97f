"""Explorer requests it costs to watch 1,000 / 10,000 / 100,000 addresses.

Three ways of watching the same simulated chain (vastaamo, 1,000 victims) side by side:

  block mode    btcwatch follows the tip and fetches each new block once (tip + raw block),
                matching it locally against the whole watch set
  address mode  btcwatch asks one summary per address per cycle, history only on change
  naive         what simple trackers do: every address's full history, every cycle

The watch set is the 1,000 ransom addresses plus random never-used P2WPKH addresses. The
simulator runs in a child process (its own interpreter, so it does not share our GIL) and
the real watcher runs as `btcwatch watch --once` would: `run_watch`, one cycle per call.

    .venv/bin/python bench/bench_watch_cost.py            # 1k, 10k, 100k (address/naive: 1k, 10k)
    .venv/bin/python bench/bench_watch_cost.py --quick    # 1k, 10k block mode; 1k address/naive
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import httpx

from btcwatch.chain.address import script_to_address
from btcwatch.chain.network import MAINNET
from btcwatch.intake import add_addresses, create_case
from btcwatch.providers.factory import make_provider
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.store import Store
from btcwatch.store.cases import insert_addresses
from btcwatch.watch.runner import CycleReport, WatchOptions
from btcwatch.watch.service import WatchRun, run_watch

SEED = 2020
VICTIMS = 1_000  # ransom addresses in the watch set; the rest are random fillers
BACKGROUND = 5  # unrelated txs per simulated block
CASE = "bench"
STEADY_CYCLES = 5  # block-mode cycles measured after the first one
# Unrelated txs entering the mempool before each measured cycle: mainnet's ~5 tx/s over a
# 5-minute cron interval (POST /_sim/mempool?add=N).
MEMPOOL_INFLOW = 1_500
CONCURRENCY = 16  # the naive poller asks as many addresses at once as address mode does

# -- shared helpers (tables, the simulator in a child process) ----------------------------------


@dataclass(slots=True)
class Table:
    """One benchmark's figures: printed as aligned text, written as Markdown."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: list[tuple[str, str]] = field(default_factory=list)  # (figure, result) headlines
    left: int = 1  # columns aligned left (text); the rest are numbers, aligned right

    def text(self) -> str:
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

        def line(cells: Sequence[str]) -> str:
            padded = [
                cell.ljust(w) if i < self.left else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
            ]
            return "  ".join(padded).rstrip()

        out = [self.title, line(self.columns), "  ".join("-" * w for w in widths)]
        out.extend(line(row) for row in self.rows)
        out.extend(f"  {note}" for note in self.notes)
        return "\n".join(out)

    def markdown(self) -> str:
        out = [f"### {self.title}", ""]
        out.append("| " + " | ".join(self.columns) + " |")
        align = [":---" if i < self.left else "---:" for i in range(len(self.columns))]
        out.append("|" + "|".join(align) + "|")
        out.extend("| " + " | ".join(row) + " |" for row in self.rows)
        if self.notes:
            out.append("")
            out.extend(f"- {note}" for note in self.notes)
        return "\n".join(out)


def _serve(conn: Connection, victims: int, background: int, tip: str) -> None:
    """Child process: generate the scenario, serve it, hand back the URL and ground truth."""
    scenario = vastaamo(victims=victims, seed=SEED, background=background)
    start: Literal["start", "end"] = "end" if tip == "end" else "start"
    chain = SimChain.from_scenario(scenario, tip=start)
    with SimServer(chain) as server:
        conn.send((server.url, scenario.ground_truth()))
        conn.recv()  # any message (or the parent going away) stops the server


class SimProcess:
    """The simulator's Esplora server in its own process; controlled over its /_sim/ routes."""

    def __init__(self, victims: int, background: int = BACKGROUND, tip: str = "start") -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve, args=(child, victims, background, tip), name="bench-sim", daemon=True
        )
        self.url = ""
        self.truth: dict[str, Any] = {}

    def __enter__(self) -> SimProcess:
        self._proc.start()
        try:
            if not self._conn.poll(300):
                raise RuntimeError("the simulator did not start within 300 s")
            self.url, self.truth = self._conn.recv()
        except (EOFError, RuntimeError) as exc:
            self._proc.kill()
            self._proc.join()
            code = self._proc.exitcode
            raise RuntimeError(f"the simulator failed to start (exit code {code})") from exc
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with contextlib.suppress(OSError):  # the child may already be gone
            self._conn.send(None)
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()

    def advance(self, blocks: int = 1) -> int:
        reply = httpx.post(f"{self.url}/_sim/advance", params={"blocks": str(blocks)}, timeout=60)
        reply.raise_for_status()
        return int(reply.json()["tip_height"])

    def add_mempool(self, count: int) -> None:
        reply = httpx.post(f"{self.url}/_sim/mempool", params={"add": str(count)}, timeout=60)
        reply.raise_for_status()

    def tip_height(self) -> int:
        reply = httpx.get(f"{self.url}/blocks/tip/height", timeout=60)
        reply.raise_for_status()
        return int(reply.text)

    def ransom_addresses(self) -> list[str]:
        return [r["address"] for r in self.truth["ransom_addresses"]]


def fmt_int(n: float) -> str:
    return f"{round(n):,}"


# -- the watch set ---------------------------------------------------------------------------


def filler_rows(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Watchlist rows for random, never-used P2WPKH addresses (what a big case adds)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        script = b"\x00\x14" + rng.randbytes(20)
        address = script_to_address(script, MAINNET)
        rows.append(
            {
                "case_name": CASE,
                "address": address,
                "script_hex": script.hex(),
                "script_type": "p2wpkh",
                "role": "other",
                "label": "",
                "note": "",
                "demand": None,
                "source": "bench",
            }
        )
    return rows


def make_case(db: Path, ransom: Sequence[str], fillers: Sequence[dict[str, Any]]) -> None:
    with Store.open(db) as store:
        create_case(store, CASE)
        add_addresses(store, CASE, list(ransom), demand="200EUR then 500EUR after 24h")
        if fillers:
            insert_addresses(store, list(fillers))


def watch_once(
    db: Path, url: str, mode: str, from_height: int | None = None, mempool: str = "hot"
) -> CycleReport:
    options = WatchOptions(CASE, mode, from_height=from_height, mempool=mempool)
    reports = run_watch(db, WatchRun(options, alerts=[], explorers=[url]))
    return reports[-1]


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
class Row:
    watched: int
    block_chain: list[int] = field(default_factory=list)  # block_requests per one-block cycle
    block_total: list[int] = field(default_factory=list)  # requests per one-block cycle
    block_full: list[int] = field(default_factory=list)  # the same with --mempool full
    block_seconds: list[float] = field(default_factory=list)
    address_first: int | None = None
    address_cycle: int | None = None
    address_seconds: float | None = None
    naive_cycle: int | None = None
    naive_seconds: float | None = None
    computed: bool = False


def measure_block(work: Path, watched: int, fillers: list[dict[str, Any]], row: Row) -> None:
    with SimProcess(VICTIMS) as sim:
        db = work / f"block-{watched}.db"
        full_db = work / f"block-full-{watched}.db"  # the same world, --mempool full
        for path in (db, full_db):
            make_case(path, sim.ransom_addresses(), fillers[: watched - VICTIMS])
        # Scan start is stored with second precision; addresses added in that same second
        # would count as "added since" and get a history catch-up. Real cases are older.
        time.sleep(1.1)
        start = sim.tip_height()
        watch_once(db, sim.url, "block", from_height=start)
        watch_once(full_db, sim.url, "block", from_height=start, mempool="full")
        for _ in range(STEADY_CYCLES):
            sim.advance()
            sim.add_mempool(MEMPOOL_INFLOW)
            report = watch_once(db, sim.url, "block")
            if report.blocks_scanned != 1:
                raise RuntimeError(f"expected one new block per cycle: {report.summary()}")
            row.block_chain.append(report.block_requests)
            row.block_total.append(report.requests)
            row.block_seconds.append(report.seconds)
            row.block_full.append(watch_once(full_db, sim.url, "block", mempool="full").requests)


def measure_address(work: Path, watched: int, fillers: list[dict[str, Any]], row: Row) -> None:
    with SimProcess(VICTIMS) as sim:
        db = work / f"address-{watched}.db"
        make_case(db, sim.ransom_addresses(), fillers[: watched - VICTIMS])
        row.address_first = watch_once(db, sim.url, "address").requests
        sim.advance()
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


def run(sizes: Sequence[int], address_sizes: Sequence[int]) -> tuple[Table, list[Row]]:
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
    return _table(rows, time.perf_counter() - started), rows


def _table(rows: list[Row], seconds: float) -> Table:
    table = Table(
        "Watch cost: explorer requests (vastaamo sim, 1,000 victims + random addresses)",
        [
            "watched",
            "block: chain req/blk",
            "block: req/cycle",
            "block full: req/cycle",
            "block: s/cycle",
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
        total = statistics.median(r.block_total)
        table.rows.append(
            [
                fmt_int(r.watched),
                f"{max(r.block_chain)} max",
                f"{fmt_int(total)} median",
                f"{fmt_int(statistics.median(r.block_full))} median",
                f"{statistics.median(r.block_seconds):.2f}",
                "" if r.address_first is None else fmt_int(r.address_first) + mark,
                "" if r.address_cycle is None else fmt_int(r.address_cycle) + mark,
                "" if r.address_seconds is None else f"{r.address_seconds:.1f}",
                "" if r.naive_cycle is None else fmt_int(r.naive_cycle) + mark,
                "" if r.naive_seconds is None else f"{r.naive_seconds:.1f}",
                "" if r.naive_cycle is None else f"{r.naive_cycle / total:,.0f}x",
            ]
        )
    table.notes += [
        f"block mode: {STEADY_CYCLES} cycles of one new block each after a first cycle started "
        "with --from-height (no history catch-up); chain req/block = CycleReport.block_requests "
        "(tip hash, tip block, raw block); req/cycle adds the mempool checks and spend "
        f"destinations, with {MEMPOOL_INFLOW:,} unrelated txs entering the mempool before each "
        "cycle (5 tx/s for 5 minutes): --mempool hot (default) asks /txs/outspends for the "
        "watched outputs (50 per request) and the hot set's /address/:a/txs/mempool (20); "
        "full reads every new mempool tx raw (at most 500 a cycle without a budget)",
        "address mode: 1st cycle = summary + history per address; req/cycle = the next cycle, "
        "one block later (a summary per address, history only for changed ones, tip)",
        "naive: every address's full history every cycle, 16 at a time (provider.address_history)",
        "computed: address = watched + the measured non-per-address requests of the smaller "
        "run; naive = watched x the measured requests per address",
        f"measured in {seconds:.0f} s",
    ]
    sizes = " / ".join(fmt_int(r.watched) for r in rows)
    table.summary += [
        (
            f"Block mode: chain requests per new block ({sizes} addresses)",
            " / ".join(str(max(r.block_chain)) for r in rows),
        ),
        (
            f"Block mode: all requests per one-block cycle, {MEMPOOL_INFLOW:,} new mempool txs, "
            "--mempool hot (median)",
            " / ".join(fmt_int(statistics.median(r.block_total)) for r in rows),
        ),
        (
            "Block mode: the same with --mempool full (median)",
            " / ".join(fmt_int(statistics.median(r.block_full)) for r in rows),
        ),
    ]
    last = rows[-1]
    if last.address_cycle is not None and last.naive_cycle is not None:
        mark = " (computed)" if last.computed else ""
        block = statistics.median(last.block_total)
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
        table, _ = run([1_000, 10_000], [1_000])
    else:
        table, _ = run([1_000, 10_000, 100_000], [1_000, 10_000])
    print(table.text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
