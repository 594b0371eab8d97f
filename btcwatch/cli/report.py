"""`report` and `evidence`: a case on one page, and the folder to hand over with it."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from btcwatch.cli.context import info, state
from btcwatch.cli.prices import PricesOption, value_unvalued
from btcwatch.errors import InputError
from btcwatch.fileio import write_atomic
from btcwatch.prices import PriceTable
from btcwatch.report import FORMATS, check_format, render_report, write_bundle
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
) -> None:
    """The case on one page: payments, timeline, where the money went, freeze requests."""
    name = check_format(fmt)
    if output is not None and output.is_dir():
        raise InputError(f"{output} is a folder; --output takes a file name")
    if output is not None and not output.parent.is_dir():
        raise InputError(f"cannot write {output}: the folder {output.parent} does not exist")
    value_unvalued(ctx, prices, case)
    text = render_report(
        state(ctx).reader(), case, name, prices=PriceTable.load_default(), run_id=trace_id
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
    prices: list[str] = PricesOption,
) -> None:
    """Write an evidence bundle: reports, graphs, database copy, raw responses, checksums."""
    value_unvalued(ctx, prices, case)
    bundle = write_bundle(
        state(ctx).reader(), case, output, prices=PriceTable.load_default(), run_id=trace_id
    )
    typer.echo(str(bundle.path))
    trace = f"trace run {bundle.run_id}" if bundle.run_id is not None else "no trace"
    info(
        f"{len(bundle.files)} files, {bundle.responses} raw responses, {trace}; "
        f"verify with: cd {bundle.path} && sha256sum -c MANIFEST.sha256"
    )
