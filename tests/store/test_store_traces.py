"""store/traces: a run's parameters and results stored in one go and read back typed, per run."""

from __future__ import annotations

import pytest

from btcwatch.errors import InputError
from btcwatch.store import Store
from btcwatch.store.traces import (
    RunSource,
    RunStop,
    RunTx,
    finish_run,
    get_run,
    latest_run,
    list_runs,
    run_sources,
    run_stops,
    run_txids,
    run_txs,
    start_run,
)

FUNDING = "07c9d3fbffc2" + "0" * 52
SPEND = "5e0668bf1cd24f2f8656ee82d4886f5303a06b26838e24b7db73afc59e228985"
HOP2 = "ab" * 32


def finished(store: Store, case: str | None = "v", *, txid: str = SPEND) -> int:
    run_id = start_run(store, case, [f"{FUNDING}:0"], {"max_hops": 3})
    finish_run(
        store,
        run_id,
        status="done",
        requests=7,
        summary={"stops": 2},
        sources=[
            {"txid": FUNDING, "vout": 0, "address": "bc1qsource", "value_sat": 50_000},
            {"txid": FUNDING, "vout": 1, "address": None, "value_sat": 1_000},
        ],
        txs=[
            {"txid": txid, "hop": 1, "walked": 1},
            {"txid": HOP2, "hop": 2, "walked": 0},
        ],
        stops=[
            {
                "txid": HOP2,
                "vout": 0,
                "address": "bc1qexchange",
                "value_sat": 30_000,
                "taint_sat": 29_000,
                "reason": "tagged",
                "entity": "Coinbank",
                "category": "exchange",
                "hop": 2,
                "detail": "",
            },
            {
                "txid": txid,
                "vout": 1,
                "address": None,
                "value_sat": 500,
                "taint_sat": 500,
                "reason": "min_value",
                "entity": None,
                "category": None,
                "hop": 1,
                "detail": "below 1000",
            },
        ],
        findings=[
            {
                "subject": txid,
                "heuristic": "peel",
                "verdict": "likely",
                "confidence": 0.8,
                "facts": {"change_vout": 1},
            }
        ],
    )
    return run_id


def test_a_started_run_is_running_until_finished(store: Store) -> None:
    run_id = start_run(store, "v", [f"{FUNDING}:0"], {"max_hops": 3, "min_value": 1})
    run = get_run(store, run_id)
    assert (run.status, run.case, run.finished_at, run.requests) == ("running", "v", None, 0)
    assert run.sources == [f"{FUNDING}:0"] and run.params == {"max_hops": 3, "min_value": 1}
    assert run_sources(store, run_id) == [] and run_txids(store, run_id) == set()
    assert latest_run(store, "v") is None  # not finished


def test_a_finished_run_reads_back_typed_in_stored_order(store: Store) -> None:
    run_id = finished(store)
    run = get_run(store, run_id)
    assert (run.status, run.requests, run.summary) == ("done", 7, {"stops": 2})
    assert run.finished_at is not None
    assert run_sources(store, run_id) == [
        RunSource(FUNDING, 0, "bc1qsource", 50_000),
        RunSource(FUNDING, 1, None, 1_000),
    ]
    assert run_txs(store, run_id) == [RunTx(SPEND, 1, True), RunTx(HOP2, 2, False)]
    stops = run_stops(store, run_id)
    assert stops[0] == RunStop(
        HOP2, 0, "bc1qexchange", 30_000, 29_000, "tagged", "Coinbank", "exchange", 2, ""
    )
    assert (stops[1].reason, stops[1].entity, stops[1].detail) == ("min_value", None, "below 1000")
    assert run_txids(store, run_id) == {FUNDING, SPEND, HOP2}


def test_runs_keep_their_rows_apart_and_the_latest_finished_one_is_found(store: Store) -> None:
    first = finished(store)
    other = finished(store, "w", txid="cd" * 32)
    start_run(store, "v", [f"{FUNDING}:0"], {})  # a later run still running
    second = finished(store)
    assert run_txids(store, other) == {FUNDING, "cd" * 32, HOP2}
    assert [t.txid for t in run_txs(store, first)] == [SPEND, HOP2]
    assert [r.id for r in list_runs(store, "v")] == [first, second - 1, second]
    assert [r.id for r in list_runs(store)] == [first, other, second - 1, second]
    latest = latest_run(store, "v")
    assert latest is not None and latest.id == second


def test_an_unknown_run_is_an_input_error(store: Store) -> None:
    with pytest.raises(InputError, match="no trace run 42"):
        get_run(store, 42)
