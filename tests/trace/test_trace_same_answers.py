"""The analysis gives the same answers it gave before it was made fast.

``tests/data/trace/analysis_expected.json`` was computed by the code before the speed-up
(commit 1c3902a) from the flows below: a varied random flow (flowgen.py) followed and analysed
end to end, and every heuristic run over the real recorded txs (WannaCry, mainnet blocks,
mempool.space fixtures). Regenerate it only when a heuristic is *meant* to change:

    .venv/bin/python tests/trace/test_trace_same_answers.py --write
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from flowgen import random_flow, tags
from tracedata import block_txs, esplora_random, wannacry

from btcwatch.model import Tx
from btcwatch.trace.analyse import analyse, to_json
from btcwatch.trace.change import detect_change
from btcwatch.trace.cluster import cluster_addresses
from btcwatch.trace.coinjoin import detect_coinjoin
from btcwatch.trace.deposits import attribute_deposits
from btcwatch.trace.follow import Flow, Source, TraceParams, follow
from btcwatch.trace.peel import find_peel_chains, is_peel_step
from btcwatch.trace.txsource import MemorySource

EXPECTED = Path(__file__).resolve().parent.parent / "data" / "trace" / "analysis_expected.json"
FLOWS = {"seed7-hops12": (7, 150, 12), "seed3-hops30": (3, 150, 30)}


def flow_snapshot(seed: int, size: int, hops: int) -> dict[str, Any]:
    sources, txs = random_flow(seed, size)
    params = TraceParams(hops=hops)
    box: list[Flow] = []

    async def go() -> None:
        found = [Source(op, value, None) for op, value in sources]
        box.append(await follow(MemorySource(txs), found, params, tags()))

    asyncio.run(go())
    result = analyse(box[0], params)
    return {
        "summary": to_json(result, requests=0),
        "change": {
            t: _verdict(v.vout, v.confidence, v.reason, v.findings)
            for t, v in result.change.items()
        },
        "taint": sorted([str(op), sats] for op, sats in result.taint.tainted_outputs()),
        "clusters": [sorted(result.clusters.members(c)) for c in result.clusters],
        "cluster_links": [list(result.clusters.txids(c)) for c in result.clusters],
    }


def _verdict(vout: int | None, confidence: float, reason: str, findings: Any) -> list[Any]:
    return [vout, confidence, reason, [f.to_dict() for f in findings]]


def real_snapshot() -> dict[str, Any]:
    _, cry = wannacry()
    picked = [tx for _, tx in block_txs()]
    every: list[Tx] = [*cry.values(), *picked, *esplora_random().values()]
    out: dict[str, Any] = {}
    for tx in every:
        verdict = detect_change(tx)
        coinjoin = detect_coinjoin(tx)
        peel = is_peel_step(tx)
        out[tx.txid] = {
            "change": _verdict(verdict.vout, verdict.confidence, verdict.reason, verdict.findings),
            "coinjoin": coinjoin.to_dict() if coinjoin else None,
            "peel": peel.to_dict() if peel else None,
        }
    clusters = cluster_addresses(every)
    chains = find_peel_chains(cry)
    entities = {a: "WannaCry" for a in wannacry()[0]}
    return {
        "txs": out,
        "clusters": [sorted(clusters.members(c)) for c in clusters],
        "skipped": clusters.skipped,
        "peel_chains": [c.finding().to_dict() for c in chains],
        "deposits": {a: f.to_dict() for a, f in attribute_deposits(every, entities).items()},
    }


def snapshot() -> dict[str, Any]:
    flows = {name: flow_snapshot(*spec) for name, spec in FLOWS.items()}
    return json.loads(json.dumps({"flows": flows, "real": real_snapshot()}))


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXPECTED.read_text())
    return data


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_flow_analysis_is_unchanged(expected: dict[str, Any], name: str) -> None:
    now = json.loads(json.dumps(flow_snapshot(*FLOWS[name])))
    want = expected["flows"][name]
    for part in want:
        assert now[part] == want[part], part
    assert now["summary"]["findings"], "the flow gives the heuristics something to find"


def test_heuristics_on_real_txs_are_unchanged(expected: dict[str, Any]) -> None:
    now = json.loads(json.dumps(real_snapshot()))
    for part in expected["real"]:
        assert now[part] == expected["real"][part], part


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    EXPECTED.write_text(json.dumps(snapshot(), sort_keys=True, separators=(",", ":")) + "\n")
    print(f"wrote {EXPECTED} ({EXPECTED.stat().st_size:,} bytes)")
