"""Micro-benchmark for btcwatch.trace.taint.propagate on synthetic flows.

Two shapes, each one tx per step:
  peel   a peel chain: every tx spends the previous change and pays a small peel
  fanout a tree: every tx pays 4 outputs, each spent by the next generation; every third tx
         also spends an untainted 546-sat outsider input (so haircut splits are fractional)

The generators are shared with bench/bench_scale.py, which asks for a distinct address per
output (``distinct=True``) so that clustering and change heuristics see a realistic flow.

Time is measured without tracemalloc (which slows allocation); peak memory in a second run
with tracemalloc on, counting only what propagate() allocates (the flow is built before).

    .venv/bin/python bench/bench_taint.py                       # 100k and 1M, all policies
    .venv/bin/python bench/bench_taint.py --sizes 100000 --policies haircut
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections import deque

from btcwatch.model import BlockRef, OutPoint, Tx, TxIn, TxOut
from btcwatch.trace.taint import POLICIES, Policy, propagate

SCRIPT = bytes.fromhex("0014") + bytes(range(20))  # one shared P2WPKH script
ADDRESS = "bc1q-synthetic"
SOURCE = OutPoint("f" * 64, 0)
OUTSIDER = "e" * 64
FEE = 200


def _txid(n: int) -> str:
    return f"{n:064x}"


def _owner(n: int, distinct: bool) -> tuple[bytes, str]:
    """The n-th output's script and address: all the same, or each its own (P2WPKH-sized)."""
    if not distinct:
        return SCRIPT, ADDRESS
    return b"\x00\x14" + n.to_bytes(20, "big"), f"bc1q{n:038x}"


def peel_chain(
    n: int, *, distinct: bool = False, block: BlockRef | None = None
) -> tuple[dict[OutPoint, int], dict[str, Tx]]:
    """n hops; each peels 1,000 sats and pays a 200-sat fee."""
    value = n * (1_000 + FEE) + 100_000
    txs: dict[str, Tx] = {}
    prev = SOURCE
    prev_script, prev_address = _owner(0, distinct)
    for i in range(n):
        change = value - 1_000 - FEE
        txid = _txid(i)
        peel_script, peel_address = _owner(2 * i + 1, distinct)
        change_script, change_address = _owner(2 * i + 2, distinct)
        txs[txid] = Tx(
            txid,
            2,
            0,
            (TxIn(prev, 0xFFFFFFFD, value, prev_script, prev_address),),
            (TxOut(1_000, peel_script, peel_address), TxOut(change, change_script, change_address)),
            block,
        )
        prev, prev_script, prev_address = OutPoint(txid, 1), change_script, change_address
        value = change
    return {SOURCE: n * (1_000 + FEE) + 100_000}, txs


def fan_out(
    n: int, *, distinct: bool = False, block: BlockRef | None = None
) -> tuple[dict[OutPoint, int], dict[str, Tx]]:
    """n txs in a 4-ary tree rooted at the source."""
    depth = 0
    while 4**depth < n:
        depth += 1
    root_value = 4 ** (depth + 1) * 2_000
    txs: dict[str, Tx] = {}
    queue: deque[tuple[OutPoint, int, int]] = deque([(SOURCE, root_value, 0)])
    made = 0
    while made < n:
        prev, value, owner = queue.popleft()
        script, address = _owner(owner, distinct)
        inputs = [TxIn(prev, 0xFFFFFFFD, value, script, address)]
        total = value
        if made % 3 == 2:
            outsider_script, outsider_address = _owner(5 * n + made, distinct)
            inputs.append(
                TxIn(OutPoint(OUTSIDER, made), 0xFFFFFFFD, 546, outsider_script, outsider_address)
            )
            total += 546
        each = (total - FEE) // 4
        txid = _txid(made)
        first = 4 * made + 1
        outputs = tuple(TxOut(each, *_owner(first + vout, distinct)) for vout in range(4))
        txs[txid] = Tx(txid, 2, 0, tuple(inputs), outputs, block)
        queue.extend((OutPoint(txid, vout), each, first + vout) for vout in range(4))
        made += 1
    return {SOURCE: root_value}, txs


SHAPES = {"peel": peel_chain, "fanout": fan_out}


def run(size: int, shape: str, policies: list[Policy], memory: bool) -> None:
    started = time.perf_counter()
    sources, txs = SHAPES[shape](size)
    built = time.perf_counter() - started
    print(f"{shape:6} {size:>9,} txs (built in {built:5.1f} s)")
    for policy in policies:
        gc.collect()
        started = time.perf_counter()
        result = propagate(sources, txs, policy)
        elapsed = time.perf_counter() - started
        left = sum(result.unspent().values())
        line = f"    {policy:8} {elapsed:6.2f} s  tainted txs {len(result):>9,}"
        line += f"  fee taint {result.fee_taint:>13,}  unspent taint {left:>15,}"
        del result
        if memory:
            gc.collect()
            tracemalloc.start()
            result = propagate(sources, txs, policy)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            del result
            line += f"  peak {peak / 2**20:7.1f} MiB"
        print(line, flush=True)
    del txs


def _policies(text: str) -> list[Policy]:
    chosen = [p for p in POLICIES if p in text.split(",")]
    if len(chosen) != len(text.split(",")):
        raise SystemExit(f"policies must be among {', '.join(POLICIES)}")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc run")
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        for shape in args.shapes.split(","):
            run(size, shape, _policies(args.policies), not args.no_memory)


if __name__ == "__main__":
    main()
