"""The real WannaCry histories: watch them (address mode), then trace the 2017-08-03 cash-outs.

blockchain.info's recorded /rawaddr answers for the three ransom addresses are served through
httpx.MockTransport; everything else is the real pipeline: provider -> store -> watch -> trace.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from provider_fakes import WANNACRY_ADDRESSES, RecordedBlockchainInfo, json_response

from btcwatch.intake import add_addresses, create_case
from btcwatch.providers import HttpOptions
from btcwatch.providers.factory import make_provider
from btcwatch.store import Store
from btcwatch.store.events import list_events
from btcwatch.store.evidence import EvidenceLog
from btcwatch.trace.follow import TraceParams
from btcwatch.trace.run.service import run_trace
from btcwatch.watch.runner import WatchOptions
from btcwatch.watch.service import WatchRun, run_watch

TIP = {"height": 490_000, "hash": "00" * 4 + "ab" * 28, "time": 1_507_000_000}
CASHOUT_DAY = "2017-08-03"


class Explorer(RecordedBlockchainInfo):
    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/latestblock":
            self.paths.append(request.url.path)
            return json_response(TIP)
        return super().__call__(request)


def provider(explorer: Explorer, log: EvidenceLog | None = None) -> Any:
    return make_provider(
        "blockchain.info",
        HttpOptions(transport=httpx.MockTransport(explorer), rate=math.inf, on_evidence=log),
    )


def cashouts(explorer: Explorer) -> dict[str, dict[str, Any]]:
    """The txs of 2017-08-03 that spend from the ransom addresses, straight from the files."""
    found = {}
    for history in explorer.histories.values():
        for tx in history["txs"]:
            day = datetime.fromtimestamp(tx["time"], UTC).date().isoformat()
            spends = any(
                i.get("prev_out", {}).get("addr") in WANNACRY_ADDRESSES for i in tx["inputs"]
            )
            if day == CASHOUT_DAY and spends:
                found[tx["hash"]] = tx
    return found


@pytest.fixture
def watched(tmp_path: Path) -> tuple[Path, Explorer]:
    db = tmp_path / "wannacry.db"
    with Store.open(db) as store:
        create_case(store, "wannacry")
        add_addresses(
            store, "wannacry", list(WANNACRY_ADDRESSES), demand="300USD then 600USD after 72h"
        )
    explorer = Explorer()
    run = WatchRun(WatchOptions("wannacry", "address"), alerts=["jsonl:" + str(tmp_path / "a")])
    run_watch(db, run, provider_factory=lambda log: provider(explorer, log))
    return db, explorer


def test_watch_reports_every_real_payment_and_cashout_once(watched) -> None:
    db, explorer = watched
    paid = Counter()
    for history in explorer.histories.values():
        for tx in history["txs"]:
            for out in tx["out"]:
                if out.get("addr") == history["address"]:
                    paid[history["address"]] += 1
    with Store.open(db) as store:
        events = [row.as_dict() for row in list_events(store, case="wannacry")]
    kinds = Counter(e["kind"] for e in events)
    assert kinds["payment_received"] == sum(paid.values())
    assert kinds["payment_confirmed"] == sum(paid.values())
    received = Counter(e["address"] for e in events if e["kind"] == "payment_received")
    assert received == paid
    moved_txids = {e["txid"] for e in events if e["kind"] == "funds_moved"}
    assert set(cashouts(explorer)) <= moved_txids
    # WannaCry asked 300 USD, 600 USD after three days: most payments match one of them.
    verdicts = Counter(
        e["details"]["demand_match"]["verdict"] for e in events if e["kind"] == "payment_received"
    )
    assert verdicts["exact"] + verdicts["late"] > sum(verdicts.values()) // 2
    # A second cycle on unchanged histories adds nothing.
    run = WatchRun(WatchOptions("wannacry", "address"))
    reports = run_watch(db, run, provider_factory=lambda log: provider(explorer, log))
    assert reports[0].events == []


def test_trace_finds_the_cashouts_and_their_next_hops(watched) -> None:
    db, explorer = watched
    expected = cashouts(explorer)
    assert len(expected) == 6
    with Store.open(db) as store:
        explorer.paths.clear()
        _, analysis, summary = asyncio.run(
            run_trace(store, provider(explorer), TraceParams(hops=1), case="wannacry")
        )
    walked = {t for t, hop in analysis.flow.hop_of.items() if hop == 1}
    assert set(expected) <= walked
    stops = {(e["txid"], e["vout"]): e for e in summary["endpoints"]}
    for txid, tx in expected.items():
        for out in tx["out"]:
            stop = stops[(txid, out["n"])]
            assert (stop["address"], stop["value_sat"]) == (out["addr"], out["value"])
            assert stop["reason"] == "hop_limit"
    # Spends came from the transactions the watch stored. The explorer was asked only about
    # ransom outputs no stored tx spends (still unspent in the 2017 snapshot), and no tx twice.
    spent_in_store = {
        (i["prev_out"]["tx_index"], i["prev_out"]["n"])
        for h in explorer.histories.values()
        for t in h["txs"]
        for i in t["inputs"]
    }
    open_sources = {
        s["outpoint"].split(":")[0]
        for s in summary["sources"]
        if (
            explorer.by_hash[s["outpoint"].split(":")[0]]["tx_index"],
            int(s["outpoint"].split(":")[1]),
        )
        not in spent_in_store
    }
    assert sorted(explorer.paths) == sorted(f"/rawtx/{t}" for t in open_sources)
    assert summary["requests"] == len(explorer.paths)
    for e in summary["endpoints"]:
        if e["txid"] in open_sources and e["hop"] == 0:
            assert e["reason"] in ("unspent", "provider_error")
