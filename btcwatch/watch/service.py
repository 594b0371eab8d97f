"""`btcwatch watch` as a library call: lock, provider, sinks, then one cycle or a daemon loop.

The daemon stops on SIGTERM/SIGINT after finishing the cycle in progress; a second signal
abandons it (its transaction rolls back, so nothing half-done is stored) and raises
`CycleAbandoned`, so the exit status says so (128 + signal number, as a shell would). Ctrl-C
during `--once` (asyncio cancels the run) is re-raised, never taken for a finished cycle.
Between cycles it waits for the interval or for the explorer's WebSocket (watch/push.py),
whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from btcwatch.chain.network import network_by_name
from btcwatch.config import Settings
from btcwatch.errors import BtcwatchError, InputError
from btcwatch.event import Event
from btcwatch.prices import PriceTable
from btcwatch.providers.base import Provider
from btcwatch.providers.esplora_ws import HEARTBEAT, push_url
from btcwatch.providers.factory import LOOPBACK, PoolSettings, open_pool
from btcwatch.providers.pool import Disagreement, ProviderPool
from btcwatch.store import Store
from btcwatch.store.evidence import EvidenceLog
from btcwatch.store.rates import learned_rates, save_learned_rates
from btcwatch.valuation import PriceSettings, Valuer
from btcwatch.watch.alerts import Sink, check_sink, deliver, parse_sink
from btcwatch.watch.disputes import DisputeLog
from btcwatch.watch.lock import watch_lock
from btcwatch.watch.push import (
    PUSH_LIMIT,
    PushSettings,
    PushWatcher,
    Waker,
    push_addresses,
    watched_targets,
)
from btcwatch.watch.runner import CycleReport, WatchOptions, run_cycle

ProviderFactory = Callable[[EvidenceLog], Provider]
T = TypeVar("T")


class CycleAbandoned(BtcwatchError):
    """A second stop signal abandoned the cycle in progress; nothing of it was stored."""

    def __init__(self, signum: int, what: str = "the cycle in progress was abandoned") -> None:
        self.signum = signum
        name = signal.Signals(signum).name
        super().__init__(f"second {name}: {what}")


# `watch --follow`'s hook after each cycle: (store, provider, options, log, sink specs, the
# run's prices) -> (events it recorded, problems to report); its work is durable
# (btcwatch.followup).
AfterCycle = Callable[
    [Store, Provider, WatchOptions, EvidenceLog, Sequence[str], PriceTable | Valuer],
    Awaitable[tuple[list[Event], list[str]]],
]


@dataclass(slots=True)
class WatchRun:
    """Everything a watch invocation needs besides the database."""

    options: WatchOptions
    alerts: Sequence[str] = ("stderr",)
    interval: float | None = None  # None: one cycle (cron)
    # explorers, network, proxy, rate, retries, cross-check; run_watch adds the learned rates
    pool: PoolSettings = field(default_factory=PoolSettings)
    # `watch --follow`: called after each cycle; records and returns the events it found
    # (the CLI passes btcwatch.followup, so watch itself never imports trace).
    after_cycle: AfterCycle | None = None
    prices: PriceSettings | None = None  # None: the bundled daily table only
    reports: list[CycleReport] = field(default_factory=list)
    # Daemon push (watch/push.py): auto | on | off, and its tuning; ``triggers`` records what
    # started each cycle after the first ("timer", "push", "connect").
    push: str = "auto"
    push_limit: int = PUSH_LIMIT
    push_heartbeat: float = HEARTBEAT
    push_backoff: float = 1.0
    debounce: float = 1.0
    triggers: list[str] = field(default_factory=list)
    # A driven run (the demo's replay): without an interval, asked after each cycle whether
    # to run another at once; errors end the run as under --once.
    again: Callable[[CycleReport], bool] | None = None


def default_provider_factory(run: WatchRun) -> ProviderFactory:
    def make(log: EvidenceLog) -> Provider:
        return open_pool(run.pool, log)

    return make


def run_watch(
    db_path: Path,
    run: WatchRun,
    settings: Settings | None = None,
    *,
    on_report: Callable[[CycleReport], None] = lambda r: None,
    on_error: Callable[[BtcwatchError], None] = lambda e: None,
    provider_factory: ProviderFactory | None = None,
    on_note: Callable[[str], None] = lambda text: None,
) -> list[CycleReport]:
    """Take the lock, then run one cycle or loop until signalled. Raises LockBusy at once.

    Bad sink specs raise ConfigError before the lock is taken or the database opened.
    """
    sinks = make_sinks(run.alerts, settings)
    with watch_lock(db_path), Store.open(db_path) as store:
        run.pool = dataclasses.replace(run.pool, learned=learned_rates(store))
        factory = provider_factory or default_provider_factory(run)
        asyncio.run(_loop(store, run, sinks, factory, on_report, on_error, on_note))
    return run.reports


def make_sinks(specs: Sequence[str], settings: Settings | None = None) -> list[Sink]:
    """Parse and check ``--alert`` specs, with SMTP settings and webhook secret from config.

    A sink that can never work (a JSON lines file in a missing or read-only directory, a
    webhook URL without a host) is a ConfigError here, before anything runs.
    """
    sinks = [
        parse_sink(
            spec,
            smtp=settings.smtp if settings else None,
            secret=settings.webhook_secret if settings else None,
        )
        for spec in dict.fromkeys(specs)
    ]
    for sink in sinks:
        check_sink(sink)
    return sinks


async def _loop(
    store: Store,
    run: WatchRun,
    sinks: Sequence[Sink],
    factory: ProviderFactory,
    on_report: Callable[[CycleReport], None],
    on_error: Callable[[BtcwatchError], None],
    on_note: Callable[[str], None] = lambda text: None,
) -> None:
    await _Loop(store, run, sinks, factory, on_report, on_error, on_note).drive()


class _Loop:
    """A watch run's cycles, each followed by the follow-up hook: once, driven, or a daemon."""

    def __init__(
        self,
        store: Store,
        run: WatchRun,
        sinks: Sequence[Sink],
        factory: ProviderFactory,
        on_report: Callable[[CycleReport], None],
        on_error: Callable[[BtcwatchError], None],
        on_note: Callable[[str], None],
    ) -> None:
        self.store, self.run, self.sinks = store, run, sinks
        self.factory, self.on_report, self.on_error, self.on_note = (
            factory,
            on_report,
            on_error,
            on_note,
        )
        self.stop = asyncio.Event()
        self.current: list[asyncio.Future[Any]] = []  # the cycle or follow-up in progress
        self.abandoned: list[int] = []  # the second signal, which abandoned it
        self.deadline = 0.0  # the timer's next cycle (loop time); pushes do not move it

    async def drive(self) -> None:
        run, store = self.run, self.store
        loop = asyncio.get_running_loop()
        if run.interval is not None:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._signalled, int(sig))
        self.log = EvidenceLog()
        self.prices: PriceTable | Valuer = (
            PriceTable.load_default() if run.prices is None else Valuer(run.prices, store)
        )
        self.disputes = DisputeLog()
        self.provider = self.factory(self.log)
        _listen(self.provider, self.disputes)
        self.waker = Waker(run.debounce)
        self.pusher = _pusher(run, self.waker, self.on_note)
        pushing = None
        if self.pusher is not None:
            await _track(self.pusher, store, run)
            pushing = asyncio.create_task(self.pusher.run())
        try:
            await self._cycles()
        finally:
            if pushing is not None:
                pushing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pushing
            with contextlib.suppress(BtcwatchError):  # a failed cycle's lessons are kept too
                save_learned_rates(store, self.provider.learned_rates())
            await self.provider.aclose()
            if isinstance(self.prices, Valuer):
                await self.prices.aclose()
            if run.interval is not None:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)

    def _signalled(self, signum: int) -> None:
        if self.stop.is_set() and self.current and not self.current[0].done():
            self.abandoned.append(signum)
            self.current[0].cancel()  # second signal: abandon the cycle, its transaction rolls back
        self.stop.set()

    async def _cycles(self) -> None:
        run = self.run
        while True:
            self.waker.started()
            report = await self._cycle()
            if report is None:  # a daemon's failed cycle, reported; it tries again later
                if self.stop.is_set():
                    break
                continue
            await self._follow_up(report)
            save_learned_rates(self.store, self.provider.learned_rates())
            run.reports.append(report)
            self.on_report(report)
            if run.interval is None:  # --once, or a driven run that says when it is over
                if run.again is None or not run.again(report):
                    break
                continue
            if self.stop.is_set() or not await self._wait(report, run.interval):
                break

    async def _cycle(self) -> CycleReport | None:
        """One cycle; None when a daemon's cycle failed (reported, after a pause)."""
        task = asyncio.create_task(
            run_cycle(
                self.store,
                self.provider,
                self.run.options,
                self.sinks,
                evidence=self.log,
                prices=self.prices,
                disputes=self.disputes,
            )
        )
        try:
            return await self._settle(task, "the cycle in progress was abandoned, nothing stored")
        except CycleAbandoned:
            raise
        except BtcwatchError as exc:
            interval = self.run.interval
            if interval is None or isinstance(exc, InputError):
                raise  # bad input (e.g. --from-height above the tip) does not heal
            self.on_error(exc)  # the daemon reports the failed cycle and tries again later
            self.log.drain()
            await _sleep_or_stop(self.stop, min(interval, 60.0))
            return None

    async def _follow_up(self, report: CycleReport) -> None:
        """`watch --follow`'s hook: its events join the report and are alerted at once."""
        if self.run.after_cycle is None:
            return
        follow: asyncio.Future[tuple[list[Event], list[str]]] = asyncio.ensure_future(
            self.run.after_cycle(
                self.store,
                self.provider,
                self.run.options,
                self.log,
                [s.spec for s in self.sinks],
                self.prices,
            )
        )
        new, trouble = await self._settle(
            follow, "the follow-up trace in progress was abandoned (it stays owed)"
        )
        report.events.extend(new)
        report.followup_errors.extend(trouble)
        if new:
            delivered, problems = await deliver(self.store, self.sinks)
            report.delivered += delivered
            report.alert_errors.extend(problems)

    async def _settle(self, work: asyncio.Future[T], abandoned: str) -> T:
        """Await ``work``; a second signal that cancelled it raises CycleAbandoned."""
        self.current[:] = [work]
        try:
            return await work
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if not self.abandoned or (me is not None and me.cancelling()):
                raise  # Ctrl-C under --once (asyncio.run cancels us): not a finished run
            raise CycleAbandoned(self.abandoned[0], abandoned) from None

    async def _wait(self, report: CycleReport, interval: float) -> bool:
        """Until the timer or a push starts the next cycle; False when stopped instead."""
        run, loop = self.run, asyncio.get_running_loop()
        timer = not run.triggers or run.triggers[-1] == "timer"
        if self.pusher is not None and (timer or report.events):  # what to track may have changed
            await _track(self.pusher, self.store, run)
        if timer:
            self.deadline = loop.time() + interval
        woke = await self.waker.wait(self.stop, max(0.0, self.deadline - loop.time()))
        if woke == "stop":
            return False
        run.triggers.append(woke)
        return True


