"""The simulator's mainnet profile: ~3,000-transaction blocks, a busy mempool, huge wallets.

`mainnet_chain()` generates the Vastaamo story as the small profile does (so its ground truth
holds), then runs it inside mainnet-like traffic (`btcwatch.sim.traffic`):

  - the mempool is fed in simulated time at ``mempool_rate`` transactions a second on top of a
    backlog of ``mempool_backlog``; `add_mempool(n)` injects ``n`` at once and `advance_time`
    moves the clock. Arrivals are counted as time moves and made only when someone looks
    (any query or the next block), so an idle server costs nothing;
  - each block mined takes the story's planned transactions plus the oldest traffic, first in
    first out, up to a size drawn from ``block_bytes`` (1.55-1.8 MB: about 3,000 transactions,
    weight under 4,000,000), with a fresh coinbase claiming subsidy plus fees;
  - every exchange's first hot wallet has ``hot_history`` ancient transactions before the
    chain (`btcwatch.sim.history`), paged as Esplora pages them, made only when paged to.

Block hashes differ from the small profile's (other contents, other coinbases); heights,
txids and the ground truth's transactions are the same. `MainnetChain.ground_truth(truth)`
puts this chain's hashes into the reorg record.

`MainnetChain` extends `SimChain` through its internal hooks (``_orphans`` chooses what a
block mines, ``_advance_one`` moves the clock, the query methods make due traffic first), so
a change to those hooks in `sim/chain.py` or `sim/chain_index.py` must keep this module's tests
green.
"""

from __future__ import annotations

import random
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from btcwatch.chain.network import MAINNET, Network
from btcwatch.chain.tx import BlockHeader
from btcwatch.errors import InputError
from btcwatch.sim.blocks import BLOCK_INTERVAL
from btcwatch.sim.chain import MempoolMode, SimChain
from btcwatch.sim.history import AncientHistory, HistoryView
from btcwatch.sim.records import FUTURE, MEMPOOL, AddressRecord, Plan, Stats, TxEntry
from btcwatch.sim.routing import HttpError, Reply, Request
from btcwatch.sim.scenarios.vastaamo import VastaamoScenario, vastaamo
from btcwatch.sim.traffic import StreamTx, Traffic
from btcwatch.sim.wallet import Key

if TYPE_CHECKING:
    from btcwatch.sim.server import SimServer

__all__ = ["PROFILES", "MainnetChain", "MainnetProfile", "add_routes", "mainnet_chain"]

PROFILES = ("small", "mainnet")
MAX_WEIGHT = 4_000_000
_SATS = 100_000_000


@dataclass(frozen=True, slots=True)
class MainnetProfile:
    """The knobs of the mainnet profile (defaults: today's mainnet, roughly)."""

    mempool_rate: float = 5.0
    mempool_backlog: int = 20_000
    hot_history: int = 100_000
    block_bytes: tuple[int, int] = (1_550_000, 1_800_000)
    traffic_coins: int = 4_000
    traffic_hot_sat: int = 20 * _SATS

    def __post_init__(self) -> None:
        if not self.mempool_rate >= 0:
            raise InputError(f"--mempool-rate must be >= 0, got {self.mempool_rate}")
        if self.mempool_backlog < 0:
            raise InputError(f"--mempool-backlog must be >= 0, got {self.mempool_backlog}")
        if self.hot_history < 0:
            raise InputError(f"--hot-history must be >= 0, got {self.hot_history}")
        low, high = self.block_bytes
        if not 0 < low <= high <= 3_900_000:
            raise InputError(f"block_bytes must be 0 < low <= high <= 3,900,000: {low}, {high}")
        if self.traffic_coins < 100:
            raise InputError(f"traffic_coins must be >= 100, got {self.traffic_coins}")


