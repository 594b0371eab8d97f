"""Where shipped data lives: the top-level data/ folder, reached through btcwatch/data (a link)."""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


def data_file(*parts: str) -> Path:
    """A file under data/, e.g. ``data_file("prices", "btc_eur_daily.csv")``."""
    return DATA_DIR.joinpath(*parts)
