"""`btcwatch trace` as a library call: find the sources, follow, analyse, store the run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from btcwatch.case import Role
from btcwatch.chain.address import Address
from btcwatch.errors import BtcwatchError, InputError
from btcwatch.model import OutPoint, is_txid
from btcwatch.prices import Price, PriceLookup
from btcwatch.providers.base import History, Provider
from btcwatch.store import Store
from btcwatch.store.cases import get_case, list_addresses
from btcwatch.store.evidence import EvidenceLog
from btcwatch.store.traces import finish_run, start_run
from btcwatch.store.watchstate import address_stats, watched_outputs
from btcwatch.tags import CATEGORIES
from btcwatch.trace.analyse import Analysis, Endpoint, analyse, to_json
from btcwatch.trace.evidence import Finding
from btcwatch.trace.follow import (
    DEFAULT_HISTORY_PAGES,
    Source,
    StopReason,
    TraceParams,
    follow,
)
from btcwatch.trace.run.source import CachedChain
from btcwatch.trace.run.stored import save_run, tag_index
from btcwatch.valuation import Valuer


async def resolve_sources(
    store: Store,
    chain: CachedChain,
    *,
    case: str | None = None,
    targets: Sequence[str] = (),
    max_pages: int | None = DEFAULT_HISTORY_PAGES,
    limits: list[Finding] | None = None,
) -> list[Source]:
    """The outputs a trace starts from: a case's ransom payments, or addresses/txids/outpoints.

    An address's history is read for at most ``max_pages`` pages (a hot wallet has 100,000
    txs); where that cut it short, a "history_limit" finding is appended to ``limits``.
    """
    sources: dict[OutPoint, Source] = {}
    if case is not None:
        get_case(store, case)
        ransom = [w.address for w in list_addresses(store, case, roles=[Role.RANSOM])]
        seen = [o for o in watched_outputs(store, case) if o.address in ransom]
        for o in seen:
            sources[o.outpoint] = Source(o.outpoint, o.value, o.address)
        # Addresses the watcher has synced are known to be unpaid; ask only about the others.
        synced = set(address_stats(store))
        paid = {o.address for o in seen}
        missing = [a for a in ransom if a not in paid and a not in synced]
        targets = [*targets, *missing]
    for target in targets:
        for s in await _sources_of(chain, target.strip(), max_pages, limits):
            sources.setdefault(s.outpoint, s)
    if not sources:
        raise InputError("nothing to trace: no payments found for the given sources")
    return sorted(sources.values(), key=lambda s: str(s.outpoint))


async def _sources_of(
    chain: CachedChain, target: str, max_pages: int | None, limits: list[Finding] | None
) -> list[Source]:
    if ":" in target:
        op = OutPoint.parse(target)
        tx = (await chain.txs([op.txid]))[op.txid]
        if op.vout >= len(tx.outputs):
            raise InputError(f"{target}: transaction has only {len(tx.outputs)} outputs")
        out = tx.outputs[op.vout]
        return [Source(op, out.value, out.address)]
    if is_txid(target):
        tx = (await chain.txs([target.lower()]))[target.lower()]
        return [
            Source(tx.outpoint(v), o.value, o.address)
            for v, o in enumerate(tx.outputs)
            if o.address is not None
        ]
    from btcwatch.chain.address import Address

    address = str(Address.parse(target, chain.provider.network))
    history = await chain.provider.address_history(address, max_pages=max_pages)
    chain.keep(history)
    if isinstance(history, History) and not history.complete and limits is not None:
        limits.append(history_limit(address, history))
    return [
        Source(tx.outpoint(v), o.value, o.address)
        for tx in history
        for v, o in enumerate(tx.outputs)
        if o.address == address
    ]


def check_request(
    store: Store, provider: Provider, params: TraceParams, case: str | None, targets: Sequence[str]
) -> None:
    """InputError for an unknown case or stop category, or a target that cannot be one."""
    unknown = [c for c in params.stop_at if c not in CATEGORIES]
    if unknown:
        raise InputError(
            f"unknown --stop-at category {unknown[0]!r} (use one of {', '.join(CATEGORIES)})"
        )
    if case is not None:
        get_case(store, case)
    for target in targets:
        text = target.strip()
        if ":" in text:
            OutPoint.parse(text)
        elif not is_txid(text):
            Address.parse(text, provider.network)


def history_limit(address: str, history: History) -> Finding:
    """The record that a source address's history was cut: the trace started from its newest
    payments only."""
    return Finding.of(
        "history_limit",
        "truncated",
        1.0,
        address,
        {"pages_read": history.pages, "txs_read": len(history)},
    )


async def run_trace(
    store: Store,
    provider: Provider,
    params: TraceParams,
    *,
    case: str | None = None,
    targets: Sequence[str] = (),
    log: EvidenceLog | None = None,
    prices: PriceLookup | Valuer | None = None,
) -> tuple[int, Analysis, dict[str, Any]]:
    """Trace and store the run; returns (run id, analysis, JSON summary)."""
    if params.taint not in ("haircut", "poison", "fifo"):
        raise InputError(f"unknown taint policy {params.taint!r} (use haircut, poison or fifo)")
    check_request(store, provider, params, case, targets)  # rejected input stores no run
    chain = CachedChain(provider, store, log)
    before = provider.requests
    run_id = start_run(store, case, list(targets), asdict(params))
    try:
        limits: list[Finding] = []
        sources = await resolve_sources(
            store,
            chain,
            case=case,
            targets=targets,
            max_pages=params.max_history_pages,
            limits=limits,
        )
        flow = await follow(chain, sources, params, tag_index(store))
        flow.findings[:0] = limits
        result = analyse(flow, params)
    except BtcwatchError as exc:
        finish_run(
            store,
            run_id,
            status="failed",
            requests=provider.requests - before,
            summary={"error": str(exc)},
        )
        raise
    if isinstance(prices, Valuer):  # each endpoint at its own hour, asked before valuing
        times = {e.time for e in result.endpoints if e.time and e.taint_sat}
        # ...and every confirmed tx of the flow, so the cache holds what an export (which
        # never fetches) needs to value each edge at its hour.
        times |= {tx.block.time for tx in result.flow.txs.values() if tx.block and tx.block.time}
        prices = await prices.prepare([datetime.fromtimestamp(t, UTC) for t in sorted(times)])
    summary = to_json(
        result, requests=provider.requests - before, run_id=run_id, fiat=entity_fiat(result, prices)
    )
    summary["cache"] = {"fetched_txs": chain.fetched, "cached_txs": chain.cached}
    for row, endpoint in zip(summary["endpoints"], result.endpoints, strict=True):
        fiat = endpoint_fiat(endpoint, prices)
        row["taint_eur"] = fiat.get("EUR")
        row["taint_usd"] = fiat.get("USD")
        used = _eur_price(endpoint, prices) if fiat else None  # which price made the figure
        row["price_time"] = used.price_time if used else None
        row["price_resolution"] = used.resolution if used else None
        row["price_source"] = used.source if used else None
    save_run(store, run_id, result, summary)
    return run_id, result, summary


def endpoint_fiat(e: Endpoint, prices: PriceLookup | None) -> dict[str, str]:
    """The tainted amount of one endpoint in EUR and USD at its own hour's (or day's) price."""
    if prices is None or not e.taint_sat or e.time is None:
        return {}
    day = datetime.fromtimestamp(e.time, UTC)
    values: dict[str, str] = {}
    for currency in ("EUR", "USD"):
        try:
            value, _ = prices.value(e.taint_sat, day, currency)
        except BtcwatchError:
            continue
        values[currency] = str(value)
    return values


def _eur_price(e: Endpoint, prices: PriceLookup | None) -> Price | None:
    if prices is None or e.time is None:
        return None
    try:
        return prices.price(datetime.fromtimestamp(e.time, UTC), "EUR")
    except BtcwatchError:
        return None


def entity_fiat(result: Analysis, prices: PriceLookup | None) -> dict[str, dict[str, str]]:
    """Tainted EUR and USD per entity, each endpoint valued at its own day's price."""
    totals: dict[str, dict[str, Decimal]] = {}
    for e in result.endpoints:
        name = e.entity or ("CoinJoin" if e.reason == StopReason.COINJOIN else None)
        if not name:
            continue
        for currency, value in endpoint_fiat(e, prices).items():
            per = totals.setdefault(name, {})
            per[currency] = per.get(currency, Decimal(0)) + Decimal(value)
    return {k: {c: str(v) for c, v in per.items()} for k, per in sorted(totals.items())}
