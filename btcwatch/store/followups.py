"""Durable `watch --follow` work: the follow-up traces owed per case, and stale trace runs.

Why: a follow-up trace used to live only in the memory of the process that committed the
`funds_moved` asking for it; a crash (or an explorer error) lost it for good. Now the cycle's
own transaction queues it (`queue_followups`) and the transaction recording its results removes
it (`followup_done`), so until then every tick sees it owed. A trace run whose process is gone
is marked failed (`reap_stale_runs`) so nothing stays `running` forever; its trace is redone
because its queue row is still there.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from btcwatch.store.db import Store
from btcwatch.timefmt import now_iso

__all__ = [
    "OwedFollowUp",
    "followup_done",
    "followup_failed",
    "owed_followups",
    "pid_alive",
    "queue_followups",
    "reap_stale_runs",
    "this_process",
]


@dataclass(frozen=True, slots=True)
class OwedFollowUp:
    case: str
    queued_at: str
    reason: str
    attempts: int
    last_error: str | None


def this_process() -> tuple[str, int]:
    """(host, pid): who owns a trace run this process starts."""
    return socket.gethostname(), os.getpid()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def queue_followups(store: Store, cases: Iterable[str], reason: str = "") -> None:
    """Owe a follow-up trace for each case (joins the caller's transaction, if any)."""
    with store.write() as db:
        for case in sorted(set(cases)):
            db.execute(
                "INSERT OR IGNORE INTO followup_queue (case_name, queued_at, reason) "
                "VALUES (?, ?, ?)",
                [case, now_iso(), reason],
            )


def owed_followups(store: Store, case: str | None = None) -> list[OwedFollowUp]:
    where, params = ("case_name = ?", [case]) if case else (None, [])
    return [
        OwedFollowUp(r["case_name"], r["queued_at"], r["reason"], r["attempts"], r["last_error"])
        for r in store._db.table("followup_queue").rows_where(where, params, order_by="case_name")
    ]


def followup_done(store: Store, case: str) -> None:
    """The case's follow-up is recorded (call inside the transaction that records it)."""
    with store.write() as db:
        db.execute("DELETE FROM followup_queue WHERE case_name = ?", [case])


def followup_failed(store: Store, case: str, error: str) -> None:
    with store.write() as db:
        db.execute(
            "UPDATE followup_queue SET attempts = attempts + 1, last_error = ? WHERE case_name = ?",
            [error[:500], case],
        )


def reap_stale_runs(
    store: Store,
    *,
    alive: Callable[[int], bool] = pid_alive,
    host: str | None = None,
) -> list[int]:
    """Mark failed every `running` trace run of this host whose process is gone.

    Runs of another host cannot be checked and are left alone; runs from before owners were
    recorded (no pid) are taken as gone, since nothing can still be running them under this
    btcwatch. Returns the ids marked.
    """
    here = host or socket.gethostname()
    stale: list[tuple[int, str]] = []
    for row in store._db.table("trace_runs").rows_where("status = 'running'", order_by="id"):
        pid, owner = row.get("owner_pid"), row.get("owner_host")
        if pid is None:
            stale.append((row["id"], "started before run owners were recorded"))
        elif owner == here and pid != os.getpid() and not alive(int(pid)):
            stale.append((row["id"], f"process {pid} on {owner} ended before the run finished"))
    if not stale:
        return []
    with store.write() as db:
        for run_id, why in stale:
            db.execute(
                "UPDATE trace_runs SET status = 'failed', finished_at = ?, summary = ? "
                "WHERE id = ? AND status = 'running'",
                [now_iso(), json.dumps({"error": f"abandoned: {why}"}), run_id],
            )
    return [run_id for run_id, _ in stale]