class MainnetChain(SimChain):
    """A SimChain whose blocks are filled with traffic and whose mempool fills in sim time."""

    def __init__(
        self,
        *,
        network: Network = MAINNET,
        mempool: MempoolMode = "all",
        profile: MainnetProfile | None = None,
    ) -> None:
        super().__init__(network=network, mempool=mempool)
        self.profile = profile or MainnetProfile()
        self.traffic: Traffic | None = None
        self.rate = self.profile.mempool_rate
        self.clock = 0.0  # simulated seconds (Unix time), moved by blocks and advance_time
        self._due = 0.0  # traffic transactions that have arrived by ``clock``
        self._made = 0  # ... of which made and put in the mempool
        self._seed = 0
        self._stream_plan = Plan(-1, BlockHeader(0, "00" * 32, "00" * 32, 0, 0, 0), [], False)
        self._ancient: dict[bytes, AncientHistory] = {}
        self._stale_at: dict[int, str] = {}  # height -> hash of the scenario's stale block

    # -- traffic ------------------------------------------------------------------------------

    def begin_traffic(self, traffic: Traffic, hot: Sequence[Key], seed: int) -> None:
        """Start the traffic at the current tip (after `start`); ``hot`` get ancient history."""
        with self.lock:
            self.traffic = traffic
            self._seed = seed
            self.clock = float(self.tip.time)
            self._due = float(self.profile.mempool_backlog)
            first = self.block_at(self.base_height)
            base_time = first.time if first is not None else self.tip.time
            for key in hot:
                if self.profile.hot_history:
                    self._ancient[key.script] = AncientHistory(
                        key,
                        self.profile.hot_history,
                        seed=seed,
                        base_height=self.base_height,
                        base_time=base_time,
                        register=self._register,
                    )

    def _register(self, entry: TxEntry) -> None:
        self._txs[entry.txid] = entry

    def add_mempool(self, count: int) -> int:
        """Put ``count`` more unrelated transactions into the mempool now; returns its size."""
        if count < 0:
            raise InputError(f"cannot add a negative number of transactions: {count}")
        with self.lock:
            self._need_traffic()
            self._due += count
            self._sync()
            return len(self._mempool)

    def advance_time(self, seconds: float) -> float:
        """Move simulated time (traffic arrives at the rate); returns the clock."""
        if not seconds >= 0:
            raise InputError(f"cannot move time backwards: {seconds}")
        with self.lock:
            self._need_traffic()
            self.clock += seconds
            self._due += self.rate * seconds
            return self.clock

    def set_rate(self, rate: float) -> None:
        """Change the arrival rate (transactions per simulated second) from now on."""
        if not rate >= 0:
            raise InputError(f"the mempool rate must be >= 0, got {rate}")
        with self.lock:
            self.rate = rate

    def _need_traffic(self) -> None:
        if self.traffic is None:
            raise InputError("this chain has no traffic (use the mainnet profile)")

    def _sync(self) -> None:
        """Make the traffic that has arrived by now and put it into the mempool."""
        traffic = self.traffic
        if traffic is None:
            return
        want = int(self._due)
        while self._made < want:
            self._arrive(traffic.at(self._made))
            self._made += 1

    def _arrive(self, tx: StreamTx) -> None:
        self._order += 1
        entry = TxEntry(tx.txid, tx.raw, tx.ins, tx.outs, tx.fee, tx.weight, self._order)
        entry.plan = self._stream_plan  # never done: mined only by `_orphans` below
        self._txs[entry.txid] = entry
        self._to_mempool(entry)

    # -- mining -------------------------------------------------------------------------------

    def _advance_one(self) -> None:
        if self.traffic is not None:
            due = self.tip.time + BLOCK_INTERVAL
            if self.clock < due:
                self.advance_time(due - self.clock)
            self._sync()
        super()._advance_one()

    def _connect_plan(self, plan: Plan | None, height: int) -> None:
        super()._connect_plan(plan, height)
        if plan is not None and plan.stale:
            self._stale_at[height] = self.tip_hash

    def ground_truth(self, truth: dict[str, Any]) -> dict[str, Any]:
        """The scenario's ``truth`` with this chain's block hashes (other blocks, other hashes):
        the reorg's stale and best block, None until the tip has passed them; ``tx_count``
        counts the story's blocks without the traffic."""
        out = dict(truth)
        reorg = dict(truth.get("reorg") or {})
        if reorg:
            with self.lock:
                height = int(reorg["height"])
                stale = self._stale_at.get(height)
                best = self.block_at(height)
                reorg["stale_block_hash"] = stale
                done = stale is not None and best is not None and best.hash != stale
                reorg["best_block_hash"] = best.hash if done and best is not None else None
            out["reorg"] = reorg
        return out

    def _orphans(self, plan: Plan | None) -> list[TxEntry]:
        found = super()._orphans(plan)
        if self.traffic is None:
            return found
        height = self.tip_height + 1
        low, high = self.profile.block_bytes
        size = random.Random(f"{self._seed}:{height}").randint(low, high) - 400
        weight = MAX_WEIGHT - 4_000
        listed = plan.entries[1:] if plan is not None else []
        for e in [*listed, *found]:
            if e.state in (FUTURE, MEMPOOL):
                size -= e.size
                weight -= e.weight
        stream = sorted(
            (e for e in self._mempool.values() if e.plan is self._stream_plan),
            key=lambda e: e.order,
        )
        taken = []
        for e in stream:
            if e.size > size or e.weight > weight:
                break
            size -= e.size
            weight -= e.weight
            taken.append(e)
        return found + taken

    # -- queries (traffic made first; ancient history joined in) ------------------------------

    def mempool(self) -> list[TxEntry]:
        with self.lock:
            self._sync()
            return super().mempool()

    def tx(self, txid: str) -> TxEntry | None:
        with self.lock:
            self._sync()
            return super().tx(txid)

    def outspend(self, txid: str, vout: int) -> tuple[TxEntry, int] | None:
        with self.lock:
            self._sync()
            return super().outspend(txid, vout)

    def prevout(self, txid: str, vout: int) -> tuple[bytes, int]:
        entry = self._txs.get(txid)
        if entry is None:
            for ancient in self._ancient.values():
                found = ancient.prevouts.get(txid)
                if found is not None:
                    return found
        return super().prevout(txid, vout)

    def address(self, script: bytes) -> AddressRecord | None:
        with self.lock:
            self._sync()
            ancient = self._ancient.get(script)
            if ancient is None:
                return super().address(script)
            live = self._hist.get(script, [])
            return AddressRecord(script, HistoryView(ancient, live), self._mhist.get(script, []))

    def chain_stats(self, rec: AddressRecord) -> Stats:
        history = rec.history
        if not isinstance(history, HistoryView):
            return super().chain_stats(rec)
        old = history.ancient.stats()
        new = super().chain_stats(AddressRecord(rec.script, history.live, rec.mempool))
        return Stats(
            old.funded_txo_count + new.funded_txo_count,
            old.funded_txo_sum + new.funded_txo_sum,
            old.spent_txo_count + new.spent_txo_count,
            old.spent_txo_sum + new.spent_txo_sum,
            old.tx_count + new.tx_count,
        )

    def utxos(self, rec: AddressRecord) -> list[tuple[TxEntry, int, int]]:
        history = rec.history
        if isinstance(history, HistoryView):  # every ancient output is spent
            rec = AddressRecord(rec.script, history.live, rec.mempool)
        return super().utxos(rec)

    def state(self) -> dict[str, object]:
        with self.lock:
            self._sync()
            state = super().state()
            state.update(self.mempool_state())
            return state

    def mempool_state(self) -> dict[str, Any]:
        """The traffic's clock and counters (the control API's answer)."""
        with self.lock:
            return {
                "profile": "mainnet",
                "sim_time": self.clock,
                "mempool_rate": self.rate,
                "traffic_made": self._made,
                "traffic_due": int(self._due),
                "mempool_count": len(self._mempool),
            }


