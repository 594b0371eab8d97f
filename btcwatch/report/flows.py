"""The traced side of a case: where the money went, and what to ask each exchange to freeze.

Works on a stored trace run reopened from the database (`btcwatch.trace.run.stored.reopen`), so a
report never touches the network and always agrees with `btcwatch export` of the same run.

A freeze row is an output that credited tainted money to an exchange: the deposit output the
exchange later swept (stop ``exchange_deposit``), or an output paying an address tagged as the
exchange itself (stop ``tagged``). It names the deposit address, the transaction and output
that paid it, its value and the part of it that is tainted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from btcwatch.errors import BtcwatchError
from btcwatch.prices import PriceTable
from btcwatch.report.facts import (
    ClusterFacts,
    CoinJoinFacts,
    EntityFlow,
    FreezeRequest,
    FreezeRow,
    PeelChainFacts,
    PeelStep,
    TraceFacts,
)
from btcwatch.report.payments import confirmations
from btcwatch.report.refs import EvidenceIndex
from btcwatch.store import Store
from btcwatch.store.chaindata import spender_of
from btcwatch.store.traces import TraceRun
from btcwatch.timefmt import iso_utc
from btcwatch.trace.analyse import COINJOIN_ENTITY, Analysis, Endpoint
from btcwatch.trace.follow import StopReason

#: Trace stops that mean "this entity received the money": where a freeze request goes.
FREEZE_REASONS = (StopReason.DEPOSIT.value, StopReason.TAGGED.value)


def _fiat(prices: PriceTable | None, sats: int, time: int | None, currency: str) -> Decimal | None:
    if prices is None or time is None or not sats:
        return None
    try:
        value, _ = prices.value(sats, datetime.fromtimestamp(time, UTC).date(), currency)
    except BtcwatchError:
        return None
    return value


def _add(total: Decimal | None, value: Decimal | None, first: bool) -> Decimal | None:
    """Sum that stays None as soon as one part has no price (a partial sum would mislead)."""
    if value is None:
        return None
    if first:
        return value
    return None if total is None else total + value


def _entity_of(e: Endpoint) -> str | None:
    return e.entity or (COINJOIN_ENTITY if e.reason == StopReason.COINJOIN else None)


def entity_flows(
    analysis: Analysis, refs: EvidenceIndex, prices: PriceTable | None
) -> tuple[EntityFlow, ...]:
    """Tainted amount per entity, with fiat at each endpoint's day, largest first."""
    grouped: dict[str, list[Endpoint]] = {}
    for e in analysis.endpoints:
        name = _entity_of(e)
        if name and e.taint_sat:
            grouped.setdefault(name, []).append(e)
    flows: list[EntityFlow] = []
    for name, ends in grouped.items():
        eur: Decimal | None = None
        usd: Decimal | None = None
        for n, e in enumerate(ends):
            eur = _add(eur, _fiat(prices, e.taint_sat, e.time, "EUR"), n == 0)
            usd = _add(usd, _fiat(prices, e.taint_sat, e.time, "USD"), n == 0)
        category = next((e.category for e in ends if e.category), None)
        flows.append(
            EntityFlow(
                entity=name,
                category=category or ("mixer" if name == COINJOIN_ENTITY else ""),
                taint_sat=sum(e.taint_sat for e in ends),
                eur=eur,
                usd=usd,
                endpoints=len(ends),
                evidence=refs.refs(*(e.outpoint.txid for e in ends)),
            )
        )
    flows.sort(key=lambda f: (-f.taint_sat, f.entity))
    return tuple(flows)


