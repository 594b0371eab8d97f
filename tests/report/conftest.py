"""A simulated Vastaamo case, watched and traced once per test session, and copies to mutate."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from casebuild import build_case

from btcwatch.prices import PriceTable

VICTIMS = 60


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """(database, ground truth) of the watched and traced case; do not write to it."""
    db = tmp_path_factory.mktemp("case") / "vastaamo.db"
    truth = build_case(db, VICTIMS)
    return db, truth


@pytest.fixture
def case_copy(built: tuple[Path, dict[str, Any]], tmp_path: Path) -> Path:
    """A private copy of the built database, for tests that change it."""
    target = tmp_path / "copy.db"
    with sqlite3.connect(built[0]) as conn:
        conn.execute("VACUUM INTO ?", [str(target)])
    conn.close()
    return target


@pytest.fixture(scope="session")
def prices() -> PriceTable:
    return PriceTable.load_default()
