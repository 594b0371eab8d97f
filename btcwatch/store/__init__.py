"""SQLite storage: the only user of sqlite-utils. Every fact keeps the evidence it came from."""

from btcwatch.store.db import Store

__all__ = ["Store"]
