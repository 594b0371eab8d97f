"""`trace` and `traces`: follow the money and revisit earlier runs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import typer

from btcwatch.cli.context import JsonOption, emit_json, info, say, state, table
from btcwatch.cli.network import ExplorerOption, ProxyOption, open_provider
from btcwatch.cli.prices import PricesOption, price_settings
from btcwatch.errors import InputError
from btcwatch.money import btc, parse_amount
from btcwatch.proofs import ensure_proofs
from btcwatch.store.evidence import EvidenceLog
from btcwatch.store.traces import get_run, list_runs, run_txids
from btcwatch.trace.follow import (
    DEFAULT_HISTORY_PAGES,
    DEFAULT_MAX_TXS,
    DEFAULT_STOP_AT,
    TraceParams,
)
from btcwatch.trace.run.service import run_trace
from btcwatch.valuation import Valuer

traces_app = typer.Typer(help="List and inspect stored trace runs.", no_args_is_help=True)


def _min_value(text: str | None) -> int:
    if not text:
        return 0
    amount = parse_amount(text)
    if amount.is_fiat:
        raise InputError("--min-value takes BTC or sat amounts, e.g. 0.001BTC or 10000sat")
    return amount.to_sats()


def trace(
    ctx: typer.Context,
    targets: list[str] = typer.Argument(None, help="ADDRESS, TXID or TXID:VOUT to start from."),
    case: str | None = typer.Option(None, "--case", help="Start from a case's ransom payments."),
    hops: int = typer.Option(12, "--hops", help="Follow at most this many transactions deep."),
    min_value: str | None = typer.Option(
        None, "--min-value", help="Ignore outputs below, e.g. 0.001BTC or 10000sat."
    ),
    max_fanout: int = typer.Option(
        20, "--max-fanout", help="Stop at txs with more outputs (batch payouts of services)."
    ),
    max_txs: int = typer.Option(
        DEFAULT_MAX_TXS, "--max-txs", help="Stop once the trail holds this many transactions."
    ),
    history_pages: int = typer.Option(
        DEFAULT_HISTORY_PAGES,
        "--history-pages",
        help="Read at most this many history pages of an ADDRESS to start from.",
    ),
    taint: str = typer.Option("haircut", "--taint", help="haircut, poison or fifo."),
    stop_at: list[str] = typer.Option(
        [],
        "--stop-at",
        help="Tag categories that end a branch "
        f"(repeatable; default {', '.join(DEFAULT_STOP_AT)}).",
    ),
    explorer: list[str] = ExplorerOption,
    proxy: str | None = ProxyOption,
    as_json: bool = JsonOption,
    prices: list[str] = PricesOption,
) -> None:
    """Follow the money forward from ransom payments, addresses or transactions."""
    if case is None and not targets:
        raise InputError(
            "nothing to trace: give --case NAME, or one or more ADDRESS, TXID or TXID:VOUT"
        )
    if case is not None and targets:
        raise InputError("give either --case NAME or addresses/txids to trace, not both")
    if min(hops, max_fanout, max_txs, history_pages) < 1:
        raise InputError("--hops, --max-fanout, --max-txs and --history-pages must be at least 1")
    params = TraceParams(
        hops,
        _min_value(min_value),
        max_fanout,
        taint,
        tuple(stop_at) or DEFAULT_STOP_AT,
        max_txs,
        history_pages,
    )
    _trace_and_show(ctx, params, case, targets or [], explorer, proxy, as_json, prices)


def _trace_and_show(
    ctx: typer.Context,
    params: TraceParams,
    case: str | None,
    targets: list[str],
    explorer: list[str],
    proxy: str | None,
    as_json: bool,
    prices: Sequence[str] = (),
) -> None:
    """Run one trace with the command's explorers, then print the summary or its JSON."""
    st = state(ctx)
    settings = st.settings(explorer=tuple(explorer) or None, proxy=proxy)
    log = EvidenceLog()

    async def go() -> dict[str, Any]:
        provider = open_provider(settings, log)
        valuer = Valuer(price_settings(settings, prices), st.store())
        try:
            run_id, _, summary = await run_trace(
                st.store(),
                provider,
                params,
                case=case,
                targets=targets,
                log=log,
                prices=valuer,
            )
            # Trace end is when the explorer is known to answer: prove what the run relies on
            # (under --offline only from stored raw blocks: no proof is fetched).
            await ensure_proofs(
                st.store(),
                run_txids(st.store(), run_id),
                provider=None if settings.offline else provider,
                log=log,
            )
        finally:
            await provider.aclose()
            await valuer.aclose()
        return summary

    summary = asyncio.run(go())
    if as_json:
        emit_json(summary)
    else:
        print_summary(summary)


