"""SimChain: a generated chain behind a movable tip, indexed the way an explorer indexes it.

A real node's view is reproduced by connecting and disconnecting blocks one at a time: every
index (transactions, spends, per-address funded/spent sums and histories) is updated as a block
is connected and undone when it is disconnected, so every answer is "as of the current tip" and
a reorg costs only the blocks it touches. Blocks not yet mined are kept as plans; the mempool
holds what the network has seen but not mined yet.

Mempool policy: with ``mempool="all"`` every transaction of the next block is in the mempool
before the block is mined (a watcher sees payments unconfirmed first); with ``"early"`` only
those the scenario broadcasts early (plus replaced ones). Transactions are stored as raw bytes
plus a compact view of their inputs and outputs, and parsed again only when rendered.

What manipulations do (all documented in the module API):
  - `advance(n)` mines the next planned block(s); past the end of the plan it mines blocks of
    whatever the mempool holds. A planned stale block (the scenario's 1-block reorg) is the tip
    for one step and then replaced by its sibling and the next block.
  - `reorg(depth, drop=..., dropped="mempool"|"vanish")` replaces the last ``depth`` blocks by
    blocks at the same heights that omit the ``drop`` txs (and their descendants in those
    blocks). With "mempool" they return to the mempool and are mined in the next block; with
    "vanish" they and every descendant, confirmed later or planned, disappear for good.
  - `replace(txid)` replaces a mempool tx by a conflicting higher-fee copy (BIP125 style: same
    inputs and outputs, its largest output pays the extra fee); descendants of the replaced tx
    vanish, as a node evicts them. The replacement is mined in the next block.
  A rebuilt block (reorg, replacement, changed contents) gets a fresh coinbase, so its hash
  differs; the scenario's ground truth describes the chain as planned, not these manipulations.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Literal

from btcwatch.chain.network import MAINNET, Network
from btcwatch.chain.tx import BlockHeader, RawTx, RawTxOut, mine, parse_tx_hex
from btcwatch.errors import InputError, NotFound
from btcwatch.sim.blocks import (
    BLOCK_INTERVAL,
    MempoolOnly,
    PlannedBlock,
    Scenario,
    assemble,
    coinbase_tx,
    subsidy,
)
from btcwatch.sim.chain_index import ChainIndex
from btcwatch.sim.records import (
    CONFIRMED,
    FUTURE,
    GONE,
    MEMPOOL,
    AddressRecord,
    BlockRecord,
    Plan,
    Stats,
    TxEntry,
    sha256d,
    spent_by,
)
from btcwatch.sim.wallet import DUST

# AddressRecord, BlockRecord, Stats and TxEntry live in sim/records.py; they stay importable
# from here, where the route modules (and new ones) have always found them.
__all__ = ["AddressRecord", "BlockRecord", "MempoolMode", "SimChain", "Stats", "TxEntry"]

MempoolMode = Literal["all", "early"]


class SimChain(ChainIndex):
    """A generated chain with a tip that moves on request; answers as of the current tip.

    Build it with `from_scenario` or `from_blocks` (or `load` then `start`). All public methods
    take ``lock`` (re-entrant), so a threaded server can share the chain; hold it yourself to
    read several answers from one consistent state. The answers are `ChainIndex`'s.
    """

    def __init__(self, *, network: Network = MAINNET, mempool: MempoolMode = "all") -> None:
        if mempool not in ("all", "early"):
            raise InputError(f"mempool must be 'all' or 'early', got {mempool!r}")
        super().__init__(network=network)
        self.mempool_mode: MempoolMode = mempool
        self._plans: list[Plan] = []
        self._next = 0
        self._enter: dict[int, list[TxEntry]] = {}
        self._leave: dict[int, list[TxEntry]] = {}
        self._order = 0
        self._seq = 0
        self._stale_hashes: set[str] = set()
        self._rebuilds = 0
        self._started = False
        self.base_prev_hash = "00" * 32

    @classmethod
    def from_blocks(
        cls,
        blocks: Iterable[PlannedBlock],
        *,
        network: Network = MAINNET,
        mempool_only: Iterable[MempoolOnly] = (),
        tip: int | Literal["end"] | None = None,
        mempool: MempoolMode = "all",
    ) -> SimChain:
        """A chain over planned blocks; ``tip`` None starts at the first block."""
        chain = cls(network=network, mempool=mempool)
        chain.load(blocks, mempool_only)
        chain.start(tip)
        return chain

    @classmethod
    def from_scenario(
        cls,
        scenario: Scenario,
        *,
        tip: int | Literal["start", "end"] | None = "start",
        mempool: MempoolMode = "all",
    ) -> SimChain:
        """Generate ``scenario`` into a chain; ``tip="start"`` is just before the first payment."""
        chain = cls(network=scenario.network, mempool=mempool)
        chain.load(scenario.iter_blocks())
        chain.load((), scenario.mempool_only())
        chain.start(scenario.default_tip() if tip == "start" else tip)
        return chain

    # -- loading ------------------------------------------------------------------------------

    def load(
        self, blocks: Iterable[PlannedBlock], mempool_only: Iterable[MempoolOnly] = ()
    ) -> None:
        """Add planned blocks (in order; a stale block right before its sibling) and
        transactions that are only ever broadcast. Only before `start`."""
        if self._started:
            raise InputError("cannot load blocks into a chain that has started")
        with _bulk():
            for block in blocks:
                self._load_block(block)
        for item in mempool_only:
            entry, new = self._entry(item.tx)
            if new:
                entry.gone_at = item.gone_at
                entry.replaced_by = item.replaced_by
                self._enter.setdefault(item.seen_at, []).append(entry)
                self._leave.setdefault(item.gone_at, []).append(entry)

    def start(self, tip: int | Literal["end"] | None = None) -> None:
        """Mine the planned blocks up to ``tip`` (default: the first block only)."""
        if self._started:
            raise InputError("the chain has already started")
        if not self._plans:
            raise InputError("a SimChain needs at least one block")
        last = self._plans[-1].height
        target = last if tip == "end" else self.base_height if tip is None else tip
        if not self.base_height <= target <= last:
            raise InputError(
                f"tip {target} is outside the generated chain ({self.base_height}..{last})"
            )
        self._started = True
        with self.lock, _bulk():
            self._catch_up(self.base_height - 1)
            while self.tip_height < target:
                self._advance_one()

    def _entry(self, tx: RawTx) -> tuple[TxEntry, bool]:
        known = self._txs.get(tx.txid)
        if known is not None:
            return known, False
        outs = tuple((o.script, o.value) for o in tx.outputs)
        if len(tx.inputs) == 1 and tx.inputs[0].is_coinbase:
            ins: tuple[tuple[str, int], ...] = ()
            fee = 0
        else:
            ins = tuple((i.prev_txid, i.prev_vout) for i in tx.inputs)
            spent = 0
            for ptxid, pvout in ins:
                parent = self._txs.get(ptxid)
                if parent is None or pvout >= len(parent.outs):
                    raise InputError(f"tx {tx.txid} spends unknown output {ptxid}:{pvout}")
                spent += parent.outs[pvout][1]
            fee = spent - sum(v for _, v in outs)
        self._order += 1
        entry = TxEntry(tx.txid, tx.serialize(), ins, outs, fee, tx.weight, self._order)
        self._txs[entry.txid] = entry
        return entry, True

    def _load_block(self, block: PlannedBlock) -> None:
        if self.base_height < 0:
            self.base_height = block.height
            self.base_prev_hash = block.header.prev_hash
        entries = []
        for tx in block.txs:
            entry, new = self._entry(tx)
            entries.append(entry)
            if new and not entry.is_coinbase:
                seen = block.seen_at.get(entry.txid)
                if self.mempool_mode == "all":
                    seen = block.height - 1 if seen is None else min(seen, block.height - 1)
                if seen is not None:
                    self._enter.setdefault(seen, []).append(entry)
        plan = Plan(block.height, block.header, entries, block.stale)
        for entry in entries[1:]:
            entry.plan = plan  # the last plan listing a tx is the one that confirms it
        self._plans.append(plan)

    # -- tip ----------------------------------------------------------------------------------

    @property
    def tip(self) -> BlockRecord:
        with self.lock:
            if not self._active:
                raise NotFound("the chain has no blocks")
            return self._active[-1]

    @property
    def tip_height(self) -> int:
        with self.lock:
            return self._active[-1].height if self._active else self.base_height - 1

    @property
    def tip_hash(self) -> str:
        with self.lock:
            return self._active[-1].hash if self._active else self.base_prev_hash

    @property
    def last_planned_height(self) -> int:
        return self._plans[-1].height if self._plans else -1

    def advance(self, blocks: int = 1) -> int:
        """Mine ``blocks`` more blocks; returns the new tip height."""
        if blocks < 0:
            raise InputError(f"cannot advance by a negative number of blocks: {blocks}")
        with self.lock:
            for _ in range(blocks):
                self._advance_one()
            return self.tip_height

    def advance_to(self, height: int) -> int:
        """Mine until the tip is at ``height`` (no-op if it is already there or beyond)."""
        with self.lock:
            return self.advance(max(0, height - self.tip_height))

    def _advance_one(self) -> None:
        if self._active and self._active[-1].hash in self._stale_hashes:
            # The scenario's competing block loses: its sibling and the next block win.
            self._disconnect_tip()
            self._connect_next()
        self._connect_next()
        self._catch_up(self.tip_height)

    def _connect_next(self) -> None:
        height = self.tip_height + 1
        plans = self._plans
        while self._next < len(plans) and plans[self._next].height < height:
            plans[self._next].done = True  # sibling of a block already replaced by hand
            self._next += 1
        plan = None
        if self._next < len(plans):
            plan = plans[self._next]
            self._next += 1
        self._connect_plan(plan, height)

    def _orphans(self, plan: Plan | None) -> list[TxEntry]:
        """Mempool txs no pending plan will mine (returned by a reorg, replacements)."""
        return [
            e
            for e in self._mempool.values()
            if e.gone_at is None and (e.plan is None or (e.plan.done and e.plan is not plan))
        ]

    def _connect_plan(self, plan: Plan | None, height: int) -> None:
        prev = self.tip_hash
        orphans = self._orphans(plan)
        if plan is None:
            time = (self._active[-1].time if self._active else 0) + BLOCK_INTERVAL
            listed: list[TxEntry] = []
            miner = self._active[-1].entries[0].outs[0][0] if self._active else b"\x51"
        else:
            plan.done = True
            time = plan.header.time
            listed = [e for e in plan.entries[1:] if e.state in (FUTURE, MEMPOOL)]
            miner = plan.entries[0].outs[0][0]
        candidates = sorted(listed + orphans, key=lambda e: e.order) if orphans else listed
        valid = self._validate(candidates)
        if plan is not None and not orphans and len(valid) == len(plan.entries) - 1:
            header = plan.header
            if header.prev_hash != prev:
                header = mine(replace_prev(header, prev))
            rec = BlockRecord(height, header, plan.entries)
        else:
            if plan is not None:
                self._drop_coinbase(plan.entries[0])
            rec = self._build(height, prev, time, valid, miner)
        if plan is not None and plan.stale:
            self._stale_hashes.add(rec.hash)
        self._connect(rec)

    def _validate(self, candidates: Sequence[TxEntry]) -> list[TxEntry]:
        """The candidates that can be mined together now, in order; invalid ones are dropped
        (conflicts and children of vanished txs for good, the rest back to the mempool)."""
        here: set[str] = set()
        spent_here: set[tuple[str, int]] = set()
        valid: list[TxEntry] = []
        lost: list[TxEntry] = []
        for e in candidates:
            fate = "ok"
            for op in e.ins:
                parent = self._txs.get(op[0])
                if (
                    parent is None
                    or parent.state == GONE
                    or op in spent_here
                    or spent_by(parent, op[1])
                ):
                    fate = "lost"
                    break
                if parent.state != CONFIRMED and parent.txid not in here:
                    fate = "wait"
            if fate == "ok":
                valid.append(e)
                here.add(e.txid)
                spent_here.update(e.ins)
            elif fate == "lost":
                lost.append(e)
            elif e.state == FUTURE:
                self._to_mempool(e)
        for e in lost:
            self._discard(e)
        return valid

    def _build(
        self, height: int, prev: str, time: int, txs: Sequence[TxEntry], miner: bytes
    ) -> BlockRecord:
        """A new block over ``txs`` with a fresh coinbase claiming subsidy plus fees."""
        self._rebuilds += 1
        segwit = any(e.raw[4] == 0 for e in txs)
        wtxids = [sha256d(e.raw)[::-1].hex() for e in txs] if segwit else None
        value = subsidy(height) + sum(e.fee for e in txs)
        coinbase = coinbase_tx(
            height, miner, value, wtxids, tag=b"/btcwatch-sim/", extranonce=1000 + self._rebuilds
        )
        cb_entry, _ = self._entry(coinbase)
        header = assemble(prev, time, [coinbase.txid, *(e.txid for e in txs)])
        return BlockRecord(height, header, [cb_entry, *txs])

    def _connect(self, rec: BlockRecord) -> None:
        for e in rec.entries:
            if e.state == MEMPOOL:
                self._from_mempool(e)
            e.state = CONFIRMED
            e.block = rec
            self._seq += 1
            e.seq = self._seq
            self._index(e)
        rec.best = True
        self._active.append(rec)
        self._by_hash[rec.hash] = rec

    def _disconnect_tip(self) -> BlockRecord:
        rec = self._active.pop()
        rec.best = False
        for e in reversed(rec.entries):
            self._unindex(e)
            e.block = None
        coinbase = rec.entries[0]
        for e in rec.entries[1:]:
            e.state = FUTURE
            self._to_mempool(e)
        self._drop_coinbase(coinbase)
        return rec

    def _drop_coinbase(self, coinbase: TxEntry) -> None:
        if coinbase.state == CONFIRMED:
            return  # still in the best chain through another block record
        coinbase.state = GONE
        self._vanish_descendants({coinbase.txid})

    # -- reorgs and replacements --------------------------------------------------------------

    def reorg(
        self,
        depth: int = 1,
        drop: Iterable[str] = (),
        *,
        dropped: Literal["mempool", "vanish"] = "mempool",
    ) -> list[str]:
        """Replace the last ``depth`` blocks by new blocks at the same heights without ``drop``.

        Returns the new block hashes (oldest first). See the module docstring for what happens
        to the dropped transactions.
        """
        if dropped not in ("mempool", "vanish"):
            raise InputError(f"dropped must be 'mempool' or 'vanish', got {dropped!r}")
        with self.lock:
            if not 1 <= depth <= len(self._active):
                raise InputError(f"reorg depth must be 1..{len(self._active)}, got {depth}")
            old = self._active[-depth:]
            window = {e.txid for rec in old for e in rec.entries[1:]}
            excluded = {t.lower() for t in drop}
            for txid in excluded:
                if txid not in window:
                    raise InputError(f"tx {txid} is not in the last {depth} block(s)")
            for _ in range(depth):
                self._disconnect_tip()
            for rec in old:
                for e in rec.entries[1:]:
                    if any(p in excluded for p, _ in e.ins):
                        excluded.add(e.txid)
            hashes = []
            for rec in old:
                keep = [e for e in rec.entries[1:] if e.txid not in excluded]
                miner = rec.entries[0].outs[0][0]
                new = self._build(rec.height, self.tip_hash, rec.time, self._validate(keep), miner)
                self._connect(new)
                hashes.append(new.hash)
            if dropped == "vanish":
                for txid in sorted(excluded, key=lambda t: self._txs[t].order):
                    self._discard(self._txs[txid])
            return hashes

    def replace(self, txid: str, *, fee: int | None = None) -> str:
        """Replace mempool tx ``txid`` by a conflicting copy paying ``fee`` (default: more than
        double); returns the replacement's txid."""
        with self.lock:
            old = self._mempool.get(txid.lower())
            if old is None:
                raise InputError(f"tx {txid} is not in the mempool")
            new_fee = old.fee + max(old.fee, 2 * old.vsize) if fee is None else fee
            if new_fee <= old.fee:
                raise InputError(f"a replacement must pay more than {old.fee} sat, got {new_fee}")
            tx = old.parse()
            outputs = list(tx.outputs)
            biggest = max(range(len(outputs)), key=lambda i: outputs[i].value)
            value = outputs[biggest].value - (new_fee - old.fee)
            if value < DUST:
                raise InputError(f"tx {txid} has no output large enough to pay a {new_fee} sat fee")
            outputs[biggest] = RawTxOut(value, outputs[biggest].script)
            new_tx = RawTx(tx.version, tx.inputs, tuple(outputs), tx.locktime)
            self._from_mempool(old)
            old.state = GONE
            old.replaced_by = new_tx.txid
            entry, _ = self._entry(new_tx)
            self._to_mempool(entry)
            self._vanish_descendants({old.txid})
            return entry.txid

    def broadcast(self, raw_hex: str) -> str:
        """Accept a raw transaction into the mempool (POST /tx); it is mined next block.

        Checks what an explorer's node would refuse outright: unknown or unconfirmed-future
        inputs, spending more than the inputs hold, conflicts with the mempool or the chain.
        Signatures are not checked (the simulator has none).
        """
        tx = parse_tx_hex(raw_hex)
        with self.lock:
            known = self.tx(tx.txid)
            if known is not None:
                return known.txid
            for txin in tx.inputs:
                parent = self.tx(txin.prev_txid) if not txin.is_coinbase else None
                if parent is None:
                    raise InputError(f"missing inputs: {txin.prev_txid}:{txin.prev_vout}")
            entry, _ = self._entry(tx)
            if entry.fee < 0:
                entry.state = GONE
                raise InputError(f"outputs exceed inputs by {-entry.fee} sat")
            self._to_mempool(entry)
            if entry.state != MEMPOOL:
                raise InputError("transaction conflicts with the mempool or the chain")
            return entry.txid

    def _discard(self, e: TxEntry) -> None:
        """Remove ``e`` and every unconfirmed descendant for good."""
        if e.state == MEMPOOL:
            self._from_mempool(e)
        if e.state != CONFIRMED:
            e.state = GONE
        self._vanish_descendants({e.txid})

    def _vanish_descendants(self, roots: set[str]) -> None:
        gone = set(roots)
        pending = [e for plan in self._plans[self._next :] for e in plan.entries[1:]]
        candidates = {e.txid: e for e in [*self._mempool.values(), *pending]}
        for e in sorted(candidates.values(), key=lambda x: x.order):
            if e.state in (FUTURE, MEMPOOL) and any(p in gone for p, _ in e.ins):
                if e.state == MEMPOOL:
                    self._from_mempool(e)
                e.state = GONE
                gone.add(e.txid)

    # -- mempool ------------------------------------------------------------------------------

    def _catch_up(self, height: int) -> None:
        """Apply the mempool departures, then arrivals, scheduled up to tip ``height``."""
        due = sorted(h for h in {*self._enter, *self._leave} if h <= height)
        for h in due:
            for e in self._leave.pop(h, ()):
                if e.state == MEMPOOL:
                    self._from_mempool(e)
                    e.state = GONE
                    self._vanish_descendants({e.txid})
            for e in self._enter.pop(h, ()):
                if e.state == FUTURE:
                    self._to_mempool(e)

    def _to_mempool(self, e: TxEntry) -> None:
        for op in e.ins:
            other = self._mspends.get(op)
            if (other is not None and other[0] is not e) or self._spender(op) is not None:
                e.state = GONE  # conflicts with what the network already has
                self._vanish_descendants({e.txid})
                return
        e.state = MEMPOOL
        self._mempool[e.txid] = e
        for vin, op in enumerate(e.ins):
            self._mspends[op] = (e, vin)
        for script in self._scripts(e):
            self._mhist.setdefault(script, []).append(e)

    def _from_mempool(self, e: TxEntry) -> None:
        del self._mempool[e.txid]
        for op in e.ins:
            held = self._mspends.get(op)
            if held is not None and held[0] is e:
                del self._mspends[op]
        for script in self._scripts(e):
            entries = self._mhist[script]
            entries.remove(e)
            if not entries:
                del self._mhist[script]

    def state(self) -> dict[str, object]:
        """A summary for the control API and logs."""
        with self.lock:
            return {
                "tip_height": self.tip_height,
                "tip_hash": self.tip_hash,
                "base_height": self.base_height,
                "last_planned_height": self.last_planned_height,
                "next_planned_height": (
                    self._plans[self._next].height if self._next < len(self._plans) else None
                ),
                "mempool_count": len(self._mempool),
                "mempool_mode": self.mempool_mode,
                "tx_count": sum(len(b.entries) for b in self._active),
                "network": self.network.name,
            }


@contextmanager
def _bulk() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of long-lived objects are created
    (it would rescan them again and again: a third of the load time); restored after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def replace_prev(header: BlockHeader, prev_hash: str) -> BlockHeader:
    """``header`` on top of another parent (to be mined again)."""
    return BlockHeader(header.version, prev_hash, header.merkle_root, header.time, header.bits, 0)
