"""`watch` and `events`: the monitoring commands."""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.markup import escape

from btcwatch.cli.context import (
    EXIT_NEW_EVENTS,
    JsonOption,
    State,
    emit_json,
    info,
    state,
    table,
)
from btcwatch.cli.network import ExplorerOption, ProxyOption, pool_settings, replay_factory
from btcwatch.cli.prices import PricesOption, price_settings, refresh_case_fiat
from btcwatch.errors import BtcwatchError, CaseError, InputError
from btcwatch.event import Kind
from btcwatch.followup import after_cycle
from btcwatch.providers.factory import explorer_rate, parse_explorer_list
from btcwatch.store.cases import get_case
from btcwatch.store.events import list_events
from btcwatch.timefmt import iso_utc
from btcwatch.watch.budget import check_budget, default_budget
from btcwatch.watch.mempool import check_mempool_mode
from btcwatch.watch.push import PUSH_MODES
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
    # The tick's cost (issue 10): see btcwatch/watch/mempool.py, hotset.py and budget.py.
    mempool: str | None = typer.Option(
        None,
        "--mempool",
        help="Block mode: hot (default: ask about watched outputs and the hot set's "
        "addresses), full (read every mempool tx; self-hosted explorers) or off.",
    ),
    no_mempool: bool = typer.Option(False, "--no-mempool", hidden=True),
    hot_set: int | None = typer.Option(
        None, "--hot-set", help="Addresses whose mempool a block-mode tick reads (default 20)."
    ),
    budget: int | None = typer.Option(
        None,
        "--budget",
        help="Requests per tick; the rest waits for the next tick "
        "(default: explorer rate x interval / 2, a cron tick counting as 300 s).",
    ),
    prices: list[str] = PricesOption,
    push: str = typer.Option(
        "auto",
        "--push",
        help="Daemon: poll at once when the explorer's WebSocket reports news "
        "(auto: mempool.space and loopback; on: any Esplora URL; off).",
    ),
) -> None:
    """Poll the watched addresses, store new events, send alerts."""
    if once == (interval is not None):
        raise InputError("give exactly one of --once or --interval SECONDS")
    if interval is not None and not (math.isfinite(interval) and interval > 0):
        raise InputError(f"--interval must be a positive number of seconds, not {interval}")
    if mode not in ("auto", "address", "block"):
        raise InputError(f"unknown --mode {mode!r} (use auto, address or block)")
    if push not in PUSH_MODES:
        raise InputError(f"unknown --push {push!r} (use {', '.join(PUSH_MODES)})")
    st = state(ctx)
    settings = st.settings(
        explorer=tuple(explorer) or None,
        proxy=proxy,
        confirmations=confirmations,
        mempool="off" if no_mempool else mempool,
        hot_set=hot_set,
        budget=budget,
    )
    if settings.confirmations < 1:
        raise InputError("--confirmations must be at least 1")
    check_mempool_mode(settings.mempool)
    check_budget(settings.budget)
    if settings.hot_set < 0:
        raise InputError(f"--hot-set must be 0 or more addresses, not {settings.hot_set}")
    # Bad --alert or --explorer values fail here, before anything is touched.
    make_sinks(alert or ["stderr"], settings)
    factory = replay_factory(settings.explorers)
    explorers = (
        list(settings.explorers)
        if factory is not None
        else [name for spec in settings.explorers for name in parse_explorer_list(spec)]
    )
    if cross_check and len(set(explorers)) < 2:
        raise InputError("--cross-check needs two explorers: give --explorer twice")
    if case is not None:
        _check_case(st, case)
    st.close()  # the watch opens its own connection under the lock
    if settings.budget is not None:
        tick_budget: int | None = settings.budget
    else:
        tick_budget = default_budget(explorer_rate(explorers[0], settings.rate), interval)
    run = WatchRun(
        WatchOptions(
            case,
            mode,
            settings.confirmations,
            from_height,
            mempool=settings.mempool,
            hot_set=settings.hot_set,
            budget=tick_budget,
            follow=follow,
        ),
        after_cycle=after_cycle if follow else None,
        alerts=alert or ["stderr"],
        interval=interval,
        pool=pool_settings(settings, cross_check=cross_check),
        prices=price_settings(settings, prices),
        push=push,
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
        reports = run_watch(
            settings.db,
            run,
            settings,
            on_report=show,
            on_error=failed,
            on_note=info,
            provider_factory=factory,
        )
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
    get_case(st.reader(), case)


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
    return iso_utc(moment)


def _console() -> Console | None:
    """A rich console when a person watches the terminal; None under cron or a pipe."""
    return Console(stderr=True) if sys.stderr.isatty() else None


def events(
    ctx: typer.Context,
    case: str | None = typer.Option(None, "--case", help="Only this case (default: all)."),
    kind: list[str] = typer.Option([], "--kind", help="Only these kinds (repeatable)."),
    since: str | None = typer.Option(
        None, "--since", help="Only events recorded at or after this ISO time (UTC if no zone)."
    ),
    as_json: bool = JsonOption,
    refresh: bool = typer.Option(
        False, "--refresh-fiat", help="First value payments recorded without a price."
    ),
    prices: list[str] = PricesOption,
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
    if refresh:
        info(f"events: {refresh_case_fiat(ctx, prices, case)} payments valued")
    events = list_events(st.reader(), case=case, kinds=kind, since=since_utc)
    rows = [e.as_dict() for e in events]
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
