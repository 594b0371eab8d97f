"""CLI helpers: invoke the real app against a temporary database, stdout and stderr apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from btcwatch.cli import app


class Cli:
    def __init__(self, db: Path) -> None:
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, ["--db", str(self.db), *args], input=input, env={})


@pytest.fixture
def cli(db_path: Path) -> Cli:
    return Cli(db_path)
