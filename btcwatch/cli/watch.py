"""`watch` and `events`: the monitoring commands."""

from __future__ import annotations

import typer

from btcwatch.cli.context import EXIT_NEW_EVENTS, emit_json, info, state, table
from btcwatch.cli.network import ExplorerOption, ProxyOption
from btcwatch.errors import BtcwatchError, InputError
from btcwatch.event import Kind
from btcwatch.store.cases import get_case
from btcwatch.store.events import list_events
from btcwatch.watch.runner import CycleReport, WatchOptions
from btcwatch.watch.service import WatchRun, run_watch


def watch(
    ctx: typer.Context,
    case: str | None = typer.Option(None, "--case", help="Watch one case (default: all)."),
    once: bool = typer.Option(False, "--once", help="One cycle, then exit (for cron)."),
    interval: float | None = typer.Option(
        None, "--interval", help="Run as a daemon, one cycle every SECONDS."
    ),
    mode: str = typer.Option("auto", "--mode", help="auto, address or block."),
    confirmations: int | None = typer.Option(
        None, "--confirmations", help="Confirmations for payment_confirmed (default 1)."
    ),
    alert: list[str] = typer.Option(
        [], "--alert", help="stderr, jsonl:PATH, webhook:URL, email:ADDRESS (repeatable)."
    ),
    exit_code: bool = typer.Option(
        False, "--exit-code", help="Exit 3 when new events were recorded, 0 when none."
    ),
    explorer: list[str] = ExplorerOption,
    proxy: str | None = ProxyOption,
    cross_check: bool = typer.Option(
        False, "--cross-check", help="Ask two explorers and record disagreements."
    ),
    from_height: int | None = typer.Option(
        None, "--from-height", help="Block-scan mode: start scanning at this height."
    ),
    mempool: bool = typer.Option(True, "--mempool/--no-mempool", help="Block mode: scan mempool."),
) -> None:
    """Poll the watched addresses, store new events, send alerts."""
    if once == (interval is not None):
        raise InputError("give exactly one of --once or --interval SECONDS")
    if interval is not None and interval <= 0:
        raise InputError("--interval must be a positive number of seconds")
    if mode not in ("auto", "address", "block"):
        raise InputError(f"unknown --mode {mode!r} (use auto, address or block)")
    st = state(ctx)
    settings = st.settings(
        explorer=tuple(explorer) or None, proxy=proxy, confirmations=confirmations
    )
    if settings.confirmations < 1:
        raise InputError("--confirmations must be at least 1")
    if case is not None:
        get_case(st.store(), case)
    st.close()  # the watch opens its own connection under the lock
    run = WatchRun(
        WatchOptions(case, mode, settings.confirmations, from_height, mempool),
        alerts=alert or ["stderr"],
        interval=interval,
        explorers=settings.explorers,
        proxy=settings.proxy,
        cross_check=cross_check,
        rate=settings.rate,
        network=settings.network,
    )

    def show(report: CycleReport) -> None:
        info(report.summary())
        for problem in report.alert_errors:
            info(f"alert not delivered (will retry): {problem}")

    def failed(exc: BtcwatchError) -> None:
        info(f"btcwatch: cycle failed, retrying later: {exc}")

    reports = run_watch(settings.db, run, settings, on_report=show, on_error=failed)
    if exit_code and any(r.events for r in reports):
        raise typer.Exit(EXIT_NEW_EVENTS)


def events(
    ctx: typer.Context,
    case: str | None = typer.Option(None, "--case"),
    kind: list[str] = typer.Option([], "--kind", help="Only these kinds (repeatable)."),
    since: str | None = typer.Option(None, "--since", help="ISO time, e.g. 2020-10-21."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List recorded events."""
    valid = {k.value for k in Kind}
    for k in kind:
        if k not in valid:
            raise InputError(f"unknown event kind {k!r} (use one of {', '.join(sorted(valid))})")
    store = state(ctx).store()
    if case is not None:
        get_case(store, case)
    rows = list_events(store, case=case, kinds=kind, since=since)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        row["reverted"] = "REVERTED" if row["reverted_by"] else ""
    table(
        rows,
        [
            "seen_at",
            "kind",
            "case",
            "address",
            "txid",
            "vout",
            "value_sat",
            "height",
            "confirmations",
            "reverted",
        ],
    )
