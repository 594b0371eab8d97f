"""Adapting the request rate to what an explorer tolerates (issue 12, item 10).

Why: a configured rate is a guess. A rate-limited explorer answers 429 (mempool.space with no
Retry-After and an HTML body); retrying at the same pace only earns more 429s, and a long
catch-up never finishes. So the client slows down and speeds up again, per explorer:

- a 429 halves the pace, at most once a second and once per pace (requests sent at the old
  pace, and the 429s of a server whose bucket has not refilled yet, do not halve it again),
  starting from the rate actually achieved in the last second when nothing was configured;
- a Retry-After is honoured by the request that got it (providers/_http.py waits it out);
- after ``patience`` (50) successes in a row the pace grows by 2% of the configured rate (of
  the pace itself when none is configured): additive increase,
  never above the configured rate nor, for ``forget_after`` seconds, above 90% of the rate
  that earned the last 429: a client that found the limit stays under it instead of probing
  it again every minute;
- the learned pace (`AdaptiveRate.learned`) is reported to the caller, which stores it per base
  URL (the watch keeps it in the database) and hands it back as ``start`` next time, so a cron
  process does not rediscover the limit every tick.

The configured ceiling itself is enforced by the provider's Throttler; this only adds pacing
below it. Clock and sleep are injected for tests.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["MIN_RATE", "AdaptiveRate"]

MIN_RATE = 0.05  # requests per second: one every 20 s is as slow as it gets
_MAX_OBSERVED = 1000.0  # cap on the estimate of an unthrottled client's pace
_WINDOW = 1024  # recent sends kept to estimate the achieved rate (those of the last second)
COOLDOWN = 1.0  # seconds between two slowdowns: rate limits refill per second


class AdaptiveRate:
    """AIMD pacing of one explorer's requests below a configured ceiling (None: unlimited)."""

    def __init__(
        self,
        ceiling: float | None,
        start: float | None = None,
        *,
        patience: int = 50,
        forget_after: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.ceiling = ceiling
        self.patience = patience
        self.forget_after = forget_after
        self._clock = clock
        self._sleep = sleep
        self.current: float | None = None  # None: no pacing below the ceiling
        self.epoch = 0
        self.slowdowns = 0
        self._streak = 0
        self._next = 0.0
        self._limit_hint: float | None = None
        self._hint_at = 0.0
        self._sent: deque[float] = deque(maxlen=_WINDOW)
        self._last_slowdown = -math.inf
        if start is not None and start > 0:
            self.current = self._clamp(start)

    @property
    def learned(self) -> float | None:
        """The pace below the ceiling this client has learned, or None while it needs none."""
        if self.current is None:
            return None
        if self.ceiling is not None and self.current >= self.ceiling:
            return None
        return self.current

    def _clamp(self, rate: float) -> float | None:
        rate = max(MIN_RATE, rate)
        if self.ceiling is not None and rate >= self.ceiling:
            return None
        return rate

    async def acquire(self) -> int:
        """Wait for this request's slot; returns the pace epoch to report the outcome with."""
        now = self._clock()
        slot = now
        if self.current is not None:
            slot = max(slot, self._next)
            self._next = slot + 1.0 / self.current
        if slot > now:
            await self._sleep(slot - now)
        self._sent.append(self._clock())
        return self.epoch

    def achieved(self) -> float | None:
        """Requests per second over the sends of the last second, if there were enough.

        Only used for the first slowdown of a client with no pace yet. It overestimates the
        limit when a token bucket let a burst through, which is the safe side: halving again
        each second while 429s go on finds the limit within seconds, while starting too low
        would take thousands of requests of additive increase to climb back.
        """
        now = self._clock()
        recent = [t for t in self._sent if now - t <= 1.0]
        if len(recent) < 2:
            return None
        span = recent[-1] - recent[0]
        if span <= 0:
            return _MAX_OBSERVED
        return min(_MAX_OBSERVED, (len(recent) - 1) / span)

    def on_success(self) -> None:
        if self.current is None:
            return
        self._streak += 1
        if self._streak < self.patience:
            return
        self._streak = 0
        if self._limit_hint is not None and self._clock() - self._hint_at > self.forget_after:
            self._limit_hint = None
        step = max(MIN_RATE, (self.ceiling or self.current) / 50.0)  # 2%: carefully
        grown = self.current + step
        if self._limit_hint is not None:
            grown = min(grown, max(self.current, 0.9 * self._limit_hint))
        self.current = self._clamp(grown)

    def on_rate_limited(self, epoch: int) -> None:
        """A 429 for a request sent at pace ``epoch``: slow down (once per pace)."""
        now = self._clock()
        self._streak = 0
        if epoch != self.epoch or now - self._last_slowdown < COOLDOWN:
            return  # sent before the last slowdown, or too soon after it to tell
        # Halve the pace in force; with none below the ceiling yet, the pace achieved so far
        # (an unthrottled client's rate is whatever the network allowed).
        base = self.current
        if base is None:
            seen = self.achieved()
            base = seen if self.ceiling is None else min(self.ceiling, seen or self.ceiling)
        if base is None:
            return  # one request so far and no configured rate: nothing to halve yet
        self._limit_hint, self._hint_at = base, now
        self.current = max(MIN_RATE, base / 2.0)
        if self.ceiling is not None and self.current >= self.ceiling:
            self.current = self.ceiling / 2.0
        self.epoch += 1
        self.slowdowns += 1
        self._last_slowdown = now
        self._next = max(self._next, now + 1.0 / self.current)
