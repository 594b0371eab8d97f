"""Shared fixtures: a temporary database, the CLI runner, the real data folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from btcwatch.store import Store

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def offline_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may ask mempool.space or Kraken for a price: the default sources are online.

    A test that wants a price source sets BTCWATCH_PRICES (or --prices) to the simulator's URL.
    """
    monkeypatch.setenv("BTCWATCH_PRICES", "offline")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "case.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = Store.open(db_path)
    yield s
    s.close()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA
