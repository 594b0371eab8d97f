"""Compare a watched case's events with the simulator's ground truth."""

from __future__ import annotations

from collections import Counter
from typing import Any


def live(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["kind"] == kind and not e["reverted_by"]]


def check_events_match_truth(events: list[dict[str, Any]], truth: dict[str, Any]) -> None:
    """Exactly one received/confirmed per payment, one move per swept address, one co-spend per
    sweep, reverts only for what the chain took back, and nothing else."""
    payments = [p for p in truth["payments"] if p["kind"] != "rbf_replaced"]
    received = Counter((e["txid"], e["vout"]) for e in live(events, "payment_received"))
    confirmed = Counter((e["txid"], e["vout"]) for e in live(events, "payment_confirmed"))
    expected = Counter((p["txid"], p["vout"]) for p in payments)
    assert received == expected
    assert confirmed == expected
    for e in live(events, "payment_confirmed"):
        assert e["height"] is not None and e["confirmations"] >= 1

    moved = Counter((e["address"], e["txid"]) for e in live(events, "funds_moved"))
    assert moved == Counter((a, s["txid"]) for s in truth["sweeps"] for a in s["input_addresses"])
    cospent = Counter(e["txid"] for e in live(events, "co_spent"))
    assert cospent == Counter(s["txid"] for s in truth["sweeps"] if len(s["input_addresses"]) > 1)

    kinds = {e["kind"] for e in events}
    assert kinds <= {"payment_received", "payment_confirmed", "funds_moved", "co_spent", "reverted"}
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))

    # RBF: the replaced payment was reported, then reverted; the replacement is live above.
    rbf = truth["rbf"]
    replaced = [e for e in events if e["txid"] == rbf["replaced_txid"]]
    assert [e["kind"] for e in replaced if e["kind"] != "reverted"] == ["payment_received"]
    assert all(e["reverted_by"] for e in replaced if e["kind"] != "reverted")
    # Every revert points at an event that is marked reverted.
    by_id = {e["id"]: e for e in events}
    for e in events:
        if e["kind"] == "reverted":
            assert by_id[e["details"]["reverts"]]["reverted_by"] == e["id"]
