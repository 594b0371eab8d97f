"""What a block-mode tick learns from the mempool, at a cost that does not grow with it.

``hot`` (the default): unconfirmed spends of watched outputs are found by asking about the
watched outputs (``/txs/outspends``, 50 txs per request where the explorer has it, else
``/tx/:txid/outspends``), and unconfirmed payments by reading the mempool of the hot set's
addresses (``/address/:a/txs/mempool``, see `hotset`); other payments are seen at their first
confirmation by the block scan. ``full``: read every new mempool tx (one request each; for a
self-hosted explorer). ``off``: nothing.

Work the tick's budget cannot pay for is deferred: the txids and addresses not asked about are
returned in `MempoolWork`, stored with the cycle, and asked about first next tick.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from btcwatch.chain.scan import Paid, Spent, scan_tx
from btcwatch.errors import InputError, NotFound
from btcwatch.model import OutSpend, Tx
from btcwatch.providers.base import Capability, Provider
from btcwatch.providers.esplora import OUTSPENDS_BATCH_SIZE
from btcwatch.watch.budget import Budget
from btcwatch.watch.poll import PollResult
from btcwatch.watch.tracker import Tracker

MEMPOOL_MODES = ("hot", "full", "off")
MAX_MEMPOOL_FETCH = 500  # `full` without a budget: new mempool txs read per tick at most


def check_mempool_mode(mode: str) -> str:
    if mode not in MEMPOOL_MODES:
        raise InputError(f"unknown --mempool {mode!r} (use hot, full or off)")
    return mode


@dataclass(slots=True)
class MempoolWork:
    """What to look at (and, after the tick, what was left for the next one)."""

    mode: str = "hot"
    hot: list[str] = field(default_factory=list)  # the hot set's addresses, most urgent first
    seen: set[str] = field(default_factory=set)  # `full`: mempool txids read already
    deferred_txids: list[str] = field(default_factory=list)  # outspends not asked last tick
    deferred_hot: list[str] = field(default_factory=list)  # hot addresses not asked last tick

    def state(self) -> dict[str, list[str]]:
        return {"outspends": self.deferred_txids, "hot": self.deferred_hot}


async def watch_mempool(
    provider: Provider,
    track: Tracker,
    result: PollResult,
    spenders: set[str],
    work: MempoolWork,
    budget: Budget,
) -> set[str]:
    """Look at the mempool as ``work.mode`` says; returns txids known to be in it now.

    ``work``'s deferred lists are replaced by what this tick had to leave.
    """
    if work.mode == "full":
        return await _full(provider, track, result, spenders, work.seen, budget)
    if work.mode == "off":
        return set()
    alive: set[str] = set()
    noted: set[tuple[str, int, str]] = set()
    work.deferred_txids = await _outspends(provider, track, spenders, alive, noted, work, budget)
    work.deferred_hot = await _hot_addresses(
        provider, track, result, spenders, alive, noted, work, budget
    )
    budget.defer("outspends", len(work.deferred_txids))
    budget.defer("hot addresses", len(work.deferred_hot))
    return alive


def _first(deferred: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """``wanted``, with what was deferred last tick (and is still wanted) in front."""
    keep = set(wanted)
    return list(dict.fromkeys([*(d for d in deferred if d in keep), *wanted]))


async def _outspends(
    provider: Provider,
    track: Tracker,
    spenders: set[str],
    alive: set[str],
    noted: set[tuple[str, int, str]],
    work: MempoolWork,
    budget: Budget,
) -> list[str]:
    """Ask about the txs of confirmed, not finally spent watched outputs; note new spends.

    Unconfirmed watched outputs are left to the hot set (their address is in it first): an
    explorer answers a batch naming a tx it does not know with 404 for the whole batch.
    """
    wanted = sorted(
        {op.txid for op, outs in track.open.items() if any(o.height is not None for o in outs)}
    )
    todo = _first(work.deferred_txids, wanted)
    if not provider.supports(Capability.OUTSPENDS):
        return []
    while todo:
        size = OUTSPENDS_BATCH_SIZE if provider.supports(Capability.OUTSPENDS_BATCH) else 1
        left = budget.left
        if left is not None:
            if left < 1:
                break
            size = size if size > 1 else left  # one request per tx: as many as fit
        chunk, todo = todo[:size], todo[size:]
        try:
            found = await provider.outspends_many(chunk)
        except NotFound:  # a tx the explorer no longer knows (reorged out): ask the rest singly
            found = await _one_by_one(provider, chunk)
        for txid, outs in found.items():
            for vout, spend in enumerate(outs):
                if not spend.spent or spend.txid is None or spend.vin is None:
                    continue
                alive.add(spend.txid)
                if spend.block is not None or (txid, vout) not in track.keys:
                    continue  # confirmed: the block scan reports it, with its height
                item: Spent = (txid, vout, spend.txid, spend.vin)
                spenders |= _spent(track, [item], noted)
    return todo


async def _one_by_one(provider: Provider, txids: Sequence[str]) -> dict[str, list[OutSpend]]:
    found: dict[str, list[OutSpend]] = {}
    for txid in txids:
        with contextlib.suppress(NotFound):  # gone: the block scan and `_find_gone` tell
            found[txid] = await provider.outspends(txid)
    return found


def _spent(track: Tracker, items: Sequence[Spent], noted: set[tuple[str, int, str]]) -> set[str]:
    fresh = [s for s in items if (s[0], s[1], s[2]) not in noted]
    noted.update((s[0], s[1], s[2]) for s in fresh)
    return track.spent(fresh, None, None) if fresh else set()


async def _hot_addresses(
    provider: Provider,
    track: Tracker,
    result: PollResult,
    spenders: set[str],
    alive: set[str],
    noted: set[tuple[str, int, str]],
    work: MempoolWork,
    budget: Budget,
) -> list[str]:
    if not provider.supports(Capability.ADDRESS_MEMPOOL):
        return []
    todo = _first(work.deferred_hot, work.hot)
    left = budget.left
    now, later = (todo, []) if left is None else (todo[:left], todo[left:])
    seen: set[str] = set()
    for address in now:
        txs = await provider.address_mempool(address)
        for tx in reversed(txs):  # oldest first: a payment before the tx that spends it
            alive.add(tx.txid)
            if tx.txid not in seen:
                seen.add(tx.txid)
                _observe(track, result, spenders, noted, tx)
    return later


def _observe(
    track: Tracker,
    result: PollResult,
    spenders: set[str],
    noted: set[tuple[str, int, str]],
    tx: Tx,
) -> None:
    scripts = track.ws.by_script
    paid: list[Paid] = [
        (tx.txid, vout, out.value, out.script)
        for vout, out in enumerate(tx.outputs)
        if out.script in scripts
    ]
    track.paid(paid, None, None, None)
    spent: list[Spent] = [
        (i.prevout.txid, i.prevout.vout, tx.txid, vin)
        for vin, i in enumerate(tx.inputs)
        if i.prevout is not None and (i.prevout.txid, i.prevout.vout) in track.keys
    ]
    moved = _spent(track, spent, noted)
    if moved:
        spenders |= moved
        result.note_destinations(tx)
    if paid or moved:
        result.txs[tx.txid] = tx


async def _full(
    provider: Provider,
    track: Tracker,
    result: PollResult,
    spenders: set[str],
    seen: set[str],
    budget: Budget,
) -> set[str]:
    """Every new mempool tx, raw: one request each (plus the list), as many as the budget pays."""
    txids = await provider.mempool_txids()
    current = set(txids)
    fresh = [t for t in txids if t not in seen]
    left = budget.left
    new = fresh[: MAX_MEMPOOL_FETCH if left is None else left]
    for txid in new:
        try:
            raw = await provider.tx_raw(txid)
        except NotFound:  # mined or evicted between the two requests
            current.discard(txid)
            continue
        found = scan_tx(raw, track.ws.by_script, track.keys)
        track.paid(found.paid, None, None, None)
        spenders |= track.spent(found.spent, None, None)
    postponed = set(fresh[len(new) :])
    budget.defer("mempool txs", len(postponed))
    result.mempool_seen = sorted(current - postponed)
    return current
