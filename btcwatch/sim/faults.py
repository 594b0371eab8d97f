"""Seeded fault injection and a token-bucket rate limit for the simulated explorer.

Faults are decided per request from a seeded RNG, in arrival order: the n-th request always
gets the n-th decision, so a test that sends requests one after another can assert exact
counts (use `Faults.preview`) instead of timing anything. The kinds mirror what public explorers
do to a poller: 5xx pages, slow answers, connections closed without a response, and JSON cut
short under a Content-Length that matches the cut body.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from enum import StrEnum

from btcwatch.errors import ConfigError

__all__ = ["FAULT_KINDS", "FaultKind", "Faults", "RateLimiter"]


class FaultKind(StrEnum):
    """One way a request can go wrong."""

    HTTP_500 = "500"
    HTTP_502 = "502"
    HTTP_503 = "503"
    SLOW = "slow"
    DROP = "drop"
    TRUNCATE = "truncate"


FAULT_KINDS: tuple[FaultKind, ...] = tuple(FaultKind)


def parse_kinds(text: str) -> tuple[FaultKind, ...]:
    """``"500,drop,truncate"`` -> kinds; ConfigError names an unknown one."""
    kinds = []
    for part in text.split(","):
        name = part.strip().lower()
        if not name:
            continue
        try:
            kinds.append(FaultKind(name))
        except ValueError:
            known = ", ".join(k.value for k in FaultKind)
            raise ConfigError(f"unknown fault kind {name!r} (use {known})") from None
    if not kinds:
        raise ConfigError("no fault kinds given")
    return tuple(kinds)


class Faults:
    """Decide, request by request, whether and how to misbehave."""

    __slots__ = ("_lock", "_rng", "counts", "delay", "kinds", "rate", "seed")

    def __init__(
        self,
        rate: float = 0.1,
        *,
        seed: int = 0,
        kinds: Iterable[FaultKind] = FAULT_KINDS,
        delay: float = 2.0,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ConfigError(f"fault rate must be between 0 and 1, got {rate}")
        if delay < 0:
            raise ConfigError(f"fault delay cannot be negative: {delay}")
        self.rate = rate
        self.seed = seed
        self.kinds = tuple(kinds)
        if not self.kinds:
            raise ConfigError("no fault kinds given")
        self.delay = delay
        self.counts: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def next(self) -> FaultKind | None:
        """The decision for the next request (consumes one step of the seeded sequence)."""
        with self._lock:
            kind = self._draw(self._rng)
            self.counts[kind.value if kind else "ok"] += 1
            return kind

    def _draw(self, rng: random.Random) -> FaultKind | None:
        roll = rng.random()
        pick = rng.randrange(len(self.kinds))
        return self.kinds[pick] if roll < self.rate else None

    def preview(self, n: int) -> list[FaultKind | None]:
        """The first ``n`` decisions of a fresh `Faults` with the same settings."""
        rng = random.Random(self.seed)
        return [self._draw(rng) for _ in range(n)]

    def describe(self) -> dict[str, object]:
        return {
            "rate": self.rate,
            "seed": self.seed,
            "kinds": [k.value for k in self.kinds],
            "delay": self.delay,
            "counts": dict(self.counts),
        }


class RateLimiter:
    """A token bucket: ``rate`` requests per second on average, bursts up to ``burst``."""

    __slots__ = ("_clock", "_last", "_lock", "_tokens", "burst", "rate")

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ConfigError(f"rate limit must be positive, got {rate}")
        self.rate = rate
        self.burst = max(1.0, rate) if burst is None else burst
        if self.burst < 1:
            raise ConfigError(f"rate-limit burst must be at least 1, got {self.burst}")
        self._clock = clock
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Take a token if there is one."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False
