"""Run the `watch --interval` daemon in-process against a loopback sim, and drive it from a thread.

The daemon owns the main thread (asyncio signal handlers need it); a driver thread pays, mines
and asserts, then stops the daemon with SIGTERM exactly as a service manager would. Payments
are real transactions broadcast to the SimChain, spending an unspent coinbase output.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from btcwatch.chain.address import Address
from btcwatch.chain.tx import RawTx, RawTxIn, RawTxOut
from btcwatch.errors import BtcwatchError
from btcwatch.event import Event
from btcwatch.sim import SimChain, SimServer
from btcwatch.sim.ws import WsHub, hub_of
from btcwatch.watch.runner import CycleReport
from btcwatch.watch.service import WatchRun, run_watch

WAIT = 20.0  # generous upper bound for anything a test waits for; never a timing assertion


@dataclass
class Daemon:
    """What the running daemon has done so far (appended from the daemon's thread)."""

    run: WatchRun
    chain: SimChain
    server: SimServer
    reports: list[CycleReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def hub(self) -> WsHub:
        return hub_of(self.server)

    def events(self) -> list[Event]:
        with self.changed:
            return [e for r in self.reports for e in r.events]

    def wait_until(self, what: str, check: Callable[[], Any], timeout: float = WAIT) -> Any:
        end = time.monotonic() + timeout
        with self.changed:
            while True:
                found = check()
                if found:
                    return found
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}")
                self.changed.wait(min(left, 0.05))

    def event_for(self, kind: str, txid: str, timeout: float = WAIT) -> tuple[int, Event]:
        """(index of the report that recorded it, the event)."""

        def find() -> tuple[int, Event] | None:
            for i, r in enumerate(self.reports):
                for e in r.events:
                    if e.kind.value == kind and e.txid == txid:
                        return i, e
            return None

        found: tuple[int, Event] = self.wait_until(f"{kind} of {txid}", find, timeout)
        return found

    def trigger_of(self, report_index: int) -> str:
        """What started the cycle of ``reports[report_index]`` ("first" for the first one)."""
        return "first" if report_index == 0 else self.run.triggers[report_index - 1]

    def subscribed(self, addresses: int | None = None) -> list[str]:
        """Wait until a connection tracks addresses (``addresses`` of them, if given)."""

        def ready() -> list[str] | None:
            for tracked in self.hub.tracked():
                if tracked and (addresses is None or len(tracked) == addresses):
                    return tracked
            return None

        found: list[str] = self.wait_until("a subscription", ready)
        return found

    def settled(self) -> None:
        """Wait for the cycle the first connection asked for (the reconciliation)."""
        self.wait_until("the reconciliation cycle", lambda: "connect" in self.run.triggers)
        self.wait_until("its report", lambda: len(self.reports) > len(self.run.triggers))

    def pay(self, address: str, value: int = 250_000) -> str:
        return pay(self.chain, address, value)


def pay(chain: SimChain, address: str, value: int) -> str:
    """Broadcast a payment of ``value`` to ``address`` from an unspent coinbase output."""
    script = Address.parse(address, chain.network).script
    with chain.lock:
        for height in range(chain.tip_height, chain.base_height - 1, -1):
            rec = chain.block_at(height)
            assert rec is not None
            coinbase = rec.entries[0]
            have = coinbase.outs[0][1]
            if chain.outspend(coinbase.txid, 0) is None and have > value + 10_000:
                # ... nor spent by an earlier payment still in the mempool
                if any((coinbase.txid, 0) in e.ins for e in chain.mempool()):
                    continue
                txin = RawTxIn(coinbase.txid, 0, b"", 0xFFFFFFFD, (bytes(71), bytes(33)))
                change = RawTxOut(have - value - 2_000, coinbase.outs[0][0])
                tx = RawTx(2, (txin,), (RawTxOut(value, script), change), 0)
                return chain.broadcast(tx.serialize().hex())
    raise AssertionError("no unspent coinbase output left to pay from")


def run_daemon(
    run: WatchRun,
    db: Path,
    chain: SimChain,
    server: SimServer,
    script: Callable[[Daemon], None],
) -> Daemon:
    """Run ``run`` (an --interval daemon) until ``script`` returns; re-raise what it raised."""
    daemon = Daemon(run, chain, server)
    failure: list[BaseException] = []
    running = threading.Event()

    def on_report(report: CycleReport) -> None:
        running.set()
        with daemon.changed:
            daemon.reports.append(report)
            daemon.changed.notify_all()

    def on_error(exc: BtcwatchError) -> None:
        with daemon.changed:
            daemon.errors.append(str(exc))

    def drive() -> None:
        try:
            if not running.wait(WAIT):
                raise AssertionError("the daemon never finished a cycle")
            script(daemon)
        except BaseException as exc:
            failure.append(exc)
        finally:
            if running.is_set() and not finished.is_set():
                os.kill(os.getpid(), signal.SIGTERM)

    finished = threading.Event()
    driver = threading.Thread(target=drive, name="push-test-driver")
    before = signal.getsignal(signal.SIGTERM)
    try:
        driver.start()
        try:
            run_watch(db, run, on_report=on_report, on_error=on_error, on_note=daemon.notes.append)
        finally:
            # The loop put SIGTERM back to "terminate": a late signal must not kill pytest.
            signal.signal(signal.SIGTERM, lambda *_: None)
            finished.set()
            driver.join(WAIT * 2)
    finally:
        signal.signal(signal.SIGTERM, before)
    if failure:
        raise failure[0]
    return daemon
