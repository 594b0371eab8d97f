"""Follow the money: a breadth-first search forward over spends, from sources to stops.

Each hop asks who spent the frontier's outputs (outspends, batched per transaction) and fetches
the spending transactions (once per database); each followed output either joins the next
frontier or stops for a recorded reason. Heuristics run on the collected flow afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from btcwatch.errors import ProviderError
from btcwatch.model import OutPoint, Tx, TxOut
from btcwatch.trace.coinjoin import detect_coinjoin
from btcwatch.trace.deposits import sweep_entity
from btcwatch.trace.evidence import Finding
from btcwatch.trace.heap import heap_frozen
from btcwatch.trace.tagindex import Attribution, TagIndex
from btcwatch.trace.txsource import TxSource

DEFAULT_STOP_AT = ("exchange", "mixer", "sanctioned")
#: A flow holds at most this many transactions: a trail into a busy service stays bounded.
DEFAULT_MAX_TXS = 10_000
#: Address-history pages read for an ADDRESS source (Esplora: 25 confirmed txs a page).
DEFAULT_HISTORY_PAGES = 4


class StopReason(StrEnum):
    TAGGED = "tagged"  # reached a tagged entity in --stop-at
    DEPOSIT = "exchange_deposit"  # an address the exchange swept into its tagged hot wallet
    COINJOIN = "coinjoin"
    UNSPENT = "unspent"
    HOP_LIMIT = "hop_limit"
    MIN_VALUE = "min_value"
    FANOUT = "fanout"
    NO_ADDRESS = "no_address"  # OP_RETURN and other scripts nobody can spend by address
    TX_LIMIT = "tx_limit"  # the trace already holds max_txs transactions
    ERROR = "provider_error"


@dataclass(frozen=True, slots=True)
class TraceParams:
    hops: int = 12
    min_value: int = 0
    max_fanout: int = 20
    taint: str = "haircut"
    stop_at: tuple[str, ...] = DEFAULT_STOP_AT
    max_txs: int = DEFAULT_MAX_TXS
    max_history_pages: int = DEFAULT_HISTORY_PAGES

    @classmethod
    def from_dict(cls, p: Mapping[str, Any]) -> TraceParams:
        """Back from the JSON stored with a trace run (runs stored before a limit existed
        get its default)."""
        return cls(
            p["hops"],
            p["min_value"],
            p["max_fanout"],
            p["taint"],
            tuple(p["stop_at"]),
            p.get("max_txs", DEFAULT_MAX_TXS),
            p.get("max_history_pages", DEFAULT_HISTORY_PAGES),
        )


@dataclass(frozen=True, slots=True)
class Source:
    outpoint: OutPoint
    value: int
    address: str | None


class Stop(NamedTuple):
    """Where one branch of the trail ended, and why.

    Stop, Endpoint, PeelHop and ChangeVerdict are named tuples: a large flow holds one per
    output or tx, millions of them, and a tuple is built several times faster than a frozen
    dataclass."""

    outpoint: OutPoint
    address: str | None
    value: int
    reason: StopReason
    hop: int
    entity: str | None = None
    category: str | None = None
    detail: str = ""


@dataclass(slots=True)
class Flow:
    """What a search collected: the transactions in the flow and where each branch stopped."""

    sources: list[Source]
    txs: dict[str, Tx] = field(default_factory=dict)
    hop_of: dict[str, int] = field(default_factory=dict)
    stops: dict[OutPoint, Stop] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    followed: set[OutPoint] = field(default_factory=set)
    walked: set[str] = field(default_factory=set)  # spending txs the money was followed through

    def taint_txs(self) -> dict[str, Tx]:
        """The transactions taint flows through (not the CoinJoins or sweeps it stopped at).

        In the order the search met them (not the set's hash order): at a million txs the
        analysis then reads the tx objects roughly in the order they sit in memory."""
        walked = self.walked
        return {t: tx for t, tx in self.txs.items() if t in walked}


async def follow(
    chain: TxSource, sources: Sequence[Source], params: TraceParams, tags: TagIndex
) -> Flow:
    """Search forward from ``sources`` until every branch has stopped.

    Each hop costs one outspends answer per frontier tx and one fetch per new spending tx, so
    at most two requests per traced tx; ``max_fanout`` and ``max_txs`` bound the flow.
    """
    with heap_frozen() as settle:
        return await _follow(chain, sources, params, tags, settle)


async def _follow(
    chain: TxSource,
    sources: Sequence[Source],
    params: TraceParams,
    tags: TagIndex,
    settle: Callable[[], None],
) -> Flow:
    flow = Flow(list(sources))
    source_txids = {s.outpoint.txid for s in sources}
    if source_txids:
        flow.txs.update(await chain.txs(sorted(source_txids)))
        for txid in source_txids:
            flow.hop_of[txid] = 0
    frontier = [(s.outpoint, 0) for s in sources]
    entities = tags.entities()
    # (the flow's tables and the tag lookup as locals: this loop runs once per hop, a
    # million times for a million-tx peel chain)
    txs, hop_of, walked, stops, followed = (
        flow.txs,
        flow.hop_of,
        flow.walked,
        flow.stops,
        flow.followed,
    )
    tag_of = tags.get
    while frontier:
        ops = [op for op, _ in frontier]
        followed.update(ops)
        answers = await chain.spenders(ops)
        moving: list[tuple[OutPoint, int, str]] = []
        for op, at in frontier:
            answer = answers.get(op)
            if isinstance(answer, ProviderError):
                _stop(flow, op, StopReason.ERROR, at, detail=str(answer))
            elif answer is None:
                _stop(flow, op, StopReason.UNSPENT, at)
            else:
                moving.append((op, at, answer))
        wanted = sorted({t for _, _, t in moving if t not in txs})
        txs.update(await chain.txs(wanted))
        next_frontier: dict[OutPoint, int] = {}
        barrier: dict[str, tuple[StopReason, str | None, str] | None] = {}
        for op, at, spender in moving:
            tx = txs[spender]
            hop = at + 1
            if spender not in barrier:
                barrier[spender] = _barrier(flow, tx, entities)
            stop = barrier[spender]
            hop_of.setdefault(spender, hop)
            if stop is not None:
                reason, entity, detail = stop
                _stop(
                    flow,
                    op,
                    reason,
                    at,
                    entity,
                    "exchange" if reason is StopReason.DEPOSIT else None,
                    detail,
                )
                continue
            if spender in walked:
                continue  # its outputs were followed or stopped when it was first walked
            walked.add(spender)
            # Outputs of a tx met for the first time are new, unless one is a source.
            check = spender in source_txids
            fanout = len(tx.outputs)
            for vout, out in enumerate(tx.outputs):
                child = OutPoint(spender, vout)
                if check and child in followed:
                    continue
                who = tag_of(out.address)
                ended = _output_stop(out, who, fanout, hop, params)
                if ended is None:
                    next_frontier[child] = hop
                    continue
                stops[child] = Stop(
                    child,
                    out.address,
                    out.value,
                    ended,
                    hop,
                    who.entity if who and ended is StopReason.TAGGED else None,
                    who.category if who else None,
                    f"{fanout} outputs > max_fanout {params.max_fanout}"
                    if ended is StopReason.FANOUT
                    else "",
                )
        frontier = _within_budget(flow, sorted(next_frontier.items()), params.max_txs)
        settle()  # what this hop kept is the flow: no full collection walks it again
    return flow


def _within_budget(
    flow: Flow, frontier: list[tuple[OutPoint, int]], max_txs: int
) -> list[tuple[OutPoint, int]]:
    """The outputs still worth a request: each may bring one more tx into the flow, so once
    the flow would pass ``max_txs`` the rest stop (largest values are followed first)."""
    room = max_txs - len(flow.txs)
    if len(frontier) <= room:
        return frontier
    room = max(room, 0)

    def value(item: tuple[OutPoint, int]) -> int:
        op = item[0]
        return flow.txs[op.txid].outputs[op.vout].value

    ranked = sorted(frontier, key=lambda item: (-value(item), item[0]))
    for op, hop in ranked[room:]:
        _stop(flow, op, StopReason.TX_LIMIT, hop, detail=f"flow reached max_txs {max_txs}")
    return sorted(ranked[:room])


def _barrier(
    flow: Flow, tx: Tx, entities: Mapping[str, str]
) -> tuple[StopReason, str | None, str] | None:
    """A spending tx we do not walk through: a CoinJoin, or an exchange sweeping its deposits."""
    coinjoin = detect_coinjoin(tx)
    if coinjoin is not None:
        flow.findings.append(coinjoin)
        return StopReason.COINJOIN, None, tx.txid
    # Anything moved whole into one exchange's tagged wallets is that exchange consolidating
    # its deposits (even one at a time): the spent address is where a freeze request goes.
    sweep = sweep_entity(tx, entities, min_addresses=1)
    if sweep is not None:
        entity, hot_wallet, swept = sweep
        return (
            StopReason.DEPOSIT,
            entity,
            f"swept by {tx.txid} with {len(swept)} deposit(s) into {hot_wallet}",
        )
    return None


def _output_stop(
    out: TxOut, attribution: Attribution | None, fanout: int, hop: int, params: TraceParams
) -> StopReason | None:
    """Why the money on one output of a walked tx (``fanout`` outputs) goes no further."""
    if attribution is not None and attribution.category in params.stop_at:
        return StopReason.TAGGED
    if out.address is None:
        return StopReason.NO_ADDRESS
    if out.value < params.min_value:
        return StopReason.MIN_VALUE
    if fanout > params.max_fanout:
        return StopReason.FANOUT
    if hop >= params.hops:
        return StopReason.HOP_LIMIT
    return None


def _stop(
    flow: Flow,
    op: OutPoint,
    reason: StopReason,
    hop: int,
    entity: str | None = None,
    category: str | None = None,
    detail: str = "",
) -> None:
    tx = flow.txs.get(op.txid)
    out = tx.outputs[op.vout] if tx is not None and op.vout < len(tx.outputs) else None
    flow.stops[op] = Stop(
        op,
        out.address if out else None,
        out.value if out else 0,
        reason,
        hop,
        entity,
        category,
        detail,
    )
