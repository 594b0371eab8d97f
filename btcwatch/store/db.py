"""Opening the database so that a cron run and an investigator's CLI can share it safely.

WAL lets readers go on while one process writes; the busy timeout makes a second writer wait
instead of failing; writers take the lock up front with ``BEGIN IMMEDIATE`` so two writers never
deadlock half-way through a transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from btcwatch.errors import StoreError
from btcwatch.store.schema import migrations

DEFAULT_BUSY_TIMEOUT = 30.0


def utc_now() -> str:
    """The timestamp format used in every table: ISO 8601, UTC, second precision."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """The btcwatch database: a sqlite-utils Database plus safe write transactions."""

    def __init__(self, db: Database, path: Path | None = None) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: str | Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Store:
        """Open (creating if needed) and migrate the database at ``path``."""
        target = Path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(target), timeout=busy_timeout, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open database {target}: {exc}") from exc
        return cls._prepare(conn, target, busy_timeout)

    @classmethod
    def memory(cls) -> Store:
        """An in-memory store, for tests and dry runs."""
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        return cls._prepare(conn, None, DEFAULT_BUSY_TIMEOUT)

    @classmethod
    def _prepare(cls, conn: sqlite3.Connection, path: Path | None, timeout: float) -> Store:
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            if path is not None:
                previous = conn.isolation_level
                conn.isolation_level = None  # journal_mode cannot change inside a transaction
                conn.execute("PRAGMA journal_mode = WAL")
                conn.isolation_level = previous
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            store = cls(Database(conn), path)
            store._migrate()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"cannot use database {path or ':memory:'}: {exc}") from exc
        return store

    def _migrate(self) -> None:
        """Apply pending migrations; refuse a database written by a newer btcwatch."""
        known = {m.name for m in migrations._migrations}
        unknown = [m.name for m in migrations.applied(self.db) if m.name not in known]
        if unknown:
            raise StoreError(
                f"database {self.path} was written by a newer btcwatch (migration {unknown[0]})"
            )
        if migrations.pending(self.db):
            with self.write():
                migrations.apply(self.db)

    @contextmanager
    def write(self) -> Iterator[Database]:
        """One write transaction, taken with BEGIN IMMEDIATE; nested calls join the outer one."""
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():
                yield self.db
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"database is busy ({exc}); another btcwatch is writing") from exc
        try:
            yield self.db
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
