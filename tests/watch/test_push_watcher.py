"""PushWatcher and Waker without sockets: scripted channels, an injected sleep, no clock reads.

The real channel is exercised over loopback in tests/providers/test_esplora_ws.py and the
daemon in test_watch_push.py; here each decision is checked on its own: what wakes the loop,
how the subscription shrinks, how the backoff grows and resets, what is logged once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from btcwatch.errors import BadResponse, ProviderError, Unavailable
from btcwatch.providers.esplora_ws import PushNotice
from btcwatch.watch.push import PushSettings, PushWatcher, Waker

ERROR_7 = "too many addresses requested, this connection supports tracking a maximum of 7 addresses"


class FakeChannel:
    def __init__(self, script: list[PushNotice | ProviderError], messages: int = 1) -> None:
        self.script = script
        self.subscriptions: list[list[str]] = []
        self.messages = messages

    async def subscribe(
        self, addresses: list[str], *, blocks: bool = True, mempool: bool = False
    ) -> None:
        self.subscriptions.append(list(addresses))

    async def notices(self) -> AsyncIterator[PushNotice]:
        for item in self.script:
            await asyncio.sleep(0)
            if isinstance(item, ProviderError):
                raise item
            yield item
        raise Unavailable("the connection was cut", url="ws://x")


class Stop(Exception):
    pass


def harness(
    connections: list[FakeChannel | ProviderError], addresses: list[str]
) -> tuple[PushWatcher, list[str], list[str], list[float], list[FakeChannel]]:
    wakes: list[str] = []
    notes: list[str] = []
    waits: list[float] = []
    used: list[FakeChannel] = []
    pending = list(connections)

    @asynccontextmanager
    async def opener(url: str, **kwargs: Any) -> AsyncIterator[FakeChannel]:
        item = pending.pop(0)
        if isinstance(item, ProviderError):
            raise item
        used.append(item)
        yield item

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if not pending:
            raise Stop

    watcher = PushWatcher(
        PushSettings("ws://x", limit=100, backoff=1.0, backoff_max=8.0),
        wakes.append,
        note=notes.append,
        opener=opener,
        sleep=sleep,
        rng=lambda: 1.0,  # no jitter: waits are exactly the backoff
    )
    asyncio.run(watcher.track(addresses))
    return watcher, wakes, notes, waits, used


def run(watcher: PushWatcher) -> None:
    with pytest.raises(Stop):
        asyncio.run(watcher.run())


def test_news_about_a_tracked_address_or_a_block_wakes_the_loop() -> None:
    channel = FakeChannel(
        [
            PushNotice(addresses=frozenset({"bc1qother"})),  # not ours: no wake
            PushNotice(addresses=frozenset({"bc1qwatched"}), txids=frozenset({"ab" * 32})),
            PushNotice(block="00" * 32),
        ]
    )
    watcher, wakes, notes, _, _ = harness([channel], ["bc1qwatched"])
    run(watcher)
    assert wakes == ["connect", "push", "push"]
    assert channel.subscriptions == [["bc1qwatched"]]
    assert notes == ["push: subscribed at ws://x", "push: the connection was cut (ws://x); "
                     "polling continues over REST"]  # fmt: skip


def test_track_addresses_error_shrinks_to_the_stated_limit_and_is_noted_once() -> None:
    addresses = [f"a{i}" for i in range(20)]
    first = FakeChannel([PushNotice(limit_error=ERROR_7, limit=7)])
    second = FakeChannel([PushNotice(limit_error="no", limit=None)])  # halves what it sent
    watcher, wakes, notes, _, _ = harness([first, second], addresses)
    run(watcher)
    assert first.subscriptions == [addresses, addresses[:7]]
    assert second.subscriptions == [addresses[:7], addresses[:3]]
    assert watcher.limit == 3
    assert len([n for n in notes if "at most" in n]) == 1
    assert wakes == ["connect", "connect"]  # a refusal is no news


def test_backoff_grows_while_failing_and_resets_after_a_channel_that_worked() -> None:
    dead = [Unavailable("no WebSocket here (HTTP 503 to the upgrade)", url="ws://x")] * 5
    garbage = FakeChannel([BadResponse("push message is not JSON: 'x'", url="ws://x")], 0)
    healthy = FakeChannel([], messages=3)
    watcher, wakes, notes, waits, _ = harness([*dead, garbage, healthy, dead[0]], ["a"])
    run(watcher)
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 1.0, 2.0]
    assert wakes == ["connect", "connect"]  # every connection asks for a reconciliation
    problems = [n for n in notes if "polling continues" in n]
    assert len(problems) == 3  # refused, garbage, cut: each kind once
    assert len(watcher.problems) == 8


def test_track_resubscribes_an_open_channel_only_when_the_list_changes() -> None:
    got: dict[str, Any] = {}

    class Holding(FakeChannel):
        async def notices(self) -> AsyncIterator[PushNotice]:
            await watcher.track(["a", "b"])  # the same list: nothing sent
            await watcher.track(["a", "b", "c"])
            got["tracked"] = watcher.tracked
            raise Unavailable("the connection was cut", url="ws://x")
            yield PushNotice()

    channel = Holding([])
    watcher, _, _, _, _ = harness([channel], ["a", "b"])
    run(watcher)
    assert channel.subscriptions == [["a", "b"], ["a", "b", "c"]]
    assert got["tracked"] == ["a", "b", "c"]
    assert watcher.tracked == []  # disconnected


def test_waker_returns_what_woke_it() -> None:
    async def scenario() -> list[str]:
        stop = asyncio.Event()
        waker = Waker(debounce=0.0)
        out = [await waker.wait(stop, 0)]
        waker("connect")
        waker("push")
        out.append(await waker.wait(stop, 60))
        waker.started()
        stop.set()
        out.append(await waker.wait(stop, 60))
        return out

    assert asyncio.run(scenario()) == ["timer", "connect", "stop"]


def test_waker_debounce_is_cut_short_by_a_stop() -> None:
    async def scenario() -> str:
        stop = asyncio.Event()
        waker = Waker(debounce=3600.0)
        waker.started()  # a cycle just started: the next push-woken one waits an hour
        waker("push")
        asyncio.get_running_loop().call_soon(stop.set)
        return await waker.wait(stop, 7200)

    assert asyncio.run(scenario()) == "stop"


def test_the_whole_mempool_stream_is_matched_against_everything_watched() -> None:
    channel = FakeChannel(
        [
            PushNotice(paid=frozenset({"bc1qstranger"}), spends=frozenset({("cd" * 32, 0)})),
            PushNotice(paid=frozenset({"bc1qbeyondlimit"})),  # watched, though not tracked
            PushNotice(spends=frozenset({("ab" * 32, 1)})),  # spends a watched output
        ]
    )
    watcher, wakes, _, _, _ = harness([channel], ["bc1qtracked"])
    asyncio.run(
        watcher.track(["bc1qtracked"], ({"bc1qtracked", "bc1qbeyondlimit"}, {("ab" * 32, 1)}))
    )
    run(watcher)
    assert wakes == ["connect", "push", "push"]


def test_an_unexpected_error_is_noted_and_retried_not_raised() -> None:
    class Broken(FakeChannel):
        async def notices(self) -> AsyncIterator[PushNotice]:
            raise KeyError("surprise")
            yield PushNotice()

    watcher, wakes, notes, waits, _ = harness([Broken([], 0), Broken([], 0)], ["a"])
    run(watcher)
    assert [n for n in notes if "unexpected KeyError" in n] == [
        "push: unexpected KeyError: 'surprise'; polling continues over REST"
    ]
    assert waits == [1.0, 2.0] and wakes == ["connect", "connect"]
