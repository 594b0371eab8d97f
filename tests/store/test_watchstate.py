"""store/watchstate: what the watcher remembers between cycles, and `save_cycle`'s one commit."""

from __future__ import annotations

import pytest

from btcwatch.event import Event, Kind, event_id
from btcwatch.intake import add_addresses, create_case
from btcwatch.model import AddressStats, OutPoint, WatchedOutput
from btcwatch.store import Store
from btcwatch.store.events import get_state, stored_events
from btcwatch.store.followups import owed_followups
from btcwatch.store.watchstate import (
    CycleRecord,
    address_stats,
    addresses_after,
    last_address_id,
    last_scanned,
    save_cycle,
    scanned_block_time,
    scanned_blocks,
    watched_outputs,
)

PAY = "a" * 64
SPEND = "b" * 64
BLOCK = "c" * 64
ADDRESS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


def output(
    txid: str = PAY, spent_by: str | None = None, spent_height: int | None = None
) -> WatchedOutput:
    base = WatchedOutput("c", ADDRESS, OutPoint(txid, 0), 5000, "76a9", 100, BLOCK)
    return WatchedOutput.of(base, spent_by, None if spent_by is None else 0, spent_height)


def event(kind: Kind, txid: str, case: str = "c") -> Event:
    return Event(event_id(kind, case, txid, 0), kind, case, ADDRESS, txid, 0, 5000, 100, None)


def test_a_cycle_is_stored_whole_and_returns_only_new_events(store: Store) -> None:
    stats = AddressStats(ADDRESS, 1, 5000, 0, 0, 0, 0)
    record = CycleRecord(
        [event(Kind.PAYMENT_RECEIVED, PAY)],
        sinks=["stderr"],
        outputs=[output()],
        stats=[stats],
        scanned=[(100, BLOCK, "d" * 64, 1_600_000_000)],
        state={"tip_height": 100, "catchup_pending:c": ["x"]},
    )
    assert [e.txid for e in save_cycle(store, record)] == [PAY]
    assert watched_outputs(store, "c") == [output()]
    assert address_stats(store) == {ADDRESS: stats}
    assert scanned_blocks(store) == {100: BLOCK}
    assert last_scanned(store) == (100, BLOCK)
    assert scanned_block_time(store, BLOCK) == 1_600_000_000
    assert get_state(store, "catchup_pending:c") == ["x"]
    assert save_cycle(store, record) == []  # the same facts again: nothing new to alert on
    events, _ = stored_events(store)
    assert [e.kind for e in events] == [Kind.PAYMENT_RECEIVED]


def test_a_cycle_that_fails_half_way_stores_nothing(store: Store) -> None:
    record = CycleRecord(
        [event(Kind.PAYMENT_RECEIVED, PAY)],
        outputs=[output()],
        scanned=[(100, BLOCK, None, None)],
        state={"unstorable": object()},  # set_state cannot encode it: the write fails late
    )
    with pytest.raises(TypeError):
        save_cycle(store, record)
    assert watched_outputs(store) == []
    assert scanned_blocks(store) == {}
    assert stored_events(store) == ([], set())


def test_spends_gone_txs_and_orphaned_blocks(store: Store) -> None:
    spent = output(spent_by=SPEND, spent_height=101)
    replaced = output("e" * 64)
    save_cycle(store, CycleRecord([], outputs=[spent, replaced]))
    # The spending tx left the chain (RBF), the other output's block was orphaned.
    save_cycle(store, CycleRecord([], gone_txids={SPEND}, orphaned_blocks={BLOCK}))
    by_tx = {o.outpoint.txid: o for o in watched_outputs(store)}
    assert by_tx[PAY].spent_by is None and by_tx[PAY].spent_vin is None
    assert by_tx[PAY].height is None and by_tx[PAY].block_hash is None
    save_cycle(store, CycleRecord([], gone_txids={"e" * 64}))
    assert [o.outpoint.txid for o in watched_outputs(store)] == [PAY]


def test_start_marker_and_reorg_fork(store: Store) -> None:
    blocks = [(h, f"{h:064x}", f"{h - 1:064x}", h * 600) for h in range(100, 104)]
    save_cycle(store, CycleRecord([], start_marker=(99, f"{99:064x}"), scanned=blocks))
    assert sorted(scanned_blocks(store)) == [99, 100, 101, 102, 103]
    assert scanned_block_time(store, f"{99:064x}") is None  # the marker has no block time
    # A reorg forked after 101: the blocks above it are forgotten before the new ones are saved.
    fork = [(102, "f" * 64, f"{101:064x}", 1)]
    save_cycle(store, CycleRecord([], reorg_fork=101, scanned=fork))
    assert scanned_blocks(store, since_height=101) == {101: f"{101:064x}", 102: "f" * 64}


def test_follow_owes_a_trace_only_for_new_movements(store: Store) -> None:
    for case in ("c", "d", "p"):
        create_case(store, case)
    moved = event(Kind.FUNDS_MOVED, SPEND)
    save_cycle(store, CycleRecord([event(Kind.PAYMENT_RECEIVED, PAY, "p")], follow=True))
    assert owed_followups(store) == []  # a payment owes no trace
    save_cycle(store, CycleRecord([moved], follow=False))
    assert owed_followups(store) == []  # without --follow nothing is owed
    save_cycle(store, CycleRecord([moved], follow=True))
    assert owed_followups(store) == []  # already reported: no new movement
    other = event(Kind.FUNDS_MOVED, SPEND, "d")
    save_cycle(store, CycleRecord([other], follow=True))
    assert [o.case for o in owed_followups(store)] == ["d"]


def test_addresses_added_after_a_watchlist_row(store: Store) -> None:
    create_case(store, "c")
    create_case(store, "d")
    add_addresses(store, "c", [ADDRESS])
    mark = last_address_id(store)
    add_addresses(store, "d", ["1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"])
    add_addresses(store, "c", ["3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"])
    assert addresses_after(store, mark, "c") == ["3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"]
    assert addresses_after(store, mark) == [
        "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
        "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
    ]
    assert addresses_after(store, last_address_id(store)) == []
