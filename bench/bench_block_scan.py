"""Benchmark block parsing and block-scan matching on the real mainnet blocks.

Usage: .venv/bin/python bench/bench_block_scan.py [--repeat N]

For each block in ../shared/data/blocks it prints the size, tx count, the best-of-N time of
``parse_block`` (full objects) and of ``scan_block`` against a 100,000-script watch set (plus
100,000 watched outpoints), and, when python-bitcoinlib is installed, ``CBlock.deserialize`` on
the same bytes with its ratio to ``scan_block``. ``bench/run.py`` calls ``run()``.
"""

from __future__ import annotations

import argparse
import bz2
import random
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_watch_cost import Table  # noqa: E402

from btcwatch.chain.block import unframe_block  # noqa: E402
from btcwatch.chain.scan import scan_block  # noqa: E402
from btcwatch.chain.tx import parse_block  # noqa: E402

BLOCKS = REPO.parent / "shared" / "data" / "blocks"
FILES = [
    "block413567.raw",
    "block702861.raw",
    "block-0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2.blk",
    "block-00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab.blk",
    "block-2011-hex.txt",
    "block744517-hex.txt",
    "block794466-hex.txt",
    "277647.dat.bz2",
]
WATCHED = 100_000


def _load(name: str) -> bytes:
    data = (BLOCKS / name).read_bytes()
    if name.endswith(".bz2"):
        data = bz2.decompress(data)
    if name.endswith(".txt"):
        data = bytes.fromhex(data.decode("ascii"))
    return unframe_block(data)


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _bitcoinlib() -> Callable[[bytes], object] | None:
    try:
        from bitcoin.core import CBlock  # type: ignore[import-untyped]
    except ImportError:
        return None

    def deserialize(raw: bytes) -> object:
        return CBlock.deserialize(raw)

    return deserialize


def _label(name: str) -> str:
    return name if len(name) <= 28 else name[:14] + "…" + name[-13:]


def run(repeat: int = 5) -> Table:
    """Time parse_block, scan_block and (if installed) python-bitcoinlib on every block."""
    rng = random.Random(1)
    scripts = {b"\x00\x14" + rng.randbytes(20) for _ in range(WATCHED)}
    outpoints = {(rng.randbytes(32).hex(), rng.randrange(4)) for _ in range(WATCHED)}
    other = _bitcoinlib()
    columns = ["block file", "bytes", "txs", "matches", "parse_block ms", "scan_block ms"]
    columns += ["scan MB/s", "bitcoinlib ms", "bitcoinlib/scan"]
    table = Table(
        f"Block matching: real mainnet blocks against {len(scripts):,} watched scripts "
        f"+ {len(outpoints):,} outpoints",
        columns,
    )
    ratios: list[float] = []
    scan_ms: list[tuple[float, int, int]] = []  # (ms, bytes, txs)
    for name in FILES:
        raw = _load(name)
        block = parse_block(raw)
        # Watch a few of the block's own outputs too, so matches are part of the work.
        watch_scripts = scripts | {tx.outputs[0].script for tx in block.txs[::50] if tx.outputs}
        found = scan_block(raw, watch_scripts, outpoints)
        t_parse = _best(partial(parse_block, raw), repeat)
        t_scan = _best(partial(scan_block, raw, watch_scripts, outpoints), repeat)
        scan_ms.append((t_scan * 1000, len(raw), len(block.txs)))
        row = [_label(name), f"{len(raw):,}", f"{len(block.txs):,}", f"{len(found.paid):,}"]
        row += [f"{t_parse * 1000:.1f}", f"{t_scan * 1000:.1f}", f"{len(raw) / t_scan / 1e6:.0f}"]
        if other is not None:
            t_other = _best(partial(other, raw), repeat)
            ratios.append(t_other / t_scan)
            row += [f"{t_other * 1000:.1f}", f"{t_other / t_scan:.1f}x"]
        else:
            row += ["n/a", "n/a"]
        table.rows.append(row)
    table.notes.append(
        f"best of {repeat} runs; scan_block verifies the merkle root and proof of work; "
        "bitcoinlib = python-bitcoinlib CBlock.deserialize (no matching, no verification)"
    )
    if other is None:
        table.notes.append("python-bitcoinlib is not installed: `make bench` installs it")
    elif ratios:
        table.notes.append(
            f"scan_block is {min(ratios):.1f}x to {max(ratios):.1f}x faster than "
            "python-bitcoinlib's deserialisation alone"
        )
        table.summary.append(
            (
                "Block matching: scan_block vs python-bitcoinlib CBlock.deserialize",
                f"{min(ratios):.1f}x to {max(ratios):.1f}x faster",
            )
        )
    slowest = max(scan_ms)
    table.summary.append(
        (
            f"Block matching: scan_block against {WATCHED:,} watched addresses, per real block",
            f"{min(scan_ms)[0]:.1f} to {slowest[0]:.1f} ms ({slowest[0]:.1f} ms: "
            f"{slowest[1] / 1e6:.1f} MB, {slowest[2]:,} txs)",
        )
    )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timing runs per block (best kept)")
    args = parser.parse_args(argv)
    if not BLOCKS.is_dir():
        print(f"no block data at {BLOCKS}", file=sys.stderr)
        return 1
    print(f"python {sys.version.split()[0]}")
    print(run(args.repeat).text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
