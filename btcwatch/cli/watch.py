"""`watch` and `events`: the monitoring commands."""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.markup import escape

from btcwatch.cli.context import EXIT_NEW_EVENTS, State, emit_json, info, state, table
from btcwatch.cli.network import ExplorerOption, ProxyOption
from btcwatch.errors import BtcwatchError, CaseError, InputError
from btcwatch.event import Kind
from btcwatch.followup import after_cycle
from btcwatch.providers.factory import parse_explorer_list
from btcwatch.store.cases import get_case
from btcwatch.store.events import list_events
from btcwatch.watch.runner import CycleReport, WatchOptions
from btcwatch.watch.service import CycleAbandoned, WatchRun, make_sinks, run_watch

EXIT_ALERTS_PENDING = 4  # --exit-code: alerts stayed undelivered (a sink is failing)


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
        False,
        "--exit-code",
        help="Exit 3 when new events were recorded, 4 when alerts stayed undelivered, else 0.",
    ),
    explorer: list[str] = ExplorerOption,
    proxy: str | None = ProxyOption,
    cross_check: bool = typer.Option(
        False, "--cross-check", help="Ask two explorers and record disagreements."
    ),
    from_height: int | None = typer.Option(
        None, "--from-height", help="Block-scan mode: start scanning at this height."
    ),
    follow: bool = typer.Option(
        False,
        "--follow",
        help="When watched money moves: trace it, watch the attacker's next "
        "addresses, raise funds_at_exchange.",
    ),
    mempool: bool = typer.Option(True, "--mempool/--no-mempool", help="Block mode: scan mempool."),
) -> None:
    """Poll the watched addresses, store new events, send alerts."""
    if once == (interval is not None):
        raise InputError("give exactly one of --once or --interval SECONDS")
    if interval is not None and not (math.isfinite(interval) and interval > 0):
        raise InputError(f"--interval must be a positive number of seconds, not {interval}")
    if mode not in ("auto", "address", "block"):
        raise InputError(f"unknown --mode {mode!r} (use auto, address or block)")
    st = state(ctx)
    settings = st.settings(
        explorer=tuple(explorer) or None, proxy=proxy, confirmations=confirmations
    )
    if settings.confirmations < 1:
        raise InputError("--confirmations must be at least 1")
    # Bad --alert or --explorer values fail here, before anything is touched.
    make_sinks(alert or ["stderr"], settings)
    explorers = [name for spec in settings.explorers for name in parse_explorer_list(spec)]
    if cross_check and len(set(explorers)) < 2:
        raise InputError("--cross-check needs two explorers: give --explorer twice")
    if case is not None:
        _check_case(st, case)
    st.close()  # the watch opens its own connection under the lock
    run = WatchRun(
        WatchOptions(case, mode, settings.confirmations, from_height, mempool, follow),
        after_cycle=after_cycle if follow else None,
        alerts=alert or ["stderr"],
        interval=interval,
        explorers=settings.explorers,
        proxy=settings.proxy,
        cross_check=cross_check,
        rate=settings.rate,
        retries=settings.retries,
        network=settings.network,
    )

    console = _console()

    def show(report: CycleReport) -> None:
        if console is None:
            info(report.summary())  # plain lines: cron mail and log files
        else:
            colour = "bold green" if report.events else "dim"
            console.print(f"[{colour}]{escape(report.summary())}[/{colour}]")
        for problem in report.alert_errors:
            info(f"alert not delivered (will retry): {problem}")
        for problem in report.followup_errors:
            info(problem)

    def failed(exc: BtcwatchError) -> None:
        info(f"btcwatch: cycle failed, retrying later: {exc}")

    try:
        reports = run_watch(settings.db, run, settings, on_report=show, on_error=failed)
    except CycleAbandoned as exc:
        info(f"btcwatch: error: {exc}")
        raise typer.Exit(128 + exc.signum) from None
    if exit_code and reports and reports[-1].alert_errors:
        raise typer.Exit(EXIT_ALERTS_PENDING)  # a dead sink outranks news: cron must notice
    if exit_code and any(r.events for r in reports):
        raise typer.Exit(EXIT_NEW_EVENTS)


def _check_case(st: State, case: str) -> None:
    """Unknown case: a one-line error, and no database is created just to say so."""
    if not st.settings().db.exists():
        raise CaseError(f"no case named {case!r} (no database at {st.settings().db} yet)")
    get_case(st.store(), case)


def parse_since(text: str) -> str:
    """``2020-10-24``, ``2020-10-24T08:00``, ``...Z`` or ``...+03:00`` -> the stored UTC form."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"--since wants an ISO date or time, e.g. 2020-10-24 or 2020-10-24T08:00Z, not {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _console() -> Console | None:
    """A rich console when a person watches the terminal; None under cron or a pipe."""
    return Console(stderr=True) if sys.stderr.isatty() else None


def events(
    ctx: typer.Context,
    case: str | None = typer.Option(None, "--case"),
    kind: list[str] = typer.Option([], "--kind", help="Only these kinds (repeatable)."),
    since: str | None = typer.Option(
        None, "--since", help="Only events recorded at or after this ISO time (UTC if no zone)."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List recorded events."""
    valid = {k.value for k in Kind}
    for k in kind:
        if k not in valid:
            raise InputError(f"unknown event kind {k!r} (use one of {', '.join(sorted(valid))})")
    since_utc = parse_since(since) if since is not None else None
    st = state(ctx)
    if case is not None:
        _check_case(st, case)
    rows = list_events(st.store(), case=case, kinds=kind, since=since_utc)
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
