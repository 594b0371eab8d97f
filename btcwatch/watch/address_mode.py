"""Address mode: one cheap summary request per address per cycle, history only when it changed.

Each address's summary (funded/spent counts and sums, confirmed and mempool) is compared with the
last one seen; only addresses whose summary changed, or that have payments still waiting for
confirmations, fetch history, and only its new pages (pages of deep, known txs stop the pager).
"""

from __future__ import annotations

import asyncio
from collections.abc import Container, Sequence

from btcwatch.errors import NotFound
from btcwatch.model import AddressStats, OutPoint, Tx, WatchedOutput
from btcwatch.providers.base import Provider
from btcwatch.watch.diff import Observation, Payment, Spend, confirmations
from btcwatch.watch.poll import PollResult
from btcwatch.watch.watchset import WatchSet

REORG_DEPTH = 6  # below this many confirmations a tx is re-checked whenever its address changes


async def poll_addresses(
    provider: Provider,
    ws: WatchSet,
    outputs: Sequence[WatchedOutput],
    previous: dict[str, AddressStats],
    tip_height: int,
    *,
    needed: int = 1,
    concurrency: int = 16,
    only: Sequence[str] | None = None,
    distrust: Container[str] = frozenset(),
) -> PollResult:
    """Poll every watched address (or ``only`` these) and observe what changed.

    ``distrust`` is filled while polling (by the explorer pool's cross-check) with addresses
    whose summaries two explorers disagree on: those are left alone this cycle, their summary
    not remembered, so they are asked again next cycle.
    """
    result = PollResult(Observation(tip_height))
    by_address: dict[str, list[WatchedOutput]] = {}
    for o in outputs:
        by_address.setdefault(o.address, []).append(o)
    gate = asyncio.Semaphore(concurrency)

    async def one(address: str) -> tuple[str, AddressStats | None, list[Tx] | None]:
        async with gate:
            stats = await provider.address_stats(address)
            if address in distrust:
                return address, None, None
            mine = by_address.get(address, [])
            waiting = any(
                confirmations(o.height, tip_height) < max(needed, 1) for o in mine
            ) or any(o.spent_by and o.spent_height is None for o in mine)
            if previous.get(address) == stats and not waiting:
                return address, stats, None
            deep = _deep_txids(mine, tip_height) if address in previous else set()
            return address, stats, await provider.address_history(address, known=deep)

    targets = list(only) if only is not None else ws.addresses
    stale = await _orphaned_blocks(provider, outputs, tip_height)
    result.observation.orphaned_blocks |= stale
    recheck = {o.address for o in outputs if o.block_hash in stale}
    previous = {a: s for a, s in previous.items() if a not in recheck}
    answers = await asyncio.gather(*(one(a) for a in targets))
    for address, stats, history in answers:
        if stats is not None:
            result.stats.append(stats)
        if history is None:
            continue
        _observe_history(result, ws, address, history, by_address.get(address, []))
        await _check_missing(provider, result, address, history, by_address.get(address, []))
    # A block that arrived after the tip was asked for shows up in the histories: the chain is
    # at least that high. Counting from the older tip would store the payment with too few
    # confirmations and, its summary unchanged from then on, never confirm it.
    seen = max((tx.block.height for tx in result.txs.values() if tx.block), default=tip_height)
    result.observation.tip_height = max(tip_height, seen)
    return result


async def _orphaned_blocks(
    provider: Provider, outputs: Sequence[WatchedOutput], tip_height: int
) -> set[str]:
    """Blocks of recent payments that are no longer at their height in the best chain.

    A reorg that re-mines the same tx changes no address summary, so the recent heights we
    reported are checked directly: one request per distinct height, only within reorg depth.
    """
    recent: dict[int, set[str]] = {}
    for o in outputs:
        if (
            o.height is not None
            and o.block_hash
            and confirmations(o.height, tip_height) < (REORG_DEPTH)
        ):
            recent.setdefault(o.height, set()).add(o.block_hash)
    stale: set[str] = set()
    for height, hashes in sorted(recent.items()):
        if height > tip_height:
            stale |= hashes
            continue
        best = await provider.block_hash(height)
        stale |= hashes - {best}
    return stale


def _deep_txids(outputs: Sequence[WatchedOutput], tip_height: int) -> set[str]:
    deep: set[str] = set()
    for o in outputs:
        if confirmations(o.height, tip_height) >= REORG_DEPTH:
            deep.add(o.outpoint.txid)
        if o.spent_by and confirmations(o.spent_height, tip_height) >= REORG_DEPTH:
            deep.add(o.spent_by)
    return deep


def _observe_history(
    result: PollResult,
    ws: WatchSet,
    address: str,
    history: Sequence[Tx],
    known: Sequence[WatchedOutput],
) -> None:
    cases = ws.by_address.get(address, [])
    previous = {(o.case, o.outpoint): o for o in known}
    for tx in history:
        result.txs[tx.txid] = tx
        height = tx.block.height if tx.block else None
        block_hash = tx.block.hash if tx.block else None
        for vout, out in enumerate(tx.outputs):
            if out.address != address:
                continue
            op = OutPoint(tx.txid, vout)
            for case in cases:
                p = Payment(
                    case,
                    address,
                    op,
                    out.value,
                    out.script.hex(),
                    height,
                    block_hash,
                    tx.block.time if tx.block else None,
                )
                result.note_payment(p, previous.get((case, op)))
        spent_here = False
        for vin, txin in enumerate(tx.inputs):
            if txin.prev_address != address or txin.prevout is None:
                continue
            for case in cases:
                spent = result.outputs.get(
                    (case, txin.prevout.txid, txin.prevout.vout)
                ) or previous.get((case, txin.prevout))
                if spent is None:  # funded before btcwatch's window: describe it from the input
                    spent = WatchedOutput(
                        case,
                        address,
                        txin.prevout,
                        txin.prev_value or 0,
                        (txin.prev_script or b"").hex(),
                        None,
                        None,
                    )
                s = Spend(
                    case,
                    address,
                    txin.prevout,
                    txin.prev_value or spent.value,
                    tx.txid,
                    vin,
                    height,
                    block_hash,
                )
                result.note_spend(s, spent)
                spent_here = True
        if spent_here:
            result.note_destinations(tx)


async def _check_missing(
    provider: Provider,
    result: PollResult,
    address: str,
    history: Sequence[Tx],
    known: Sequence[WatchedOutput],
) -> None:
    """Shallow txs we reported that the new history lacks: dropped, replaced or reorged out."""
    fetched = {tx.txid for tx in history}
    tip = result.observation.tip_height
    suspects = {
        o.outpoint.txid
        for o in known
        if confirmations(o.height, tip) < REORG_DEPTH and o.outpoint.txid not in fetched
    }
    suspects |= {
        o.spent_by
        for o in known
        if o.spent_by
        and confirmations(o.spent_height, tip) < REORG_DEPTH
        and o.spent_by not in fetched
    }
    for txid in sorted(suspects):
        try:
            await provider.tx(txid)
        except NotFound:
            result.observation.gone_txids.add(txid)
