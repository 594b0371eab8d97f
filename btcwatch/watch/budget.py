"""A watch tick's request budget: what the explorer's rate limit allows per tick.

A tick that asks more than its share would be throttled into the next tick (or banned), so
work that does not fit is deferred, recorded in the database, and done first next tick.

Default rule (``default_budget``): half of what the explorer's rate allows over one interval,
``rate * interval / 2``; a cron tick (``--once``) counts as a 5-minute interval. mempool.space
at 2 requests/s gives 300 requests per cron tick; an explorer without a limit (loopback) gets
no budget at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from btcwatch.errors import InputError
from btcwatch.providers.base import Provider

CRON_INTERVAL = 300.0  # seconds between two `watch --once` runs when nobody says otherwise
MIN_BUDGET = 10  # a tick always affords the tip, a block and a few checks


def default_budget(rate: float | None, interval: float | None) -> int | None:
    """``rate * interval / 2`` requests (None: no rate limit, so no budget)."""
    if rate is None or math.isinf(rate):
        return None
    seconds = CRON_INTERVAL if interval is None else interval
    return max(MIN_BUDGET, int(rate * seconds / 2))


def check_budget(value: int | None) -> int | None:
    if value is not None and value < 1:
        raise InputError(f"--budget must be at least 1 request, not {value}")
    return value


@dataclass(slots=True)
class Budget:
    """Requests left for this tick, counted from the provider's own request counter."""

    provider: Provider
    limit: int | None  # None: unlimited
    start: int = 0
    deferred: dict[str, int] = field(default_factory=dict)  # kind of work -> items deferred

    def __post_init__(self) -> None:
        self.start = self.provider.requests

    @property
    def spent(self) -> int:
        return self.provider.requests - self.start

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.spent)

    def allows(self, cost: int = 1) -> bool:
        left = self.left
        return left is None or left >= cost

    def share(self, fraction: float) -> int | None:
        """A part of what is left (at least 1), to keep room for later work this tick."""
        left = self.left
        return None if left is None else max(1, int(left * fraction))

    def defer(self, kind: str, count: int) -> None:
        if count > 0:
            self.deferred[kind] = self.deferred.get(kind, 0) + count

    @property
    def total_deferred(self) -> int:
        return sum(self.deferred.values())