def freeze_requests(
    store: Store,
    analysis: Analysis,
    refs: EvidenceIndex,
    prices: PriceTable | None,
    tip: int | None,
) -> tuple[FreezeRequest, ...]:
    """Per entity, the tainted outputs it received: what a freeze request lists."""
    grouped: dict[str, list[tuple[FreezeRow, str, int | None]]] = {}
    for e in analysis.endpoints:
        if not e.entity or e.reason not in FREEZE_REASONS or not e.taint_sat:
            continue
        swept_by = spender_of(store, e.outpoint) if e.reason == StopReason.DEPOSIT else None
        row = FreezeRow(
            deposit_address=e.address or "",
            txid=e.outpoint.txid,
            vout=e.outpoint.vout,
            value_sat=e.value_sat,
            taint_sat=e.taint_sat,
            time=iso_utc(e.time) if e.time else None,
            height=e.height,
            confirmations=confirmations(e.height, tip),
            reason=e.reason,
            swept_by=swept_by,
            evidence=refs.refs(e.outpoint.txid, swept_by),
        )
        grouped.setdefault(e.entity, []).append((row, e.category or "", e.time))
    out: list[FreezeRequest] = []
    for entity, items in sorted(grouped.items()):
        items.sort(key=lambda item: (item[0].time or "~", item[0].txid, item[0].vout))
        eur: Decimal | None = None
        for n, (row, _, time) in enumerate(items):
            eur = _add(eur, _fiat(prices, row.taint_sat, time, "EUR"), n == 0)
        rows = tuple(row for row, _, _ in items)
        out.append(
            FreezeRequest(
                entity=entity,
                category=next((c for _, c, _ in items if c), ""),
                rows=rows,
                taint_sat=sum(r.taint_sat for r in rows),
                value_sat=sum(r.value_sat for r in rows),
                eur=eur,
            )
        )
    return tuple(out)


def _peel_chains(analysis: Analysis, refs: EvidenceIndex) -> tuple[PeelChainFacts, ...]:
    entity_at = {e.outpoint: e.entity for e in analysis.endpoints if e.entity}
    chains = []
    for chain in analysis.peel_chains:
        steps = tuple(
            PeelStep(
                txid=hop.txid,
                vout=hop.peel.vout,
                address=hop.peel_address,
                value_sat=hop.peel_value,
                entity=entity_at.get(hop.peel),
                evidence=refs.refs(hop.txid),
            )
            for hop in chain.hops
        )
        chains.append(PeelChainFacts(chain.start_txid, chain.total_peeled, chain.remaining, steps))
    return tuple(chains)


def _coinjoins(analysis: Analysis, refs: EvidenceIndex) -> tuple[CoinJoinFacts, ...]:
    out = []
    for txid in analysis.coinjoins:
        tainted = sum(
            e.taint_sat
            for e in analysis.endpoints
            if e.reason == StopReason.COINJOIN and e.detail == txid
        )
        tx = analysis.flow.txs.get(txid)
        block = tx.block if tx else None
        finding = next(
            (f for f in analysis.findings if f.heuristic == "coinjoin" and f.subject == txid),
            None,
        )
        out.append(
            CoinJoinFacts(
                txid=txid,
                tainted_in_sat=tainted,
                height=block.height if block else None,
                time=iso_utc(block.time) if block and block.time else None,
                facts=finding.facts if finding else (),
                evidence=refs.refs(txid),
            )
        )
    return tuple(out)


def _clusters(analysis: Analysis, refs: EvidenceIndex) -> tuple[ClusterFacts, ...]:
    clusters = analysis.clusters
    found = [
        ClusterFacts(
            clusters.representative(cid),
            tuple(sorted(clusters.members(cid))),
            refs.refs(*clusters.txids(cid)),
        )
        for cid in clusters
        if len(clusters.members(cid)) > 1
    ]
    found.sort(key=lambda c: (-len(c.addresses), c.id))
    return tuple(found)


def trace_facts(
    run: TraceRun, analysis: Analysis, refs: EvidenceIndex, prices: PriceTable | None
) -> TraceFacts:
    """What the latest trace found, in the order a reader asks: where, how, with whom."""
    p = analysis.params
    stops: dict[str, int] = {}
    for e in analysis.endpoints:
        stops[e.reason] = stops.get(e.reason, 0) + 1
    refs.load(analysis.flow.txs)
    params: Sequence[tuple[str, object]] = (
        ("hops", p.hops),
        ("min_value_sat", p.min_value),
        ("max_fanout", p.max_fanout),
        ("taint", p.taint),
        ("stop_at", list(p.stop_at)),
    )
    return TraceFacts(
        run_id=run.id,
        started_at=run.started_at,
        finished_at=run.finished_at,
        params=tuple(params),
        sources=len(analysis.flow.sources),
        source_total_sat=analysis.source_total,
        txs=len(analysis.flow.txs),
        hops=max(analysis.flow.hop_of.values(), default=0),
        fee_taint_sat=analysis.taint.fee_taint,
        stops=tuple(sorted(stops.items())),
        entities=entity_flows(analysis, refs, prices),
        peel_chains=_peel_chains(analysis, refs),
        coinjoins=_coinjoins(analysis, refs),
        clusters=_clusters(analysis, refs),
    )
