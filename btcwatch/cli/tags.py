"""`tags import` and `tags list`: attribution an investigator brings or ships."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from btcwatch.cli.context import JsonOption, emit_json, info, state, table
from btcwatch.store.tags import list_tags, save_tags
from btcwatch.tags import read_tags

tags_app = typer.Typer(help="Import and list attribution tags.", no_args_is_help=True)


@tags_app.command("import")
def tags_import(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(
        ..., help="GraphSense TagPack YAML or CSV (address,label,category,source,confidence)."
    ),
) -> None:
    """Import tags; every tag keeps its source and confidence."""
    store = state(ctx).store()
    parsed = [(path, read_tags(path)) for path in files]  # all files valid before any write
    for path, pack in parsed:
        for s in pack.skipped:
            if s.is_mistake:
                where = f"{path}:{s.line}" if s.line else f"{path} tag #{s.number}"
                info(f"warning: {where}: skipped {s.address!r}: {s.detail}")
        added, present = save_tags(store, list(pack.tags))
        other = sum(1 for s in pack.skipped if not s.is_mistake)
        info(
            f"{path.name}: added {added}, already present {present}"
            + (f", {other} entries of other chains skipped" if other else "")
        )


@tags_app.command("list")
def tags_list(
    ctx: typer.Context,
    category: str | None = typer.Option(
        None, "--category", help="Only this category, e.g. exchange or mixer."
    ),
    address: str | None = typer.Option(None, "--address", help="Only the tags of this address."),
    as_json: bool = JsonOption,
) -> None:
    """List imported tags."""
    tags = list_tags(
        state(ctx).reader(), category=category, addresses=[address] if address else None
    )
    rows = [asdict(t) for t in tags]
    if as_json:
        emit_json(rows)
    else:
        table(rows, ["address", "label", "category", "entity", "confidence", "source"])
