"""Benchmark block parsing and block-scan matching on the real mainnet blocks.

Usage: .venv/bin/python bench/bench_block_scan.py [--repeat N]

For each block in ../shared/data/blocks it prints the size, tx count, the best-of-N time of
``parse_block`` (full objects) and of ``scan_block`` against a 100,000-script watch set (plus
100,000 watched outpoints), and, when python-bitcoinlib is installed, ``CBlock.deserialize`` on
the same bytes with its ratio to ``scan_block``.
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

from btcwatch.chain.tx import parse_block, scan_block, unframe_block  # noqa: E402

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timing runs per block (best kept)")
    args = parser.parse_args()
    if not BLOCKS.is_dir():
        print(f"no block data at {BLOCKS}", file=sys.stderr)
        return 1

    rng = random.Random(1)
    scripts = {b"\x00\x14" + rng.randbytes(20) for _ in range(WATCHED)}
    outpoints = {(rng.randbytes(32).hex(), rng.randrange(4)) for _ in range(WATCHED)}
    other = _bitcoinlib()
    print(f"python {sys.version.split()[0]}; watch set: {len(scripts):,} scripts, ", end="")
    print(f"{len(outpoints):,} outpoints; best of {args.repeat} runs")
    if other is None:
        print("python-bitcoinlib not installed")

    head = f"{'block file':<28} {'bytes':>10} {'txs':>6} {'parse_block':>12} {'scan_block':>11}"
    if other is not None:
        head += f" {'bitcoinlib':>11} {'bitcoinlib/scan':>16}"
    print(head)
    print("-" * len(head))
    for name in FILES:
        raw = _load(name)
        block = parse_block(raw)
        # Watch a few of the block's own outputs too, so matches are part of the work.
        watch_scripts = scripts | {tx.outputs[0].script for tx in block.txs[::50] if tx.outputs}
        t_parse = _best(partial(parse_block, raw), args.repeat)
        t_scan = _best(partial(scan_block, raw, watch_scripts, outpoints), args.repeat)
        label = name if len(name) <= 28 else name[:14] + "…" + name[-13:]
        row = f"{label:<28} {len(raw):>10,} {len(block.txs):>6,} "
        row += f"{t_parse * 1000:>9.1f} ms {t_scan * 1000:>8.1f} ms"
        if other is not None:
            t_other = _best(partial(other, raw), args.repeat)
            row += f" {t_other * 1000:>8.1f} ms {t_other / t_scan:>15.1f}x"
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
