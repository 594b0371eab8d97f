"""Address mode and block mode as strategies: each reads what it needs and returns a PollResult.

Address mode asks the explorer about every watched address (summary, then history when it
changed); block mode follows the chain block by block and matches locally, catching up new
addresses from their histories. Both only read the store: the runner stores what they return,
in one transaction (`store.watchstate.save_cycle`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Container
from dataclasses import dataclass

from btcwatch.errors import ConfigError, InputError
from btcwatch.model import AddressStats, Tip, WatchedOutput
from btcwatch.providers.base import Capability, Provider
from btcwatch.store import Store
from btcwatch.store.events import get_state
from btcwatch.store.watchstate import addresses_after, last_address_id, scanned_blocks
from btcwatch.watch.address_mode import poll_addresses
from btcwatch.watch.block_mode import poll_blocks
from btcwatch.watch.budget import Budget
from btcwatch.watch.diff import Observation
from btcwatch.watch.hotset import hot_addresses
from btcwatch.watch.mempool import MempoolWork
from btcwatch.watch.options import WatchOptions
from btcwatch.watch.poll import PollResult
from btcwatch.watch.watchset import WatchSet

AUTO_BLOCK_THRESHOLD = 20  # from this many addresses, one block costs less than N summaries
SCAN_ADDRESSES = "scan_address_id"  # watchlist row id when a case's block scan began
CATCHUP_PENDING = "catchup_pending"  # addresses whose past a budget-cut catch-up still owes
MEMPOOL_DEFERRED = "mempool_deferred"  # outspends and hot addresses a tick could not afford
CATCHUP_SHARE = 0.5  # of a tick's budget, what catching up new addresses may use
ADDRESSES_DEFERRED = "addresses_deferred"  # address mode: addresses a tick could not afford


@dataclass(slots=True)
class PollInputs:
    """What a poll starts from: the watchlist, the outputs known, the last summaries."""

    store: Store
    provider: Provider
    ws: WatchSet
    outputs: list[WatchedOutput]
    options: WatchOptions
    budget: Budget
    distrust: Container[str]  # addresses whose summaries explorers disagreed on
    previous: dict[str, AddressStats]


class Mode(ABC):
    """One way of polling; `poll()` reads the store and the explorer, and writes nothing."""

    name = ""

    def __init__(self, inputs: PollInputs) -> None:
        self.inputs = inputs

    @abstractmethod
    async def poll(self) -> PollResult:
        """What changed since the last cycle, and the state to remember with it."""

    def _key(self, prefix: str) -> str:
        """A watch_state key of this run's case (or of all cases)."""
        return f"{prefix}:{self.inputs.options.case or '*'}"

    async def _catch_up(
        self, addresses: list[str], tip_height: int, fraction: float = CATCHUP_SHARE
    ) -> tuple[PollResult | None, list[str]]:
        """Histories of ``addresses`` in steps that fit the budget's share; returns those left.

        Each step costs about two requests per address (summary and first history page); at
        least one step runs, so a tick always moves forward.
        """
        budget = self.inputs.budget
        share = budget.share(fraction)
        start = budget.spent
        done: PollResult | None = None
        todo = list(addresses)
        while todo:
            used = budget.spent - start
            if share is not None and done is not None and used >= share:
                break
            size = len(todo) if share is None else max(1, (share - used) // 2)
            step, todo = todo[:size], todo[size:]
            found = await self._histories(tip_height, step)
            if done is None:
                done = found
            else:
                merge(done, found)
        return done, todo

    async def _histories(self, tip_height: int, only: list[str] | None = None) -> PollResult:
        i = self.inputs
        return await poll_addresses(
            i.provider,
            i.ws,
            i.outputs,
            i.previous,
            tip_height,
            needed=i.options.confirmations,
            only=only,
            distrust=i.distrust,
        )


class AddressMode(Mode):
    """Ask about each watched address; within a budget, the ones left go first next tick."""

    name = "address"

    async def poll(self) -> PollResult:
        best = await self.inputs.provider.tip()
        if self.inputs.budget.limit is None:
            result = await self._histories(best.height)
        else:
            result = await self._within_budget(best.height)
        result.tip_hash = best.hash
        return result

    async def _within_budget(self, tip_height: int) -> PollResult:
        i = self.inputs
        key = self._key(ADDRESSES_DEFERRED)
        saved = get_state(i.store, key)
        waiting = [a for a in saved if a in i.ws.by_address] if isinstance(saved, list) else []
        order = list(dict.fromkeys([*waiting, *i.ws.addresses]))
        polled, left = await self._catch_up(order, tip_height, 1.0)
        result = polled or PollResult(Observation(tip_height))
        i.budget.defer("addresses", len(left))
        result.state[key] = left
        return result


class BlockMode(Mode):
    """Scan each new block once; learn the past of addresses the scan has not covered."""

    name = "block"

    async def poll(self) -> PollResult:
        i = self.inputs
        scanned = scanned_blocks(i.store)
        start = i.options.from_height
        first_run = not scanned
        watchlist_end = last_address_id(i.store)  # read first: an address added meanwhile is new
        tip = await self._first_tip(start, first_run)
        if first_run and start is None and tip is not None:
            # First block-scan run: follow the chain from today's tip; the addresses' past comes
            # from their histories. The tip is stored with the rest, at the commit.
            scanned = {tip.height: tip.hash}
            first_marker: tuple[int, str] | None = (tip.height, tip.hash)
        else:
            first_marker = None
        new, first_key = self._unpolled(skip=first_run and start is not None)
        catch_up, state = await self._catch_up_new(new, tip)
        mempool = self._mempool_work()
        result = await poll_blocks(
            i.provider,
            i.ws,
            i.outputs,
            scanned,
            start_height=start or 0,
            mempool=mempool,
            budget=i.budget,
        )
        result.state.update(state)
        if mempool is not None and mempool.mode == "hot":
            result.state[self._key(MEMPOOL_DEFERRED)] = mempool.state()
        result.start_marker = first_marker
        if first_key is not None:
            result.state[first_key] = watchlist_end
        if catch_up is not None:
            merge(result, catch_up)
        return result

    async def _first_tip(self, start: int | None, first_run: bool) -> Tip | None:
        """The tip, when a scan starts (first run, or at ``--from-height``): checked first."""
        if start is None and not first_run:
            return None
        tip = await self.inputs.provider.tip()
        if start is not None and start > tip.height:
            # Accepting it would store a scan position past blocks nobody scanned.
            raise InputError(f"--from-height {start} is above the explorer's tip ({tip.height})")
        return tip

    async def _catch_up_new(
        self, new: list[str], tip: Tip | None
    ) -> tuple[PollResult | None, dict[str, list[str]]]:
        """Histories of addresses the scan has not covered from the start (a new case, or
        added since), owed ones first. Payments seen both ways have the same ids. A budget-cut
        catch-up stores the addresses left (the returned state); the next tick starts with them.
        """
        i = self.inputs
        pending_key = self._key(CATCHUP_PENDING)
        owed = get_state(i.store, pending_key)
        owed_list = [a for a in owed if a in i.ws.by_address] if isinstance(owed, list) else []
        todo = list(dict.fromkeys([*owed_list, *new]))
        catch_up: PollResult | None = None
        rest: list[str] = []
        if todo:
            tip = tip or await i.provider.tip()
            catch_up, rest = await self._catch_up(todo, tip.height)
            i.budget.defer("addresses", len(rest))
        return catch_up, ({pending_key: rest} if rest or owed_list else {})

    def _unpolled(self, *, skip: bool) -> tuple[list[str], str | None]:
        """Addresses whose past the block scan has not seen, and the state key to set if any.

        The first block-scan cycle for a case (or for all cases) catches up every address: one
        summary for an address polled before, its history for one never polled. Later cycles
        catch up the addresses added to the watchlist since then that were never polled.
        ``skip``: the scan starts at a height the user gave, nothing before it is wanted.
        """
        i = self.inputs
        key = self._key(SCAN_ADDRESSES)
        known = get_state(i.store, key)
        if not isinstance(known, int):
            return ([] if skip else i.ws.addresses), key
        added = addresses_after(i.store, known, i.options.case)
        return [a for a in added if a not in i.previous], None

    def _mempool_work(self) -> MempoolWork | None:
        """What the tick looks at in the mempool, with what the last tick had to defer."""
        i = self.inputs
        if i.options.mempool == "off":
            return None
        if i.options.mempool == "full":
            seen = get_state(i.store, "mempool_seen")
            return MempoolWork("full", seen=set(seen or []))
        tip = get_state(i.store, "tip_height")
        height = tip if isinstance(tip, int) else 0
        hot = hot_addresses(i.ws, i.outputs, height, i.options.hot_set)
        saved = get_state(i.store, self._key(MEMPOOL_DEFERRED))
        saved = saved if isinstance(saved, dict) else {}
        return MempoolWork(
            "hot",
            hot=hot,
            deferred_txids=list(saved.get("outspends", [])),
            deferred_hot=list(saved.get("hot", [])),
        )


def choose_mode(requested: str, provider: Provider, address_count: int) -> type[Mode]:
    """Block scan when raw blocks are available and the watchlist is not tiny."""
    can_scan = provider.supports(Capability.BLOCK_RAW)
    if requested == "block":
        if not can_scan:
            raise ConfigError(f"{provider.name} cannot serve raw blocks: use --mode address")
        return BlockMode
    if requested == "address":
        return AddressMode
    return BlockMode if can_scan and address_count >= AUTO_BLOCK_THRESHOLD else AddressMode


def merge(into: PollResult, other: PollResult) -> None:
    """Add ``other``'s findings to ``into`` (``into``'s own outputs and txs win)."""
    obs, more = into.observation, other.observation
    obs.payments = more.payments + obs.payments
    obs.spends = more.spends + obs.spends
    obs.spend_outputs.update(more.spend_outputs)
    obs.gone_txids |= more.gone_txids
    obs.orphaned_blocks |= more.orphaned_blocks
    into.outputs = {**other.outputs, **into.outputs}
    into.txs = {**other.txs, **into.txs}
    into.stats.extend(other.stats)