def mainnet_scenario(
    victims: int = 300,
    seed: int = 2020,
    *,
    background: int = 5,
    network: Network = MAINNET,
    profile: MainnetProfile | None = None,
    emails_at: datetime | None = None,
) -> VastaamoScenario:
    """The Vastaamo story with the coins the traffic starts from funded in its early blocks."""
    profile = profile or MainnetProfile()
    if emails_at is None:
        small = vastaamo(victims, seed, background=background, network=network)
    else:
        small = vastaamo(victims, seed, background=background, network=network, emails_at=emails_at)
    config = replace(
        small.config,
        traffic_coins=profile.traffic_coins,
        traffic_hot_sat=profile.traffic_hot_sat,
    )
    return VastaamoScenario(config)


def mainnet_chain(
    scenario: VastaamoScenario | None = None,
    *,
    profile: MainnetProfile | None = None,
    tip: int | Literal["start", "end"] = "start",
    mempool: MempoolMode = "all",
) -> MainnetChain:
    """A chain of ``scenario`` (default: `mainnet_scenario()`) running inside traffic.

    The traffic starts at ``tip``, which must be at or after the story's start (the coins it
    spends are funded before that).
    """
    profile = profile or MainnetProfile()
    scenario = scenario or mainnet_scenario(profile=profile)
    if scenario.config.traffic_coins < 100:
        raise InputError("the mainnet profile needs a scenario from mainnet_scenario()")
    chain = MainnetChain(network=scenario.network, mempool=mempool, profile=profile)
    chain.load(scenario.iter_blocks())
    chain.load((), scenario.mempool_only())
    start = scenario.default_tip()
    target = start if tip == "start" else tip
    if target != "end" and target < start:
        raise InputError(f"the mainnet profile starts at or after height {start}, got {target}")
    chain.start(target)
    story = scenario.story
    assert story is not None
    traffic = _TRAFFIC.get(scenario)
    if traffic is None:  # one stream per story: it depends only on the seed and the coins
        exchanges = [
            (ex.name, ex.hot[0], coins)
            for ex, coins in zip(story.exchanges, story.traffic_hot, strict=True)
        ]
        traffic = Traffic(scenario.config.seed, story.traffic_coins, exchanges)
        _TRAFFIC[scenario] = traffic
    chain.begin_traffic(traffic, [ex.hot[0] for ex in story.exchanges], scenario.config.seed)
    return chain


