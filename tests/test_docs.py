"""Every CLI command is documented in the README with an example, and has help text."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from btcwatch.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def commands() -> list[tuple[str, object]]:
    root = typer.main.get_command(app)
    found = []
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        sub = getattr(cmd, "commands", None)
        if sub:
            found.extend((f"{name} {child}", c) for child, c in sub.items())
        else:
            found.append((name, cmd))
    return sorted(found)


@pytest.mark.parametrize(("name", "cmd"), commands(), ids=[n for n, _ in commands()])
def test_command_documented_with_example(name: str, cmd: object) -> None:
    assert f"`{name}" in README, f"README has no row for `{name}`"
    assert f"btcwatch {name}" in README, f"README has no example of `btcwatch {name}`"
    assert getattr(cmd, "help", None), f"{name} has no help text"


def test_readme_shows_the_two_commands() -> None:
    assert "make demo" in README and "make test" in README
