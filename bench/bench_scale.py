"""Scale: tracing, taint and SQLite storage over flows of 100,000 and 1,000,000 transactions.

Each case runs in its own Python process, so its peak memory (``ru_maxrss``) is its own:

  trace   ``follow()`` from the source (the tracer's real breadth-first search: spenders,
          txs, stop rules, CoinJoin and deposit checks) over a synthetic flow (bench_taint.py
          shapes, a distinct address per output): the peel chain made tx by tx as follow()
          asks (LazyPeel, as a trace reads SQLite), the fan-out tree from a chain built
          first; then ``analyse()`` (taint, change, peel chains, clusters); then, over the
          whole chain built, taint alone (``taint.propagate``, haircut)
  sqlite  store a confirmed peel chain with ``store.chaindata.save_txs`` in batches of 10,000
          (one call per batch, as a trace stores what it fetched), then read 10,000 random txs
          back with ``load_txs``

    .venv/bin/python bench/bench_scale.py                        # 100k; 1M peel chain only
    .venv/bin/python bench/bench_scale.py --all-shapes           # 1M fan-out too (+5 minutes)
    .venv/bin/python bench/bench_scale.py --quick                # 100k only
    .venv/bin/python bench/bench_scale.py --case trace:peel:100000   # one case, JSON out
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench_taint import FEE, SHAPES, SOURCE, _owner, _txid, peel_chain
from bench_watch_cost import Table, fmt_int

from btcwatch.model import BlockRef, OutPoint, Tx, TxIn, TxOut
from btcwatch.store import Store
from btcwatch.store.chaindata import load_txs, save_txs
from btcwatch.trace.analyse import analyse
from btcwatch.trace.follow import Flow, Source, TraceParams, follow
from btcwatch.trace.tagindex import TagIndex
from btcwatch.trace.taint import propagate
from btcwatch.trace.txsource import MemorySource

BATCH = 10_000
BLOCK = BlockRef(700_000, "00" * 32, 1_600_000_000)
CASE_TIMEOUT = 900.0


def _status_mib(field: str) -> float:
    """VmRSS (resident now) or VmHWM (peak since start or the last reset), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