def _pusher(run: WatchRun, waker: Waker, note: Callable[[str], None]) -> PushWatcher | None:
    """The daemon's push channel, or None (--once, --push off, no WebSocket, a test transport)."""
    pool = run.pool
    if run.interval is None or (run.push == "auto" and pool.transport is not None):
        return None
    network = network_by_name(pool.network)
    url = push_url(pool.explorers, network, run.push)
    if url is None:
        if run.push == "on":
            note("push: none of the explorers has a WebSocket; polling only")
        return None
    # The whole-mempool stream only where it burdens nobody: loopback, and the self-hosted
    # explorer that --push on pointed at (not mempool.space's public service).
    own = urlsplit(url).hostname in LOOPBACK or url != push_url(pool.explorers, network, "auto")
    settings = PushSettings(
        url,
        proxy=pool.proxy,
        limit=run.push_limit,
        heartbeat=run.push_heartbeat,
        backoff=run.push_backoff,
        mempool=own,
    )
    return PushWatcher(settings, waker, note=note)


async def _track(pusher: PushWatcher, store: Store, run: WatchRun) -> None:
    case = run.options.case
    everything = watched_targets(store, case) if pusher.settings.mempool else None
    await pusher.track(push_addresses(store, case, pusher.limit), everything)


def _listen(provider: Provider, disputes: DisputeLog) -> None:
    """Route a pool's disagreements to the cycle (keeping any listener already set)."""
    if not isinstance(provider, ProviderPool):
        return
    before = provider.on_disagreement
    if before is None:
        provider.on_disagreement = disputes
        return

    def both(d: Disagreement) -> None:
        before(d)
        disputes(d)

    provider.on_disagreement = both


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
