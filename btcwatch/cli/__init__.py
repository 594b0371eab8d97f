"""The investigator CLI: the only typer user. Each command parses, calls one library function,
and renders; nothing else lives here."""

from __future__ import annotations

from pathlib import Path

import typer

from btcwatch import __version__
from btcwatch.cli import cases, demo, export, prices, report, sim, tags, trace, verify, watch
from btcwatch.cli.context import BtcwatchGroup, State

app = typer.Typer(
    cls=BtcwatchGroup,
    help="btcwatch: watch Bitcoin ransom addresses, follow the money, export the evidence.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"btcwatch {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Path | None = typer.Option(
        None, "--db", envvar="BTCWATCH_DB", help="SQLite database (default: user data dir)."
    ),
    config: Path | None = typer.Option(
        None, "--config", envvar="BTCWATCH_CONFIG", help="TOML settings file."
    ),
    offline: bool = typer.Option(
        False,
        "--offline",
        help="Ask no network price source (only the cache and the bundled table) and fetch no "
        "Merkle proofs; also BTCWATCH_OFFLINE=1 or offline = true in the config. Explorer "
        "commands (watch, trace) still use their explorer.",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """btcwatch: watch Bitcoin ransom addresses, follow the money, export the evidence."""
    ctx.obj = State(config_path=config, db_flag=db, offline_flag=offline)


app.add_typer(cases.case_app, name="case")
app.command("add")(cases.add)
app.command("import")(cases.import_)
app.command("addresses")(cases.addresses)
app.command("watch")(watch.watch)
app.command("events")(watch.events)
app.command("trace")(trace.trace)
app.add_typer(trace.traces_app, name="traces")
app.add_typer(tags.tags_app, name="tags")
app.command("export")(export.export)
app.command("report")(report.report)
app.command("evidence")(report.evidence)
app.command("verify")(verify.verify)
app.add_typer(sim.app, name="sim")
app.add_typer(prices.app, name="prices")
app.command("demo")(demo.demo)


def main() -> None:
    app()
