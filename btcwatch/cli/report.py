"""`report` and `evidence`: a case on one page, and the folder to hand over with it."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from btcwatch.cli.context import State, info, run_async, state
from btcwatch.cli.export import Redact, RedactOption
from btcwatch.cli.network import ExplorerOption, ProxyOption, open_provider
from btcwatch.cli.prices import PricesOption, value_unvalued
from btcwatch.errors import InputError
from btcwatch.fileio import write_atomic
from btcwatch.prices import PriceTable
from btcwatch.proofs import ProofRun, ensure_proofs, known_proofs
from btcwatch.report import FORMATS, check_format, render_report, write_bundle
from btcwatch.report.bundle import case_txids, check_target
from btcwatch.report.gather import pick_run
from btcwatch.store.cases import get_case
from btcwatch.store.db import must_stay_untouched
from btcwatch.store.evidence import EvidenceLog
from btcwatch.text import safe_terminal_text


def _stdout_utf8(text: str) -> None:
    """UTF-8 whatever the locale: a report piped to a file under cron must not fail on '…'."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(text)
    else:
        buffer.write(text.encode("utf-8"))
        buffer.flush()


def report(
    ctx: typer.Context,
    case: str = typer.Option(..., "--case", help="The case to report."),
    fmt: str = typer.Option("md", "--format", help=", ".join(FORMATS) + " (default md)."),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="Write to this file (default: standard output)."
    ),
    trace_id: int | None = typer.Option(
        None, "--trace", help="Report this trace run (default: the case's latest finished one)."
    ),
    prices: list[str] = PricesOption,
    redact: Redact | None = RedactOption,
) -> None:
    """The case on one page: payments, timeline, where the money went, freeze requests."""
    name = check_format(fmt)
    if output is not None and output.is_dir():
        raise InputError(f"{output} is a folder; --output takes a file name")
    if output is not None and not output.parent.is_dir():
        raise InputError(f"cannot write {output}: the folder {output.parent} does not exist")
    value_unvalued(ctx, prices, case)
    text = render_report(
        state(ctx).reader(),
        case,
        name,
        prices=PriceTable.load_default(),
        run_id=trace_id,
        redact=None if redact is None else redact.value,
    )
    if output is None:
        _stdout_utf8(safe_terminal_text(text, lines=True))
        return
    write_atomic(output, text.encode("utf-8"))
    typer.echo(str(output))


def evidence(
    ctx: typer.Context,
    case: str = typer.Option(..., "--case", help="The case to bundle."),
    output: Path = typer.Option(
        ..., "-o", "--output", help="New folder to create (must not exist or be empty)."
    ),
    trace_id: int | None = typer.Option(
        None, "--trace", help="Bundle this trace run (default: the case's latest finished one)."
    ),
    explorer: list[str] = ExplorerOption,
    proxy: str | None = ProxyOption,
    offline: bool = typer.Option(
        False, "--offline", help="Fetch no missing Merkle proofs (they show as not proven)."
    ),
    simulated: bool = typer.Option(
        False, "--simulated", help="The case ran on btcwatch's simulator (regtest proof of work)."
    ),
    prices: list[str] = PricesOption,
) -> None:
    """Write an evidence bundle: reports, graphs, database copy, raw responses, proofs."""
    st = state(ctx)
    # A bundle's database (or one this process cannot write) is read as it is: no proof is
    # derived, fetched or stored, no price filled in, so the file stays byte-identical.
    sealed = must_stay_untouched(st.settings().db)
    if not sealed:
        value_unvalued(ctx, prices, case)
    store = st.reader() if sealed else st.store()
    get_case(store, case)
    check_target(output)
    run = pick_run(store, case, trace_id)
    txids = case_txids(store, case, run.id if run else None)
    if sealed:
        proven = known_proofs(store, txids)
    else:
        offline = offline or st.settings().offline  # the root --offline means the same
        proven = run_async(lambda: _prove(st, txids, offline, explorer, proxy))
    bundle = write_bundle(
        store,
        case,
        output,
        prices=PriceTable.load_default(),
        run_id=trace_id,
        simulated=simulated,
    )
    typer.echo(str(bundle.path))
    trace = f"trace run {bundle.run_id}" if bundle.run_id is not None else "no trace"
    info(
        f"{len(bundle.files)} files, {bundle.responses} raw responses, {trace}; "
        f"{len(proven.proven)} of {len(txids)} transactions proven in a block"
        + (
            f" ({len(proven.unproven)} not: e.g. {_first(proven.unproven)})"
            if proven.unproven
            else ""
        )
        + f"; verify with: btcwatch verify {bundle.path}"
        + f" (or: cd {bundle.path} && sha256sum -c MANIFEST.sha256)"
    )


def _first(unproven: dict[str, str]) -> str:
    txid = min(unproven)
    return f"{txid[:16]}… {unproven[txid]}"


async def _prove(
    st: State, txids: set[str], offline: bool, explorer: list[str], proxy: str | None
) -> ProofRun:
    """Missing Merkle proofs, from stored raw blocks and (unless offline) the explorer."""
    store = st.store()
    if offline:
        return await ensure_proofs(store, txids)
    settings = st.settings(explorer=tuple(explorer) or None, proxy=proxy)
    log = EvidenceLog()
    provider = open_provider(settings, log)
    try:
        return await ensure_proofs(store, txids, provider=provider, log=log)
    finally:
        await provider.aclose()
