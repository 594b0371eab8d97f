"""Block-scan mode: follow the tip, fetch each new block once, match it locally.

Per new block it costs the block's hash and its raw bytes (plus one tip request per cycle),
whatever the size of the watchlist, and it tells the explorer nothing about what is watched.
Reorgs are found by each block's previous-hash link and rolled back to the fork point.
"""

from __future__ import annotations

from collections.abc import Sequence

from btcwatch.chain.address import script_to_address
from btcwatch.chain.network import Network
from btcwatch.chain.scan import BlockScan, scan_block
from btcwatch.chain.tx import RawTx, parse_block
from btcwatch.errors import NotFound
from btcwatch.model import BlockRef, OutPoint, Tx, TxIn, TxOut, WatchedOutput
from btcwatch.providers.base import Provider
from btcwatch.watch.budget import Budget
from btcwatch.watch.diff import Observation
from btcwatch.watch.mempool import MempoolWork, watch_mempool
from btcwatch.watch.poll import PollResult
from btcwatch.watch.tracker import Tracker
from btcwatch.watch.watchset import WatchSet

BLOCK_SHARE = 0.8  # of a tick's budget, what the block scan may use before it stops


async def poll_blocks(
    provider: Provider,
    ws: WatchSet,
    outputs: Sequence[WatchedOutput],
    scanned: dict[int, str],
    *,
    start_height: int,
    mempool: MempoolWork | None = None,
    budget: Budget | None = None,
    max_blocks: int | None = None,
) -> PollResult:
    """Scan blocks from the last scanned one (or ``start_height``) to the tip, then the mempool.

    With a ``budget``, the scan stops when its share is spent (after one block at least, so
    every tick moves forward); the blocks left are scanned next tick, from the stored position.
    """
    budget = budget or Budget(provider, None)
    before = provider.requests
    tip = await provider.tip()
    tip_height = tip.height
    result = PollResult(Observation(tip_height), tip_hash=tip.hash)
    track = Tracker(ws, outputs, result)
    chain = dict(scanned)
    height = max(chain) + 1 if chain else start_height
    confirmed: set[str] = set()
    spenders: set[str] = set()
    orphaned: list[str] = []
    if chain and tip_height < height and chain.get(tip_height) != tip.hash:
        # The explorer's tip is not ahead of ours but differs: a reorg to a chain no longer
        # than ours (e.g. one block replaced at the same height). Roll back as below.
        fork = await _find_fork(provider, chain, min(tip_height, max(chain)))
        for h in sorted(k for k in chain if k > fork):
            orphaned.append(chain.pop(h))
        result.reorg_fork = fork
        height = fork + 1
    done = 0
    # Blocks may use what is left after a reserve for the mempool checks (half at most).
    share = budget.share(BLOCK_SHARE)
    while height <= tip_height and (max_blocks is None or done < max_blocks):
        if done and share is not None and provider.requests - before >= share:
            break
        # The tip's hash came with the tip: a one-block step costs tip + raw block only.
        block_hash = tip.hash if height == tip.height else await provider.block_hash(height)
        raw, scan = await _fetch_block(provider, block_hash, height, ws, track.keys)
        if height - 1 in chain and scan.prev_hash != chain[height - 1]:
            fork = await _find_fork(provider, chain, height - 1)
            for h in sorted(k for k in chain if k > fork):
                orphaned.append(chain.pop(h))
            result.reorg_fork = fork
            height = fork + 1
            continue
        _apply_block(track, scan, raw, height, spenders)
        _keep_matched(result, raw, scan, height, provider.network)
        confirmed.update(scan.txids)
        chain[height] = scan.hash
        result.scanned.append((height, scan.hash, scan.prev_hash, scan.time))
        if scan.hash == tip.hash:
            result.tip_time = scan.time
        height += 1
        done += 1
    budget.defer("blocks", tip_height - height + 1)

    result.block_requests = provider.requests - before
    result.observation.orphaned_blocks.update(orphaned)
    in_mempool: set[str] = set()
    if mempool is not None:
        in_mempool = await watch_mempool(provider, track, result, spenders, mempool, budget)
    for txid in sorted(spenders):
        if txid in result.observation.spend_outputs:
            continue  # the mempool check had the whole tx already
        try:
            spender = await provider.tx(txid)
        except NotFound:
            continue
        result.note_destinations(spender)
        if spender.confirmed:  # the full answer (prevout values too) replaces the raw-block one
            result.txs[txid] = spender
    await _find_gone(provider, outputs, result, confirmed, in_mempool, True)
    return result


