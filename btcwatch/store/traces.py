"""Trace runs: parameters, sources, the transactions walked, stops with taint, findings.

A run can be listed, reopened (its flow rebuilt from these rows and the stored transactions),
re-run with the same parameters, and exported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from btcwatch.errors import InputError
from btcwatch.store.db import Store
from btcwatch.store.followups import this_process
from btcwatch.timefmt import now_iso


@dataclass(frozen=True, slots=True)
class TraceRun:
    id: int
    case: str | None
    sources: list[str]
    params: dict[str, Any]
    status: str
    started_at: str
    finished_at: str | None
    requests: int
    summary: dict[str, Any]


def _run(row: dict[str, Any]) -> TraceRun:
    return TraceRun(
        row["id"],
        row["case_name"],
        json.loads(row["sources"]),
        json.loads(row["params"]),
        row["status"],
        row["started_at"],
        row["finished_at"],
        row["requests"],
        json.loads(row["summary"] or "{}"),
    )


def start_run(
    store: Store, case: str | None, sources: Sequence[str], params: dict[str, Any]
) -> int:
    with store.write() as db:
        table = db.table("trace_runs")
        table.insert(
            {
                "case_name": case,
                "sources": json.dumps(list(sources)),
                "params": json.dumps(params, sort_keys=True),
                "status": "running",
                "started_at": now_iso(),
                "owner_host": this_process()[0],  # so a run its process left behind is found
                "owner_pid": this_process()[1],
            }
        )
        return int(table.last_rowid or 0)


def finish_run(
    store: Store,
    run_id: int,
    *,
    status: str,
    requests: int,
    summary: dict[str, Any],
    sources: Iterable[dict[str, Any]] = (),
    txs: Iterable[dict[str, Any]] = (),
    stops: Iterable[dict[str, Any]] = (),
    findings: Iterable[dict[str, Any]] = (),
) -> None:
    """Store a run's results in one transaction (a failed run keeps its error in the summary)."""
    with store.write() as db:
        db.table("trace_sources").insert_all([{**r, "run_id": run_id} for r in sources])
        db.table("trace_txs").insert_all([{**r, "run_id": run_id} for r in txs])
        db.table("trace_stops").insert_all([{**r, "run_id": run_id} for r in stops])
        db.table("trace_findings").insert_all(
            [
                {**r, "run_id": run_id, "facts": json.dumps(r["facts"], sort_keys=True)}
                for r in findings
            ]
        )
        db.execute(
            "UPDATE trace_runs SET status = ?, requests = ?, summary = ?, finished_at = ? "
            "WHERE id = ?",
            [status, requests, json.dumps(summary, sort_keys=True), now_iso(), run_id],
        )


def get_run(store: Store, run_id: int) -> TraceRun:
    rows = list(store._db.table("trace_runs").rows_where("id = ?", [run_id]))
    if not rows:
        raise InputError(f"no trace run {run_id} (see `btcwatch traces list`)")
    return _run(rows[0])


def list_runs(store: Store, case: str | None = None) -> list[TraceRun]:
    where, params = ("case_name = ?", [case]) if case else (None, [])
    return [_run(r) for r in store._db.table("trace_runs").rows_where(where, params, order_by="id")]


def latest_run(store: Store, case: str) -> TraceRun | None:
    runs = [r for r in list_runs(store, case) if r.status == "done"]
    return runs[-1] if runs else None


@dataclass(frozen=True, slots=True)
class RunSource:
    """One output a run started from (trace_sources)."""

    txid: str
    vout: int
    address: str | None
    value_sat: int


@dataclass(frozen=True, slots=True)
class RunTx:
    """One transaction a run reached (trace_txs): its hop, and whether it was walked on."""

    txid: str
    hop: int
    walked: bool


@dataclass(frozen=True, slots=True)
class RunStop:
    """One output where a run stopped following (trace_stops), with the taint it carries."""

    txid: str
    vout: int
    address: str | None
    value_sat: int
    taint_sat: int
    reason: str
    entity: str | None
    category: str | None
    hop: int
    detail: str


def _rows(store: Store, table: str, run_id: int) -> list[dict[str, Any]]:
    return list(store._db.table(table).rows_where("run_id = ?", [run_id], order_by="rowid"))


def run_sources(store: Store, run_id: int) -> list[RunSource]:
    """The outputs one run started from, in the order stored."""
    return [
        RunSource(r["txid"], r["vout"], r["address"], r["value_sat"])
        for r in _rows(store, "trace_sources", run_id)
    ]


def run_txs(store: Store, run_id: int) -> list[RunTx]:
    """The transactions one run reached, in the order stored."""
    return [
        RunTx(r["txid"], r["hop"], bool(r["walked"])) for r in _rows(store, "trace_txs", run_id)
    ]


def run_stops(store: Store, run_id: int) -> list[RunStop]:
    """Where one run stopped, in the order stored."""
    return [
        RunStop(
            r["txid"],
            r["vout"],
            r["address"],
            r["value_sat"],
            r["taint_sat"],
            r["reason"],
            r["entity"],
            r["category"],
            r["hop"],
            r["detail"],
        )
        for r in _rows(store, "trace_stops", run_id)
    ]


def run_txids(store: Store, run_id: int) -> set[str]:
    """Every transaction a stored run names: its sources' and the ones it walked."""
    return {
        str(r[0])
        for r in store._db.execute(
            "SELECT txid FROM trace_txs WHERE run_id = ? UNION SELECT txid FROM trace_sources "
            "WHERE run_id = ?",
            [run_id, run_id],
        ).fetchall()
    }
