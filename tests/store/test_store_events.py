"""store/events: events stored once, listed typed in order, reverts applied, the outbox drained."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError

import pytest

from btcwatch.event import Event, Kind, event_id
from btcwatch.store import Store
from btcwatch.store.events import (
    OutboxItem,
    StoredEvent,
    get_state,
    list_events,
    mark_delivery,
    pending_outbox,
    record_events,
    set_state,
    stored_events,
)

TXID = "5e0668bf1cd24f2f8656ee82d4886f5303a06b26838e24b7db73afc59e228985"
ADDRESS = "bc1qvhykeqcpdzu0pdvy99xnh9ckhwzcfskct6h6l2"
SINKS = ["jsonl:/tmp/a.jsonl", "webhook:http://127.0.0.1:9/hook"]


def paid(vout: int, case: str = "v", height: int | None = None, **details: object) -> Event:
    kind = Kind.PAYMENT_CONFIRMED if height is not None else Kind.PAYMENT_RECEIVED
    return Event(
        event_id(kind, case, TXID, vout, height),
        kind,
        case,
        ADDRESS,
        TXID,
        vout,
        10_000 + vout,
        height,
        "00" * 32 if height is not None else None,
        details,
    )


def revert(of: Event) -> Event:
    return Event(
        event_id(Kind.REVERTED, of.id),
        Kind.REVERTED,
        of.case,
        of.address,
        of.txid,
        of.vout,
        of.value_sat,
        None,
        None,
        {"reverts": of.id, "reason": "reorg"},
    )


def test_recording_twice_stores_and_queues_each_event_once(store: Store) -> None:
    events = [paid(0), paid(1)]
    assert record_events(store, events, SINKS, seen_at="2026-12-01T10:00:00Z") == events
    assert record_events(store, events, SINKS, seen_at="2026-12-01T11:00:00Z") == []
    assert [e.id for e in list_events(store)] == [e.id for e in events]
    assert {s: len(pending_outbox(store, s)) for s in SINKS} == {s: 2 for s in SINKS}
    assert {e.seen_at for e in list_events(store)} == {"2026-12-01T10:00:00Z"}


def test_listed_events_are_typed_and_frozen_with_details_decoded(store: Store) -> None:
    record_events(store, [paid(0, value_btc="0.0001")], [], seen_at="2026-12-01T10:00:00Z")
    [event] = list_events(store)
    assert isinstance(event, StoredEvent)
    assert (event.kind, event.case, event.txid, event.vout) == ("payment_received", "v", TXID, 0)
    assert event.details == {"value_btc": "0.0001"}
    assert event.confirmations == 0 and event.reverted_by is None
    with pytest.raises(FrozenInstanceError):
        event.kind = "x"  # type: ignore[misc]
    assert len({event, list_events(store)[0]}) == 1  # hashable, equal when read twice
    as_json = event.as_dict()
    assert list(as_json) == [
        "id",
        "kind",
        "case",
        "address",
        "txid",
        "vout",
        "value_sat",
        "height",
        "block_hash",
        "confirmations",
        "seen_at",
        "reverted_by",
        "details",
    ]
    assert json.loads(json.dumps(as_json))["details"] == {"value_btc": "0.0001"}


def test_listing_is_oldest_first_and_filters_by_case_kind_and_time(store: Store) -> None:
    record_events(store, [paid(2)], [], seen_at="2026-12-01T12:00:00Z")
    record_events(store, [paid(0), paid(1, case="w")], [], seen_at="2026-12-01T10:00:00Z")
    record_events(store, [paid(0, height=700)], [], seen_at="2026-12-01T11:00:00Z")
    assert [(e.case, e.vout) for e in list_events(store)] == [
        ("v", 0),
        ("w", 1),
        ("v", 0),
        ("v", 2),
    ]
    assert [e.vout for e in list_events(store, case="w")] == [1]
    kinds = list_events(store, kinds=["payment_confirmed"])
    assert [(e.kind, e.height) for e in kinds] == [("payment_confirmed", 700)]
    assert [e.vout for e in list_events(store, since="2026-12-01T11:30:00Z")] == [2]


def test_confirmations_count_from_the_last_tip_the_watcher_saw(store: Store) -> None:
    record_events(store, [paid(0, height=700), paid(1)], [], seen_at="2026-12-01T10:00:00Z")
    assert [e.confirmations for e in list_events(store)] == [0, 0]  # no tip yet
    set_state(store, "tip_height", 705)
    assert [e.confirmations for e in list_events(store)] == [6, 0]


def test_a_revert_marks_the_event_it_reverts_and_can_be_filtered_out(store: Store) -> None:
    original = paid(0, height=700)
    record_events(store, [original], [], seen_at="2026-12-01T10:00:00Z")
    set_state(store, "tip_height", 705)
    undo = revert(original)
    record_events(store, [undo], [], seen_at="2026-12-01T11:00:00Z")
    listed = {e.id: e for e in list_events(store)}
    assert listed[original.id].reverted_by == undo.id
    assert listed[original.id].confirmations == 0  # a reverted event has none
    assert [e.id for e in list_events(store, include_reverted=False)] == [undo.id]
    events, reverted = stored_events(store, "v")
    assert events == [original, undo] and reverted == {original.id}
    assert events[0].details == {} and events[1].details["reverts"] == original.id


def test_the_outbox_hands_out_typed_items_until_each_is_delivered(store: Store) -> None:
    first, second = paid(0, fiat={"EUR": {"value": "2.00"}}), paid(1)
    record_events(store, [first], SINKS, seen_at="2026-12-01T10:00:00Z")
    record_events(store, [second], SINKS, seen_at="2026-12-01T10:05:00Z")
    sink = SINKS[0]
    items = pending_outbox(store, sink)
    assert all(isinstance(i, OutboxItem) for i in items)
    assert [(i.id, i.case, i.attempts) for i in items] == [(first.id, "v", 0), (second.id, "v", 0)]
    assert items[0].details == {"fiat": {"EUR": {"value": "2.00"}}}
    mark_delivery(store, first.id, sink, ok=False, error="refused")
    assert [(i.id, i.attempts) for i in pending_outbox(store, sink)] == [
        (first.id, 1),
        (second.id, 0),
    ]
    mark_delivery(store, first.id, sink, ok=True)
    assert [i.id for i in pending_outbox(store, sink)] == [second.id]
    assert len(pending_outbox(store, SINKS[1])) == 2  # the other sink is untouched


def test_watch_state_keeps_json_values_by_key(store: Store) -> None:
    assert get_state(store, "tip_height") is None
    set_state(store, "tip_height", 700)
    set_state(store, "catchup_pending:v", ["a", "b"])
    set_state(store, "tip_height", 701)
    assert get_state(store, "tip_height") == 701
    assert get_state(store, "catchup_pending:v") == ["a", "b"]
