"""The pure event diff: new facts become events once, reverts mark what left the chain."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from btcwatch.event import Event, Kind
from btcwatch.model import OutPoint
from btcwatch.watch.diff import Observation, Payment, Reported, Spend, plan_events

TXA = "aa" * 32
TXB = "bb" * 32
SWEEP = "cc" * 32
BLOCK1 = "01" * 32
BLOCK2 = "02" * 32


def pay(txid: str, vout: int, address: str, height: int | None, block: str | None) -> Payment:
    return Payment("c", address, OutPoint(txid, vout), 10_000 + vout, "00", height, block, None)


def spend(prev: Payment, txid: str, vin: int) -> Spend:
    return Spend("c", prev.address, prev.outpoint, prev.value, txid, vin, 101, BLOCK2)


def kinds(events: list[Event]) -> list[str]:
    return [e.kind.value for e in events]


def apply(reported: list[Event], new: list[Event]) -> Reported:
    every = reported + new
    dead = {e.details["reverts"] for e in every if e.kind is Kind.REVERTED}
    return Reported.from_events(every, dead)


def test_mempool_then_confirmed_then_nothing() -> None:
    seen: list[Event] = []
    first = plan_events(Reported.from_events([]), Observation(99, [pay(TXA, 0, "a", None, None)]))
    assert kinds(first) == ["payment_received"]
    seen += first
    confirmed_obs = Observation(100, [pay(TXA, 0, "a", 100, BLOCK1)])
    second = plan_events(apply([], seen), confirmed_obs)
    assert kinds(second) == ["payment_confirmed"]
    seen += second
    assert plan_events(apply([], seen), confirmed_obs) == []


def test_confirmations_threshold() -> None:
    obs = Observation(100, [pay(TXA, 0, "a", 100, BLOCK1)])
    assert kinds(plan_events(Reported.from_events([]), obs, needed_confirmations=3)) == [
        "payment_received"
    ]
    obs.tip_height = 102
    assert "payment_confirmed" in kinds(
        plan_events(Reported.from_events([]), obs, needed_confirmations=3)
    )


def test_sweep_of_two_addresses_is_two_moves_and_one_cospend() -> None:
    a = pay(TXA, 0, "a", 100, BLOCK1)
    a2 = pay(TXA, 1, "a", 100, BLOCK1)  # the victim paid twice
    b = pay(TXB, 0, "b", 100, BLOCK1)
    obs = Observation(
        101, [a, a2, b], [spend(a, SWEEP, 0), spend(a2, SWEEP, 1), spend(b, SWEEP, 2)]
    )
    events = plan_events(Reported.from_events([]), obs)
    moved = [e for e in events if e.kind is Kind.FUNDS_MOVED]
    assert sorted(e.address or "" for e in moved) == ["a", "b"]
    assert [e.value_sat for e in moved if e.address == "a"] == [a.value + a2.value]
    cospent = [e for e in events if e.kind is Kind.CO_SPENT]
    assert len(cospent) == 1 and cospent[0].details["addresses"] == ["a", "b"]


def test_orphaned_block_and_gone_tx_are_reverted_once() -> None:
    p = pay(TXA, 0, "a", 100, BLOCK1)
    stored = plan_events(Reported.from_events([]), Observation(100, [p]))
    reorg = Observation(100, [], orphaned_blocks={BLOCK1}, gone_txids={TXA})
    reverts = plan_events(apply([], stored), reorg)
    assert kinds(reverts) == ["reverted", "reverted"]
    assert {e.details["reverts"] for e in reverts} == {e.id for e in stored}
    assert plan_events(apply(stored, reverts), reorg) == []


def test_replacement_reverts_old_and_reports_new() -> None:
    old = pay(TXA, 0, "a", None, None)
    stored = plan_events(Reported.from_events([]), Observation(100, [old]))
    new = pay(TXB, 0, "a", None, None)
    events = plan_events(apply([], stored), Observation(100, [new], gone_txids={TXA}))
    assert kinds(events) == ["payment_received", "reverted"]
    assert events[0].txid == TXB and events[1].details["reverts"] == stored[0].id


txids = st.sampled_from([TXA, TXB, SWEEP, "dd" * 32])
payments = st.builds(
    pay,
    txids,
    st.integers(0, 3),
    st.sampled_from(["a", "b", "c"]),
    st.one_of(st.none(), st.integers(90, 100)),
    st.sampled_from([BLOCK1, BLOCK2]),
)


@given(st.lists(payments, max_size=12), st.integers(1, 6))
def test_diffing_an_observation_with_itself_yields_nothing(pays, needed) -> None:
    unique = list({p.outpoint: p for p in pays}.values())
    spends = [spend(p, SWEEP, i) for i, p in enumerate(unique[:3])]
    obs = Observation(100, unique, spends)
    first = plan_events(Reported.from_events([]), obs, needed_confirmations=needed)
    assert len({e.id for e in first}) == len(first)
    assert plan_events(apply([], first), obs, needed_confirmations=needed) == []