class Memory:
    """Peak resident memory per phase: Linux lets a process reset its high-water mark."""

    def __init__(self) -> None:
        self.peak = 0.0  # of the whole process, over every phase

    def now(self) -> float:
        gc.collect()
        return _status_mib("VmRSS")

    def phase_peak(self) -> float:
        """Peak since the last call (needs /proc/self/clear_refs; else the process's peak)."""
        peak = _status_mib("VmHWM")
        self.peak = max(self.peak, peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        with contextlib.suppress(OSError):  # reset VmHWM to the current RSS
            Path("/proc/self/clear_refs").write_text("5")
        return peak


class LazyPeel:
    """A `TxSource` over ``peel_chain(n, distinct=True)`` that makes each tx when asked.

    A real trace reads its txs one hop at a time from SQLite or the explorer and holds only
    the flow; this source does the same instead of holding the whole chain (1 GiB at 1M txs)
    and a spender index beside the flow. The txs are equal to peel_chain's, and as there each
    input shares its txid, script and address objects with the output it spends (the source
    keeps the last tx it made). Its calls are not timed one by one (a CPU clock read costs
    ~1 us here, 4 per hop): `source_cpu` replays them alone after the trace.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.first = n * (1_000 + FEE) + 100_000
        self.last: Tx | None = None
        self.fetched = 0

    def sources(self) -> dict[OutPoint, int]:
        return {SOURCE: self.first}

    def _index(self, txid: str) -> int | None:
        try:
            i = int(txid, 16)
        except ValueError:
            return None
        return i if 0 <= i < self.n and txid == _txid(i) else None

    def _make(self, txid: str, i: int) -> Tx:
        value = self.first - i * (1_000 + FEE)
        last = self.last
        if i and last is not None and last.txid == _txid(i - 1):
            spent = last.outputs[1]
            prev, prev_script, prev_address = OutPoint(last.txid, 1), spent.script, spent.address
        elif i:
            prev = OutPoint(_txid(i - 1), 1)
            prev_script, prev_address = _owner(2 * i, True)
        else:
            prev = SOURCE
            prev_script, prev_address = _owner(0, True)
        tx = Tx(
            txid,
            2,
            0,
            (TxIn(prev, 0xFFFFFFFD, value, prev_script, prev_address),),
            (
                TxOut(1_000, *_owner(2 * i + 1, True)),
                TxOut(value - 1_000 - FEE, *_owner(2 * i + 2, True)),
            ),
        )
        self.last = tx
        return tx

    async def txs(self, txids: Iterable[str]) -> dict[str, Tx]:
        found: dict[str, Tx] = {}
        for txid in txids:
            i = self._index(txid)
            if i is not None:
                found[txid] = self._make(txid, i)
        self.fetched += len(found)
        return found

    async def spenders(self, outpoints: Sequence[OutPoint]) -> dict[OutPoint, str | None]:
        found: dict[OutPoint, str | None] = {}
        for op in outpoints:
            i = -1 if op == SOURCE else self._index(op.txid) if op.vout == 1 else None
            found[op] = _txid(i + 1) if i is not None and i + 1 < self.n else None
        return found


def source_cpu(n: int) -> float:
    """CPU seconds a fresh LazyPeel takes to answer what follow() asked of it over the whole
    chain (per hop: the spenders of the peel and the change, then the next tx), replayed
    alone. The replay loop's own few steps per hop are counted in too: an upper bound."""
    source = LazyPeel(n)

    async def replay() -> None:
        await source.txs([SOURCE.txid])
        await source.spenders([SOURCE])
        await source.txs([_txid(0)])
        for i in range(n):
            txid = source.last.txid if source.last is not None else _txid(i)
            change = OutPoint(txid, 1)
            answers = await source.spenders([OutPoint(txid, 0), change])
            after = answers[change]
            if after is not None:
                await source.txs([after])

    started = time.process_time()
    asyncio.run(replay())
    return time.process_time() - started


def trace_case(shape: str, size: int) -> dict[str, Any]:
    """follow() + analyse() first (the peel chain made lazily, as a trace reads it; other
    shapes over a MemorySource built first), then the chain built whole for taint alone."""
    out: dict[str, Any] = {"kind": "trace", "shape": shape, "size": size}
    memory = Memory()
    lazy = shape == "peel"
    out["source"] = "lazy" if lazy else "memory"
    started = time.perf_counter()
    chain: LazyPeel | MemorySource
    if lazy:
        chain = LazyPeel(size)
        sources = chain.sources()
    else:
        sources, txs = SHAPES[shape](size, distinct=True)
        chain = MemorySource(txs)
        del txs
    out["build_s"] = time.perf_counter() - started
    out["rss_built_mib"] = built = memory.now()
    memory.phase_peak()

    params = TraceParams(hops=10**9, max_txs=10**9)  # follow every hop of the chain
    box: list[Flow] = []

    async def go(source: LazyPeel | MemorySource) -> None:  # asyncio.run on 3.11 repr()s results
        found = [Source(op, value, None) for op, value in sources.items()]
        box.append(await follow(source, found, params, TagIndex()))

    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    asyncio.run(go(chain))
    out["follow_s"] = time.perf_counter() - started
    out["follow_cpu_s"] = time.process_time() - cpu
    flow = box.pop()
    out["flow_txs"] = len(flow.txs)
    out["stops"] = len(flow.stops)
    # A real trace reads the chain from SQLite and the explorer; only the flow stays in
    # memory. Drop an in-memory chain (the txs dict and its spender index) as it would.
    del chain
    gc.collect()

    started, cpu = time.perf_counter(), time.process_time()
    result = analyse(flow, params)
    out["analyse_s"] = time.perf_counter() - started
    out["analyse_cpu_s"] = time.process_time() - cpu
    out["endpoints"] = len(result.endpoints)
    out["trace_extra_mib"] = memory.phase_peak() - built
    out["rss_peak_mib"] = memory.peak  # of the process up to here: what a trace holds
    del result, flow
    gc.collect()
    out["source_s"] = source_cpu(size) if lazy else 0.0

    started = time.perf_counter()
    sources, txs = SHAPES[shape](size, distinct=True)
    out["taint_build_s"] = time.perf_counter() - started
    built = memory.now()
    memory.phase_peak()
    started = time.perf_counter()
    taint = propagate(sources, txs, "haircut")
    out["taint_s"] = time.perf_counter() - started
    out["tainted_txs"] = len(taint)
    out["taint_extra_mib"] = memory.phase_peak() - built
    out["taint_rss_peak_mib"] = memory.peak
    return out


def sqlite_case(size: int, work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "sqlite", "shape": "peel", "size": size}
    started = time.perf_counter()
    _, by_id = peel_chain(size, distinct=True, block=BLOCK)
    txs = list(by_id.values())
    out["build_s"] = time.perf_counter() - started
    rows = sum(1 + len(tx.inputs) + len(tx.outputs) for tx in txs)
    db = work / "scale.db"
    with Store.open(db) as store:
        started = time.perf_counter()
        for start in range(0, len(txs), BATCH):
            save_txs(store, txs[start : start + BATCH])
        out["save_s"] = time.perf_counter() - started
        wanted = random.Random(1).sample(list(by_id), min(10_000, size))
        started = time.perf_counter()
        back = load_txs(store, wanted)
        out["load_s"] = time.perf_counter() - started
        out["loaded"] = len(back)
        out["loaded_equal"] = all(back[t] == by_id[t] for t in wanted)
    out["rows"] = rows
    out["db_mb"] = sum(p.stat().st_size for p in work.glob("scale.db*")) / 1e6
    out["rss_peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_case(spec: str) -> dict[str, Any]:
    """``trace:<shape>:<size>`` or ``sqlite:<size>``, in this process."""
    parts = spec.split(":")
    if parts[0] == "trace" and len(parts) == 3 and parts[1] in SHAPES:
        return trace_case(parts[1], int(parts[2]))
    if parts[0] == "sqlite" and len(parts) == 2:
        with tempfile.TemporaryDirectory(prefix="btcwatch-bench-") as tmp:
            return sqlite_case(int(parts[1]), Path(tmp))
    raise SystemExit(f"bad case {spec!r}: use trace:peel|fanout:N or sqlite:N")


def spawn_case(spec: str) -> dict[str, Any]:
    """Run one case in a fresh interpreter (its own peak memory); returns its JSON."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--case", spec],
        capture_output=True,
        text=True,
        timeout=CASE_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scale case {spec} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    result["wall_s"] = time.perf_counter() - started
    print(f"  scale: {spec} done in {result['wall_s']:.0f} s", file=sys.stderr, flush=True)
    return result


def run(
    sizes: Sequence[int],
    sqlite_sizes: Sequence[int],
    big_shapes: Sequence[str] = ("peel",),
) -> tuple[Table, Table, list[Any]]:
    """Trace cases for every shape up to 100,000 txs, only ``big_shapes`` above (time)."""
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    for size in sizes:
        for shape in SHAPES if size <= 100_000 else big_shapes:
            results.append(spawn_case(f"trace:{shape}:{size}"))
    stored = [spawn_case(f"sqlite:{size}") for size in sqlite_sizes]
    trace = Table(
        "Scale: tracing and taint over synthetic flows (one process per row)",
        [
            "shape",
            "txs",
            "build s",
            "taint s",
            "follow s",
            "of which source s",
            "analyse s",
            "follow+analyse CPU s",
            "follow+analyse µs/tx",
            "RSS built MiB",
            "taint +MiB",
            "follow+analyse +MiB",
            "peak RSS MiB",
        ],
    )
    for r in results:
        per_tx = (r["follow_s"] + r["analyse_s"]) / r["size"] * 1e6
        trace.rows.append(
            [
                r["shape"],
                fmt_int(r["size"]),
                f"{r['taint_build_s']:.1f}",
                f"{r['taint_s']:.2f}",
                f"{r['follow_s']:.1f}",
                f"{r['source_s']:.1f}",
                f"{r['analyse_s']:.1f}",
                f"{r['follow_cpu_s'] + r['analyse_cpu_s']:.1f}",
                f"{per_tx:.0f}",
                fmt_int(r["rss_built_mib"]),
                fmt_int(r["taint_extra_mib"]),
                fmt_int(r["trace_extra_mib"]),
                fmt_int(r["rss_peak_mib"]),
            ]
        )
    trace.notes += [
        "peel: every tx spends the previous change and peels 1,000 sat to a new address; "
        "fanout: a 4-ary tree, every third tx with an untainted outsider input",
        "follow = trace.follow.follow, every hop followed, no I/O: the peel chain's txs are "
        "made on demand by a lazy source (bench_scale.LazyPeel; 'of which source s' is the "
        "CPU time of making them, the stand-in for reading SQLite, replayed alone after the "
        "trace; follow s, CPU s and µs/tx include it), so the process holds what a real "
        "trace holds, the flow; fanout follows an in-memory chain (MemorySource, "
        "built first, dropped after follow); analyse = trace.analyse.analyse (taint again, "
        "change, peel chains, clusters, endpoints); CPU s = process time of follow + analyse "
        "(on a shared machine wall time also counts waiting for a core)",
        "build = generating the whole chain as Tx objects for taint alone (not btcwatch work), "
        "after follow + analyse; taint = taint.propagate, haircut, alone, over that chain",
        "RSS built = resident memory before follow (the interpreter; for fanout also the "
        "in-memory chain); +MiB = the phase's peak resident memory above that (the "
        "high-water mark is reset between phases through /proc/self/clear_refs); peak RSS = "
        "the whole process up to the end of analyse (the taint-alone phase runs after it)",
        "bench/bench_taint.py compares the three taint policies (haircut, poison, fifo)",
    ]
    if any(size > 100_000 for size in sizes) and set(big_shapes) != set(SHAPES):
        trace.notes.append(
            "above 100,000 txs only " + ", ".join(big_shapes) + " runs, to keep `make bench` "
            "short; bench_scale.py --all-shapes runs fanout at 1,000,000 too (~5 minutes)"
        )
    for r in results:
        trace.summary.append(
            (
                f"Trace {r['shape']} flow of {fmt_int(r['size'])} txs: follow + analyse",
                f"{r['follow_s']:.1f} s + {r['analyse_s']:.1f} s "
                f"(CPU {r['follow_cpu_s'] + r['analyse_cpu_s']:.1f} s, of which making txs "
                f"{r['source_s']:.1f} s; taint alone "
                f"{r['taint_s']:.1f} s), peak RSS {fmt_int(r['rss_peak_mib'])} MiB",
            )
        )
    store = Table(
        "Scale: storing transactions in SQLite (store.chaindata.save_txs, file database, WAL)",
        [
            "txs",
            "rows (tx+in+out)",
            "save s",
            "txs/s",
            "rows/s",
            "DB MB",
            "load_txs 10k s",
            "read back equal",
            "peak RSS MiB",
        ],
    )
    for r in stored:
        store.rows.append(
            [
                fmt_int(r["size"]),
                fmt_int(r["rows"]),
                f"{r['save_s']:.1f}",
                fmt_int(r["size"] / r["save_s"]),
                fmt_int(r["rows"] / r["save_s"]),
                fmt_int(r["db_mb"]),
                f"{r['load_s']:.2f}",
                "yes" if r["loaded_equal"] else "NO",
                fmt_int(r["rss_peak_mib"]),
            ]
        )
    for r in stored:
        store.summary.append(
            (
                f"SQLite: save_txs of {fmt_int(r['size'])} txs",
                f"{r['save_s']:.0f} s: {fmt_int(r['size'] / r['save_s'])} txs/s, "
                f"{fmt_int(r['rows'] / r['save_s'])} rows/s",
            )
        )
    store.notes += [
        f"save_txs called once per {BATCH:,} txs (one write transaction each); a peel chain, "
        "1 input and 2 outputs per tx, distinct addresses",
        "load_txs: 10,000 random txids read back as Tx objects (compared with what was saved)",
        f"both tables measured in {time.perf_counter() - started:.0f} s",
    ]
    return trace, store, [*results, *stored]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k only")
    parser.add_argument("--all-shapes", action="store_true", help="fanout at 1M too (slow)")
    parser.add_argument("--case", help="run one case in this process and print its JSON")
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(args.case)))
        return 0
    sizes = [100_000] if args.quick else [100_000, 1_000_000]
    big = tuple(SHAPES) if args.all_shapes else ("peel",)
    trace, store, _ = run(sizes, sizes[-1:], big)
    print(trace.text(), store.text(), sep="\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
