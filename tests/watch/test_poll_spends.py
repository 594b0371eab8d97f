"""What a poll remembers of spends, whatever order it sees them in, and across ticks."""

from __future__ import annotations

from btcwatch.event import Kind
from btcwatch.model import OutPoint, WatchedOutput
from btcwatch.watch.diff import Observation, Payment, Reported, Spend, complete_spends, plan_events
from btcwatch.watch.poll import PollResult

PAY = "aa" * 32
SWEEP = "bb" * 32


def test_a_spend_seen_before_its_payment_is_kept() -> None:
    """An address history lists the sweep (newest) before the payment it spends."""
    result = PollResult(Observation(100))
    op = OutPoint(PAY, 0)
    unknown = WatchedOutput("c", "a1", op, 5000, "", None, None)
    result.note_spend(Spend("c", "a1", op, 5000, SWEEP, 0, 99, "h" * 64), unknown)
    result.note_payment(Payment("c", "a1", op, 5000, "00", 90, "g" * 64, 1), None)
    kept = result.outputs[("c", PAY, 0)]
    assert (kept.spent_by, kept.spent_vin, kept.spent_height) == (SWEEP, 0, 99)
    assert kept.height == 90


def test_co_spent_names_inputs_seen_by_an_earlier_tick() -> None:
    """A budget spread the sweep's two addresses over two ticks: the second tick still
    reports the co-spend, and funds_moved of the first address is not repeated."""
    first = Spend("c", "a1", OutPoint(PAY, 0), 5000, SWEEP, 0, None, None)
    second = Spend("c", "a2", OutPoint(PAY, 1), 7000, SWEEP, 1, 101, "h" * 64)
    earlier = plan_events(Reported.from_events([], set()), Observation(100, spends=[first]))
    assert [e.kind for e in earlier] == [Kind.FUNDS_MOVED]

    obs = Observation(101, spends=[second])
    complete_spends(obs, [first])
    later = plan_events(Reported.from_events(earlier, set()), obs)
    assert sorted(e.kind.value for e in later) == ["co_spent", "funds_moved"]
    co = next(e for e in later if e.kind is Kind.CO_SPENT)
    assert co.details["addresses"] == ["a1", "a2"] and co.value_sat == 12000 and co.height == 101
    again = Observation(101, spends=[second])
    complete_spends(again, [])  # nothing stored: nothing added
    assert again.spends == [second]
