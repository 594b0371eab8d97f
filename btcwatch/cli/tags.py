"""`tags import` and `tags list`: attribution an investigator brings or ships."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from btcwatch.cli.context import emit_json, info, state, table
from btcwatch.store.tags import list_tags, save_tags
from btcwatch.tags import load_tags

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
    parsed = [(path, load_tags(path)) for path in files]  # all files valid before any write
    for path, tags in parsed:
        added, present = save_tags(store, tags)
        info(f"{path.name}: added {added}, already present {present}")


@tags_app.command("list")
def tags_list(
    ctx: typer.Context,
    category: str | None = typer.Option(None, "--category"),
    address: str | None = typer.Option(None, "--address"),
    as_json: bool = typer.Option(False, "--json"),
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
