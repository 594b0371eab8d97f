"""Benchmark the simulator's mainnet profile: seconds per ~3,000-transaction block.

Usage: .venv/bin/python bench/bench_sim_mainnet.py [--blocks N] [--victims N]

Builds the Vastaamo story on the mainnet profile (default settings: 5 tx/s into a mempool of
20,000), makes the backlog, then mines ``--blocks`` blocks one at a time. Each block's time is
the wall and CPU time of `advance()` (making the 3,000 transactions that arrived in its ten
simulated minutes, choosing, assembling and mining the block, indexing it) plus serialising
it. Also reported: size, weight, tx count, output script mix, and the time to serve a page
deep in a 100,000-transaction hot wallet. ``bench/run.py`` calls ``run()``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_watch_cost import Table  # noqa: E402

from btcwatch.chain.address import Address  # noqa: E402
from btcwatch.chain.script import ScriptType, classify  # noqa: E402
from btcwatch.sim.mainnet import mainnet_chain, mainnet_scenario  # noqa: E402

MIX = (
    ScriptType.P2WPKH,
    ScriptType.P2TR,
    ScriptType.P2SH,
    ScriptType.P2PKH,
    ScriptType.P2WSH,
    ScriptType.OP_RETURN,
)
_SHORT = {ScriptType.OP_RETURN: "OP_RET"}


def run(blocks: int = 5, victims: int = 300) -> Table:
    """Mine ``blocks`` mainnet-profile blocks and time each one."""
    started = time.perf_counter()
    story = mainnet_scenario(victims, 2020)
    chain = mainnet_chain(story)
    setup = time.perf_counter() - started
    started = time.perf_counter()
    backlog = len(chain.mempool())
    t_backlog = time.perf_counter() - started
    columns = ["height", "txs", "MB", "weight", "wall s", "CPU s"]
    columns += [f"{_SHORT.get(k, str(k))} %" for k in MIX]
    table = Table("Simulator: mainnet-profile blocks (generate + mine + serialise)", columns)
    walls: list[float] = []
    sizes: list[int] = []
    counts: list[int] = []
    for _ in range(blocks):
        wall, cpu = time.perf_counter(), time.process_time()
        chain.advance()
        rec = chain.tip
        data = rec.serialize()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        walls.append(wall)
        sizes.append(len(data))
        counts.append(len(rec.entries))
        kinds: Counter[ScriptType] = Counter()
        for entry in rec.entries[1:]:
            kinds.update(classify(script) for script, _ in entry.outs)
        total = sum(kinds.values()) or 1
        row = [str(rec.height), f"{len(rec.entries):,}", f"{len(data) / 1e6:.2f}"]
        row += [f"{rec.weight:,}", f"{wall:.2f}", f"{cpu:.2f}"]
        row += [f"{100 * kinds[k] / total:.1f}" for k in MIX]
        table.rows.append(row)
    truth = story.ground_truth()
    address = truth["exchanges"][0]["hot_wallets"][0]
    record = chain.address(Address.parse(address, chain.network).script)
    assert record is not None
    deep = record.history[len(record.history) // 2]
    started = time.perf_counter()
    page = chain.history_page(record, deep.txid) or []
    t_page = time.perf_counter() - started
    table.notes.append(
        f"setup (story of {victims} victims + chain to its start) {setup:.1f} s; the backlog of "
        f"{backlog:,} mempool txs made on first look in {t_backlog:.1f} s"
    )
    table.notes.append(
        f"a page of {len(page)} txs at depth {len(record.history) // 2:,} of a "
        f"{len(record.history):,}-tx hot wallet: {t_page * 1000:.0f} ms (made on demand)"
    )
    table.summary.append(
        (
            "Simulator: one mainnet-profile block (generate + mine + serialise)",
            f"median {statistics.median(walls):.2f} s, max {max(walls):.2f} s "
            f"({statistics.median(counts):,.0f} txs, {statistics.median(sizes) / 1e6:.2f} MB)",
        )
    )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=5, help="blocks to mine and time")
    parser.add_argument("--victims", type=int, default=300, help="victims in the story")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}")
    print(run(args.blocks, args.victims).text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
