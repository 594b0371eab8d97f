"""Push in daemon mode: keep an explorer WebSocket subscribed and wake the watch loop on news.

A pushed message is never turned into events. It only says "run a cycle now": the cycle's own
diff and deterministic event ids decide what is new, so push and polling can never report one
payment twice, and a lying or broken push channel can at worst cost a cycle. After every gap
(the first connection, each reconnection) the loop is woken too: that REST reconciliation
catches whatever happened while no subscription was listening.

A channel that fails (refused, cut, garbage, an oversized frame, a silent server caught by the
heartbeat) is logged once per kind of failure and retried with exponential backoff; polling at
``--interval`` goes on regardless.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from btcwatch.errors import ProviderError
from btcwatch.providers.esplora_ws import (
    HEARTBEAT,
    MAX_MESSAGE,
    PushChannel,
    PushNotice,
    open_push,
)
from btcwatch.store import Store
from btcwatch.store.events import get_state
from btcwatch.store.watchstate import watched_outputs
from btcwatch.watch.hotset import hot_addresses
from btcwatch.watch.watchset import load_watchset

__all__ = [
    "PUSH_LIMIT",
    "PUSH_MODES",
    "PushSettings",
    "PushWatcher",
    "Waker",
    "push_addresses",
    "watched_targets",
]

PUSH_MODES = ("auto", "on", "off")
PUSH_LIMIT = 100  # addresses per connection until the server says otherwise

Opener = Callable[..., AbstractAsyncContextManager[PushChannel]]
Note = Callable[[str], None]


def watched_targets(store: Store, case: str | None) -> tuple[set[str], set[tuple[str, int]]]:
    """Every watched address and unspent watched outpoint (for the whole-mempool stream)."""
    ws = load_watchset(store, case)
    return set(ws.addresses), ws.outpoint_keys


def push_addresses(store: Store, case: str | None, limit: int) -> list[str]:
    """The addresses to subscribe to, at most ``limit``: the hot set (watch/hotset.py) first,
    then the rest of the watchlist, newest first (a subscription costs no request)."""
    ws = load_watchset(store, case)
    tip = get_state(store, "tip_height")
    outputs = watched_outputs(store, case)
    hot = hot_addresses(ws, outputs, tip if isinstance(tip, int) else 0, limit)
    rest = [a for a in reversed(ws.addresses) if a not in set(hot)]
    return [*hot, *rest][:limit]


@dataclass(frozen=True, slots=True)
class PushSettings:
    url: str
    proxy: str | None = None
    limit: int = PUSH_LIMIT
    max_size: int = MAX_MESSAGE
    heartbeat: float = HEARTBEAT
    open_timeout: float = 15.0
    backoff: float = 1.0  # first wait before reconnecting; doubles up to backoff_max
    backoff_max: float = 120.0
    wake_on_block: bool = True
    # Ask for the whole-mempool stream (track-mempool): it catches a spend of any watched
    # output and a payment to any watched address beyond the address limit, at the price of
    # every mempool transaction on the wire; for loopback and self-hosted explorers.
    mempool: bool = False


class Waker:
    """The daemon's alarm clock: the interval timer, or a push, whichever comes first.

    ``debounce``: a push-woken cycle starts at least that long after the previous cycle
    started, so a burst of pushes costs one extra cycle per ``debounce`` seconds at most.
    """

    def __init__(self, debounce: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.debounce = debounce
        self._clock = clock
        self._event = asyncio.Event()
        self._reasons: list[str] = []
        self.last_start = -math.inf

    def __call__(self, reason: str) -> None:
        self._reasons.append(reason)
        self._event.set()

    def started(self) -> None:
        """A cycle starts now: what woke us so far is its business."""
        self.last_start = self._clock()
        self._event.clear()
        self._reasons.clear()

    async def wait(self, stop: asyncio.Event, seconds: float) -> str:
        """ "stop", "timer", or the first reason a push gave ("push", "connect")."""
        deadline = self._clock() + seconds
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._event.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        if stop.is_set():
            return "stop"
        if not self._event.is_set():
            return "timer"
        reason = self._reasons[0] if self._reasons else "push"
        pause = min(self.last_start + self.debounce, deadline) - self._clock()
        if pause > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause)
            if stop.is_set():
                return "stop"
        return reason


class PushWatcher:
    """Keeps one subscription alive and calls ``wake`` when the explorer reports news about
    a tracked address (or a new block), and after every (re)connection."""

    def __init__(
        self,
        settings: PushSettings,
        wake: Callable[[str], None],
        *,
        note: Note = lambda text: None,
        opener: Opener = open_push,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.limit = settings.limit
        self.connects = 0
        self.problems: list[str] = []  # every failure, in order (logged once per kind)
        self._wake = wake
        self._note = note
        self._opener = opener
        self._sleep = sleep
        self._rng = rng
        self._wanted: list[str] = []
        self._all: tuple[set[str], set[tuple[str, int]]] = (set(), set())
        self._sent: list[str] | None = None
        self._channel: PushChannel | None = None
        self._noted: set[str] = set()

    @property
    def tracked(self) -> list[str]:
        """What the open subscription tracks (empty when disconnected)."""
        return list(self._sent or [])

    async def track(
        self,
        addresses: Sequence[str],
        everything: tuple[set[str], set[tuple[str, int]]] | None = None,
    ) -> None:
        """Follow these addresses from now on (resubscribes if the list changed);
        ``everything``: all watched addresses and outpoints, for the whole-mempool stream."""
        self._wanted = list(addresses)
        if everything is not None:
            self._all = everything
        channel = self._channel
        if channel is not None and self._sent != self._wanted[: self.limit]:
            with contextlib.suppress(ProviderError):  # the reader notices a dead channel
                await self._subscribe(channel)

    async def _subscribe(self, channel: PushChannel) -> None:
        chosen = self._wanted[: self.limit]
        await channel.subscribe(
            chosen, blocks=self.settings.wake_on_block, mempool=self.settings.mempool
        )
        self._sent = chosen

    async def run(self) -> None:
        """Connect, listen, reconnect with backoff, until cancelled."""
        failures = 0
        while True:
            channel_used: PushChannel | None = None
            try:
                async with self._opener(
                    self.settings.url,
                    proxy=self.settings.proxy,
                    max_size=self.settings.max_size,
                    heartbeat=self.settings.heartbeat,
                    open_timeout=self.settings.open_timeout,
                ) as channel:
                    channel_used = channel
                    await self._subscribe(channel)
                    self._channel = channel
                    self.connects += 1
                    if self.connects == 1:
                        self._once("connected", f"push: subscribed at {self.settings.url}")
                    self._wake("connect")  # REST reconciliation after every gap
                    async for notice in channel.notices():
                        await self._on(channel, notice)
            except ProviderError as exc:
                self._failed(str(exc))
            except Exception as exc:  # a bug or a library surprise must not end push silently
                self._failed(f"unexpected {type(exc).__name__}: {exc}")
            finally:
                self._channel = None
                self._sent = None
            # Only a channel that delivered a well-formed message resets the backoff: one that
            # connects and then fails (garbage, cut, silent) keeps backing off.
            failures = 1 if channel_used is not None and channel_used.messages else failures + 1
            wait = min(self.settings.backoff_max, self.settings.backoff * 2 ** (failures - 1))
            await self._sleep(wait * (0.5 + self._rng() / 2))

    async def _on(self, channel: PushChannel, notice: PushNotice) -> None:
        if notice.limit_error is not None:
            before = self.limit
            sent = len(self._sent or [])
            allowed = notice.limit if notice.limit is not None else sent // 2
            self.limit = max(1, min(allowed, max(1, sent - 1)))
            self._once(
                "limit",
                f"push: the explorer tracks at most {self.limit} addresses per connection "
                f"(asked {before}): subscribing to the first {self.limit}, polling covers the rest",
            )
            await self._subscribe(channel)
            return
        tracked = set(self._sent or [])
        addresses, outpoints = self._all
        if (
            notice.addresses & tracked
            or (notice.block and self.settings.wake_on_block)
            or notice.paid & addresses
            or notice.spends & outpoints
        ):
            self._wake("push")

    def _failed(self, problem: str) -> None:
        self.problems.append(problem)
        kind = re.split(r"[:(]", problem)[0].strip()
        self._once(kind, f"push: {problem}; polling continues over REST")

    def _once(self, key: str, text: str) -> None:
        if key not in self._noted:
            self._noted.add(key)
            self._note(text)