async def _fetch_block(
    provider: Provider, block_hash: str, height: int, ws: WatchSet, keys: set[tuple[str, int]]
) -> tuple[bytes, BlockScan]:
    """The raw block, scanned. The provider already refused (and retried) a cut or altered
    body and one that is not the block asked for; the scan re-checks that it is whole."""
    raw = await provider.block_raw(block_hash)
    return raw, scan_block(raw, ws.by_script, keys)


def _apply_block(
    track: Tracker, scan: BlockScan, raw: bytes, height: int, spenders: set[str]
) -> None:
    fresh = track.paid(scan.paid, height, scan.hash, scan.time)
    spenders |= track.spent(scan.spent, height, scan.hash)
    if fresh:  # outputs created and spent in this same block
        again = scan_block(raw, set(), {(op.txid, op.vout) for op in fresh}, verify=False)
        spenders |= track.spent(again.spent, height, scan.hash)


def _keep_matched(
    result: PollResult, raw: bytes, scan: BlockScan, height: int, network: Network
) -> None:
    """Keep the block's matching transactions, to be stored with the raw block as evidence.

    Their inclusion proofs are then derived from that stored block at no request.
    """
    wanted = {txid for txid, *_ in scan.paid} | {spend[2] for spend in scan.spent}
    if not wanted:
        return
    block = parse_block(raw)
    ref = BlockRef(height, scan.hash, scan.time)
    for raw_tx in block.txs:
        if raw_tx.txid in wanted and raw_tx.txid not in result.txs:
            result.txs[raw_tx.txid] = _model_tx(raw_tx, ref, network)
    result.block_txids.setdefault(scan.hash, []).extend(sorted(wanted))


def _model_tx(raw: RawTx, block: BlockRef, network: Network) -> Tx:
    inputs = tuple(
        TxIn(None if i.is_coinbase else OutPoint(i.prev_txid, i.prev_vout), i.sequence)
        for i in raw.inputs
    )
    outputs = tuple(
        TxOut(o.value, o.script, script_to_address(o.script, network)) for o in raw.outputs
    )
    return Tx(raw.txid, raw.version, raw.locktime, inputs, outputs, block, raw.size, raw.weight)


async def _find_fork(provider: Provider, chain: dict[int, str], height: int) -> int:
    """Walk back until our stored hash equals the explorer's: that height is the fork point."""
    while height in chain and await provider.block_hash(height) != chain[height]:
        height -= 1
    return height


async def _find_gone(
    provider: Provider,
    outputs: Sequence[WatchedOutput],
    result: PollResult,
    confirmed: set[str],
    in_mempool: set[str],
    mempool_known: bool,
) -> None:
    """Reported unconfirmed txs (or ones in orphaned blocks) that are nowhere any more."""
    orphaned = result.observation.orphaned_blocks
    suspects: set[str] = set()
    for o in outputs:
        if o.height is None or o.block_hash in orphaned:
            suspects.add(o.outpoint.txid)
        if o.spent_by and (o.spent_height is None or o.block_hash in orphaned):
            suspects.add(o.spent_by)
    for txid in sorted(suspects - confirmed):
        if mempool_known and txid in in_mempool:
            continue
        try:
            await provider.tx(txid)
        except NotFound:
            result.observation.gone_txids.add(txid)