_TRAFFIC: weakref.WeakKeyDictionary[VastaamoScenario, Traffic] = weakref.WeakKeyDictionary()


# -- control routes ----------------------------------------------------------------------------


def add_routes(server: SimServer) -> None:
    """``POST /_sim/mempool?add=N&rate=R`` and ``POST /_sim/time?seconds=S``.

    On the small profile ``/_sim/mempool?add=N[&seed=S]`` injects N unrelated transactions
    (sim/noise.py) so the cost of a tick can be measured against mempool traffic there too.
    """

    def chain() -> MainnetChain:
        found = server.chain
        if not isinstance(found, MainnetChain) or found.traffic is None:
            raise HttpError(400, "no traffic: serve the mainnet profile (--profile mainnet)")
        return found

    def number(r: Request, name: str) -> float | None:
        text = r.arg(name)
        if text is None:
            return None
        try:
            value = float(text)
        except ValueError:
            raise HttpError(400, f"Invalid {name}") from None
        if not value >= 0:
            raise HttpError(400, f"Invalid {name}")
        return value

    def mempool(r: Request) -> Reply:
        if not isinstance(server.chain, MainnetChain) or server.chain.traffic is None:
            # The small profile: ``add=N[&seed=S]`` puts N unrelated transactions in its mempool.
            add, seed = number(r, "add"), number(r, "seed")
            if add is None or add != int(add) or (seed is not None and seed != int(seed)):
                raise HttpError(400, "Invalid add")
            added = server.add_mempool(int(add), seed=int(seed or 0))
            return Reply.json({"added": added, "mempool_count": len(server.chain.mempool())})
        c = chain()
        rate = number(r, "rate")
        if rate is not None:
            c.set_rate(rate)
        add = number(r, "add")
        if add is not None:
            if add != int(add):
                raise HttpError(400, "Invalid add")
            c.add_mempool(int(add))
        return Reply.json(c.mempool_state())

    def time(r: Request) -> Reply:
        c = chain()
        seconds = number(r, "seconds")
        c.advance_time(seconds or 0.0)
        return Reply.json(c.mempool_state())

    server.add_route("POST", "/_sim/mempool", mempool)
    server.add_route("POST", "/_sim/time", time)
    server.add_route("GET", "/_sim/mempool", lambda r: Reply.json(chain().mempool_state()))