def print_summary(s: dict[str, Any]) -> None:
    """The readable trace summary: entities, peel chain, CoinJoins, clusters, stops."""
    say(
        f"trace run {s['run_id']}: {len(s['sources'])} sources, "
        f"{btc(s['source_total_sat'])}, {s['txs']} txs, {s['hops']} hops, "
        f"{s['requests']} explorer requests"
    )
    say("where the money went (tainted, " + s["params"]["taint"] + "):")
    for entity, sats in s["entities"].items():
        eur = s.get("entities_fiat", {}).get(entity, {}).get("EUR")
        say(f"  {entity}: {btc(sats)}" + (f" ({eur} EUR)" if eur else ""))
    for chain in s["peel_chains"]:
        say(
            f"peel chain from {chain['start_txid']}: {chain['hops']} peels, "
            f"{btc(chain['total_peeled_sat'])} peeled"
        )
    for txid in s["coinjoins"]:
        say(f"CoinJoin reached: {txid} (trail stops)")
    for cluster in s["clusters"]:
        if len(cluster["addresses"]) > 2:
            say(f"cluster of {len(cluster['addresses'])} addresses around {cluster['id']}")
    reasons: dict[str, int] = {}
    for e in s["endpoints"]:
        reasons[e["reason"]] = reasons.get(e["reason"], 0) + 1
    say("stops: " + ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())))


@traces_app.command("list")
def traces_list(
    ctx: typer.Context,
    case: str | None = typer.Option(None, "--case", help="Only this case's runs (default: all)."),
    as_json: bool = JsonOption,
) -> None:
    """List trace runs."""
    rows = [
        {
            "id": r.id,
            "case": r.case,
            "status": r.status,
            "started_at": r.started_at,
            "requests": r.requests,
            "txs": r.summary.get("txs"),
            "entities": r.summary.get("entities", {}),
        }
        for r in list_runs(state(ctx).reader(), case)
    ]
    if as_json:
        emit_json(rows)
    else:
        table(rows, ["id", "case", "status", "started_at", "requests", "txs"])


@traces_app.command("show")
def traces_show(
    ctx: typer.Context,
    run_id: int = typer.Argument(..., help="The run's id (see traces list)."),
    as_json: bool = JsonOption,
) -> None:
    """Show a stored trace run's summary."""
    run = get_run(state(ctx).reader(), run_id)
    if not run.summary.get("endpoints") and run.status != "done":
        info(f"trace run {run_id} is {run.status}: {run.summary.get('error', '')}")
        return
    if as_json:
        emit_json(run.summary)
    else:
        print_summary(run.summary)


@traces_app.command("rerun")
def traces_rerun(
    ctx: typer.Context,
    run_id: int = typer.Argument(..., help="The run to repeat (see traces list)."),
    explorer: list[str] = ExplorerOption,
    proxy: str | None = ProxyOption,
    as_json: bool = JsonOption,
) -> None:
    """Trace again with a stored run's sources and parameters (new spends are picked up)."""
    run = get_run(state(ctx).store(), run_id)
    params = TraceParams.from_dict(run.params)
    _trace_and_show(ctx, params, run.case, run.sources, explorer, proxy, as_json)
