"""`make bench`: run every benchmark, print one table each and a summary, write docs/benchmarks.md.

Benchmarks print figures and ratios measured side by side in one run; nothing here asserts a
time. The Markdown file records the latest full run with the machine it ran on.

    .venv/bin/python bench/run.py                  # everything (about 15 minutes on 2 cores)
    .venv/bin/python bench/run.py --quick          # a smoke run (about 4 minutes), not written
    .venv/bin/python bench/run.py --only watch,blocks
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import bench_block_scan  # noqa: E402
import bench_proofs  # noqa: E402
import bench_push_latency  # noqa: E402
import bench_scale  # noqa: E402
import bench_sim_mainnet  # noqa: E402
import bench_trace  # noqa: E402
import bench_watch_cost  # noqa: E402
from bench_watch_cost import Table  # noqa: E402

DOC = REPO / "docs" / "benchmarks.md"
NAMES = ("watch", "blocks", "trace", "scale", "sim", "push", "proofs")


def machine() -> list[tuple[str, str]]:
    """What the figures depend on: CPU, cores, memory, Python, SQLite, the code's revision."""
    cpu = platform.processor() or "unknown"
    ram = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    except OSError:
        pass
    return [
        ("CPU", cpu),
        ("cores", str(os.cpu_count())),
        ("RAM", ram),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("load average at start", " ".join(f"{x:.2f}" for x in os.getloadavg())),
        ("python-bitcoinlib", _version("python-bitcoinlib")),
        ("btcwatch", f"{_version('btcwatch')} ({_revision()})"),
    ]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _revision() -> str:
    """The commit measured, marked when the measured code (btcwatch/, data/) had uncommitted
    changes; read-only git commands."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "btcwatch", "data"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "no git"
    return f"commit {head}" + (" + uncommitted changes to btcwatch/ or data/" if dirty else "")


def benchmarks(quick: bool) -> dict[str, Callable[[], list[Table]]]:
    """Each benchmark as a call returning its tables; sizes chosen to fit ~15 minutes."""

    def watch() -> list[Table]:
        if quick:
            return bench_watch_cost.run([1_000, 10_000], [1_000])[0]
        return bench_watch_cost.run([1_000, 10_000, 100_000], [1_000, 10_000])[0]

    def blocks() -> list[Table]:
        return [bench_block_scan.run(repeat=1 if quick else 5)]

    def trace() -> list[Table]:
        return [bench_trace.run(bench_trace.plans(quick))[0]]

    def scale() -> list[Table]:
        sizes = [100_000] if quick else [100_000, 1_000_000]
        trace_table, store_table, _ = bench_scale.run(sizes, sizes[-1:])
        return [trace_table, store_table]

    def sim() -> list[Table]:
        return [bench_sim_mainnet.run(blocks=2 if quick else 5)]

    def proofs() -> list[Table]:
        return [bench_proofs.run([300] if quick else [300, 1_000])]

    def push() -> list[Table]:
        return [bench_push_latency.run(samples=8 if quick else 20)]

    return {
        "watch": watch,
        "blocks": blocks,
        "trace": trace,
        "scale": scale,
        "sim": sim,
        "push": push,
        "proofs": proofs,
    }


def summary_table(tables: Sequence[Table]) -> Table:
    summary = Table("Summary", ["figure", "result"], left=2)
    for table in tables:
        summary.rows.extend([figure, result] for figure, result in table.summary)
    return summary


def markdown(
    tables: Sequence[Table], info: list[tuple[str, str]], started: datetime, seconds: float
) -> str:
    out = [
        "# Benchmarks",
        "",
        "<!-- Generated by `make bench` (bench/run.py); edits are overwritten. -->",
        "",
        f"Latest full run: `make bench` (`.venv/bin/python bench/run.py`), "
        f"{started:%Y-%m-%d %H:%M} UTC, {seconds / 60:.1f} minutes in total. Figures are "
        "measured side by side in one run on the machine below; compare ratios rather than "
        "absolute times across machines. The benchmarks, what each one measures and how to run "
        "one alone are described in `bench/README.md`.",
        "",
        "| machine | |",
        "|:---|:---|",
        *(f"| {key} | {value} |" for key, value in info),
        "",
        summary_table(tables).markdown(),
    ]
    for table in tables:
        out += ["", table.markdown()]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", default=",".join(NAMES), help=f"subset of {','.join(NAMES)}")
    parser.add_argument("--out", type=Path, default=DOC, help="where to write the Markdown")
    parser.add_argument(
        "--write",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write the Markdown (default: only for a full run of every benchmark)",
    )
    args = parser.parse_args(argv)
    chosen = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in NAMES]
    if unknown or not chosen:
        parser.error(f"--only takes {', '.join(NAMES)}; got {args.only!r}")
    write = args.write if args.write is not None else (not args.quick and len(chosen) == len(NAMES))

    started_at = datetime.now(UTC)
    started = time.perf_counter()
    info = machine()
    print(", ".join(f"{k}: {v}" for k, v in info), flush=True)
    runs = benchmarks(args.quick)
    tables: list[Table] = []
    failed: list[str] = []
    for name in NAMES:
        if name not in chosen:
            continue
        print(f"\n== {name} ==", file=sys.stderr, flush=True)
        try:
            made = runs[name]()
        except Exception as exc:  # one broken benchmark should not hide the others' figures
            failed.append(name)
            print(f"{name} FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            continue
        for table in made:
            tables.append(table)
            print("\n" + table.text(), flush=True)
    seconds = time.perf_counter() - started
    print("\n" + summary_table(tables).text())
    print(f"\ntotal: {seconds / 60:.1f} minutes", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}; not writing the Markdown", file=sys.stderr)
        return 1
    if write:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(markdown(tables, info, started_at, seconds), encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print("not writing the Markdown (quick or partial run; --write forces it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
