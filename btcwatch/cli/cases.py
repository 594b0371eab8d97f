"""Cases and watchlists: `case create|list|show`, `add`, `import`, `addresses`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from btcwatch.case import Role
from btcwatch.cli.context import JsonOption, emit_json, info, say, state, table
from btcwatch.intake import add_addresses, create_case, import_files
from btcwatch.store.cases import count_addresses, get_case, list_addresses, list_cases

case_app = typer.Typer(
    help="Create and inspect cases (one per investigation).", no_args_is_help=True
)


@case_app.command("create")
def case_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Short name, e.g. vastaamo."),
    title: str = typer.Option("", "--title", help="A human title for reports."),
    note: str = typer.Option("", "--note", help="Free text: source of the case, contacts."),
    network: str = typer.Option("mainnet", "--network", help="mainnet, testnet, signet, regtest."),
) -> None:
    """Create a case."""
    case = create_case(state(ctx).store(), name, title=title, note=note, network=network)
    info(f"created case {case.name}")


@case_app.command("list")
def case_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List cases with their address counts."""
    store = state(ctx).reader()
    rows = []
    for case in list_cases(store):
        counts = count_addresses(store, case.name)
        rows.append({**asdict(case), "addresses": sum(counts.values())})
    if as_json:
        emit_json(rows)
    else:
        table(rows, ["name", "title", "network", "addresses", "created_at"])


@case_app.command("show")
def case_show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The case's short name."),
    as_json: bool = JsonOption,
) -> None:
    """Show one case: its details and addresses per role."""
    store = state(ctx).reader()
    case = get_case(store, name)
    data = {**asdict(case), "addresses_by_role": count_addresses(store, name)}
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        say(f"{key}: {_words(value)}")


def _words(value: object) -> str:
    """A dict or list as words (``ransom 300, attacker 1``), never Python's repr."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in sorted(value.items())) or "none"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "none"
    return "" if value is None else str(value)


def add(
    ctx: typer.Context,
    addresses: list[str] = typer.Argument(..., help="One or more Bitcoin addresses."),
    case: str = typer.Option(..., "--case", help="The case to add them to."),
    label: str | None = typer.Option(
        None, "--label", help="e.g. 'victim 17 ransom address'; '' removes it."
    ),
    role: str | None = typer.Option(
        None, "--role", help="ransom (default), attacker, victim, exchange, other."
    ),
    demand: str | None = typer.Option(
        None,
        "--demand",
        help="What was demanded: 200EUR, 0.05BTC, 150000sat, or '200EUR then 500EUR after 24h'.",
    ),
    note: str | None = typer.Option(None, "--note", help="Free text; '' removes it."),
) -> None:
    """Add addresses to a case, or change the label, role, demand or note of ones already there.

    All valid, or nothing is written.
    """
    result = add_addresses(
        state(ctx).store(),
        case,
        addresses,
        role=Role.parse(role) if role is not None else None,
        label=label,
        note=note,
        demand=demand,
    )
    info(
        f"added {len(result.added)}, updated {len(result.updated)}, "
        f"already present {len(result.present)}"
    )


def import_(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="Ransom e-mails, .eml, CSV, text dumps."),
    case: str = typer.Option(..., "--case", help="The case to add them to."),
    role: str = typer.Option(
        "ransom", "--role", help="ransom (default), attacker, victim, exchange, other."
    ),
    label: str = typer.Option("", "--label", help="One label for every address found."),
    demand: str | None = typer.Option(
        None, "--demand", help="What was demanded, e.g. '200EUR then 500EUR after 24h'."
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Exit 2, adding nothing, when a file holds no address."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Extract every address from files (e-mail parts decoded) and add the valid ones."""
    result = import_files(
        state(ctx).store(),
        case,
        files,
        role=Role.parse(role),
        label=label,
        demand=demand,
        strict=strict,
    )
    if as_json:
        emit_json(result.as_dict())
    for candidate, reason in result.rejected:
        info(f"rejected {candidate}: {reason}")
    for path in result.empty:
        info(f"warning: no Bitcoin address found in {path}")
    info(
        f"added {len(result.added)}, already present {len(result.present)}, "
        f"rejected {len(result.rejected)}"
    )


def addresses(
    ctx: typer.Context,
    case: str | None = typer.Option(None, "--case", help="Only this case (default: all)."),
    as_json: bool = JsonOption,
) -> None:
    """List watched addresses."""
    store = state(ctx).reader()
    if case is not None:
        get_case(store, case)
    rows = [asdict(w) for w in list_addresses(store, case)]
    if as_json:
        emit_json(rows)
    else:
        table(rows, ["case", "address", "role", "label", "demand", "source"])
