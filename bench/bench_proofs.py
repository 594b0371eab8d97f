"""What inclusion proofs cost: requests per transaction and per block, then nothing (cached).

The simulated Vastaamo case is watched (address mode, or block mode from the start of the
story) and traced; then every transaction the case relies on gets its Merkle proof. Address
mode and traces store Esplora JSON: the raw bytes are rebuilt from it (no ``/tx/:txid/hex``),
so a proof costs one ``/tx/:txid/merkle-proof`` per transaction and one ``/block/:hash/header``
per distinct block. Block mode keeps the raw blocks it matched, and the proofs of the
transactions stored from them cost no request at all. A second pass finds everything stored.
The bundle is then written and verified offline (``btcwatch verify``), timed.

    .venv/bin/python bench/bench_proofs.py            # 300 and 1,000 victims
    .venv/bin/python bench/bench_proofs.py --quick    # 300 victims
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from bench_watch_cost import CASE, SimProcess, Table, fmt_int, make_case, watch_once

from btcwatch.prices import PriceTable
from btcwatch.proofs import ProofRun, ensure_proofs
from btcwatch.providers import HttpOptions
from btcwatch.providers.factory import make_provider
from btcwatch.report.bundle import case_txids, write_bundle
from btcwatch.store import Store
from btcwatch.store.evidence import EvidenceLog
from btcwatch.store.proofs import confirmed_txs, proofs
from btcwatch.store.tags import save_tags
from btcwatch.store.traces import latest_run
from btcwatch.tags import parse_tagpack
from btcwatch.trace.follow import TraceParams
from btcwatch.trace.run.service import run_trace
from btcwatch.verify import verify_bundle

BACKGROUND = 3


def _prove(db: Path, url: str) -> tuple[ProofRun, ProofRun, int, int, int]:
    """(first pass, second pass, second-pass requests, txs, distinct blocks)."""
    box: list[tuple[ProofRun, ProofRun, int, int, int]] = []

    async def go() -> None:
        log = EvidenceLog()
        provider = make_provider(url, HttpOptions(rate=math.inf, on_evidence=log))
        try:
            with Store.open(db) as store:
                # what the watch stored first (block mode: from its raw blocks), then the trace
                watched = await ensure_proofs(
                    store, case_txids(store, CASE, None), provider=provider, log=log
                )
                run = await run_trace(store, provider, TraceParams(), case=CASE, log=log)
                txids = case_txids(store, CASE, run[0])
                blocks = {t.block_hash for t in confirmed_txs(store, txids).values()}
                first = await ensure_proofs(store, txids, provider=provider, log=log)
                first.requests += watched.requests
                before = provider.requests
                second = await ensure_proofs(store, txids, provider=provider, log=log)
                again = provider.requests - before
        finally:
            await provider.aclose()
        box.append((first, second, again, len(txids), len(blocks - {None})))

    asyncio.run(go())
    return box[0]


def run(sizes: Sequence[int]) -> Table:
    table = Table(
        "Inclusion proofs: requests per tx and per block, simulated Vastaamo case",
        [
            "victims", "watched in", "txs", "blocks", "proven", "from raw blocks",
            "proof requests", "req/(tx+block)", "2nd pass requests", "bundle s", "verify s",
        ],
        left=2,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="btcwatch-bench-") as tmp:
        for victims in sizes:
            for mode in ("address", "block"):
                tip = "end" if mode == "address" else "start"
                with SimProcess(victims, BACKGROUND, tip=tip) as sim:
                    db = Path(tmp) / f"proofs-{victims}-{mode}.db"
                    with Store.open(db) as store:
                        save_tags(store, parse_tagpack(sim.truth["tagpack"], "sim").tags)
                    make_case(db, sim.ransom_addresses(), [])
                    if mode == "block":
                        start = sim.tip_height()
                        state = httpx.get(f"{sim.url}/_sim/state", timeout=60).json()
                        sim.advance(int(state["last_planned_height"]) - start)
                        watch_once(db, sim.url, "block", from_height=start)
                    else:
                        watch_once(db, sim.url, "address")
                    first, _, again, txs, blocks = _prove(db, sim.url)
                with Store.open(db) as store:
                    from_blocks = sum(
                        1 for p in proofs(store, case_txids(store, CASE, None)).values()
                        if p.source == "raw-block"
                    )  # fmt: skip
                    started = time.perf_counter()
                    out = Path(tmp) / f"bundle-{victims}-{mode}"
                    run_ = latest_run(store, CASE)
                    write_bundle(store, CASE, out, run_id=run_.id if run_ else None,
                                 prices=PriceTable.load_default(), simulated=True)  # fmt: skip
                    bundled = time.perf_counter() - started
                started = time.perf_counter()
                checked = verify_bundle(out)
                verified = time.perf_counter() - started
                table.rows.append(
                    [
                        fmt_int(victims), mode, fmt_int(txs), fmt_int(blocks),
                        f"{len(first.proven)}" + ("" if checked.ok else " (verify FAILED)"),
                        fmt_int(from_blocks),
                        fmt_int(first.requests),
                        f"{first.requests / max(1, txs + blocks):.2f}",
                        fmt_int(again), f"{bundled:.1f}", f"{verified:.1f}",
                    ]
                )  # fmt: skip
    table.notes.append(
        "proof requests: /tx/:txid/merkle-proof per tx + /block/:hash/header per block, for the "
        "txs not stored from a raw block; the raw tx is rebuilt from the stored Esplora JSON"
    )
    worst = max(float(r[7]) for r in table.rows)
    table.summary.append(("proof requests per (tx + distinct block)", f"at most {worst:.2f}"))
    table.summary.append(("proof requests on a second pass", "0 (stored forever, migration m008)"))
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 victims only")
    args = parser.parse_args(argv)
    print(run([300] if args.quick else [300, 1_000]).text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
