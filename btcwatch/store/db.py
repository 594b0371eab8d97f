"""Opening the database so that a cron run and an investigator's CLI can share it safely.

WAL lets readers go on while one process writes; the busy timeout makes a second writer wait
instead of failing; writers take the lock up front with ``BEGIN IMMEDIATE`` so two writers never
deadlock half-way through a transaction.

Commands that only read open with ``read_only=True``: a database that does not exist is an
error (nothing is created), and the file is opened ``mode=ro`` so it is never rewritten (no
switch to WAL, no migration). A database that cannot be written (read-only file, folder or
mount) or that sits in an evidence bundle (``database/`` next to ``MANIFEST.sha256``) is
opened ``immutable=1``: SQLite then takes no locks and creates no -wal/-shm files, so the
bundle stays byte-identical and verifiable.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlite_utils import Database

from btcwatch.errors import InputError, StoreError
from btcwatch.store.schema import migrations

DEFAULT_BUSY_TIMEOUT = 30.0
#: An evidence bundle's manifest; a database in the bundle's database/ folder is never touched.
BUNDLE_MANIFEST = "MANIFEST.sha256"


def must_stay_untouched(path: Path) -> bool:
    """True for a database in an evidence bundle, or one this process cannot write."""
    folder = path.parent
    if folder.name == "database" and (folder.parent / BUNDLE_MANIFEST).is_file():
        return True
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return True
    return not (os.access(path, os.W_OK) and os.access(folder, os.W_OK | os.X_OK))


def connect_read_only(
    target: Path, *, immutable: bool, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
) -> sqlite3.Connection:
    """A ``mode=ro`` connection (``immutable=1``: no locks, no -wal/-shm files); one line on
    failure. The one place the read-only URI is spelled."""
    uri = f"file:{quote(str(target.resolve()))}?mode=ro" + ("&immutable=1" if immutable else "")
    try:
        return sqlite3.connect(uri, uri=True, timeout=busy_timeout, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {target}: {exc}") from exc


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _disk_full(path: Path | str | None) -> bool:
    if path is None:
        return False
    try:
        stat = os.statvfs(Path(path).parent)
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < 256 * 1024


def describe_sqlite_error(exc: sqlite3.Error, path: Path | str | None) -> str | None:
    """One line for a storage condition (disk full, read-only, I/O), or None for other errors."""
    text = str(exc).lower()
    where = str(path) if path is not None else "the database"
    storage = ("disk is full", "readonly", "read-only", "disk i/o error", "unable to open")
    if path is not None and any(s in text for s in storage) and _read_only_fs(Path(path)):
        return f"read-only file system: cannot write {where}"
    if "disk is full" in text:
        return f"disk full writing {where}"
    if "readonly" in text or "read-only" in text:
        return f"read-only database {where}: this command needs to write it"
    if "disk i/o error" in text:  # also what a full disk gives when the -shm cannot grow
        return f"disk full writing {where}" if _disk_full(path) else f"disk I/O error on {where}"
    if "unable to open database" in text:
        return f"cannot open database {where}"
    return None


class Store:
    """The btcwatch database: a sqlite-utils Database plus safe write transactions.

    The Database is private (``_db``): only the modules of ``btcwatch/store/`` use it, other
    rooms call their named functions (``scripts/check_store_access.py`` in ``make lint``).
    """

    def __init__(self, db: Database, path: Path | None = None) -> None:
        self._db = db
        self.path = path

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        read_only: bool = False,
    ) -> Store:
        """Open and migrate the database at ``path``, creating it unless ``read_only``."""
        target = Path(path)
        if read_only:
            return cls._open_read_only(target, busy_timeout)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(target), timeout=busy_timeout, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open database {target}: {exc}") from exc
        return cls._prepare(conn, target, busy_timeout)

    @classmethod
    def _open_read_only(cls, target: Path, busy_timeout: float) -> Store:
        if not target.is_file():
            raise InputError(
                f"no database at {target} (create a case first: btcwatch case create NAME)"
            )
        immutable = must_stay_untouched(target)
        conn = connect_read_only(target, immutable=immutable, busy_timeout=busy_timeout)
        store = cls(Database(conn), target)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            store._check_schema()
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(f"cannot use database {target}: {exc}") from exc
            raise
        if migrations.pending(store._db):
            store.close()
            if immutable:
                raise StoreError(
                    f"database {target} was written by an older btcwatch and cannot be upgraded "
                    "here (read-only or in an evidence bundle); copy it to upgrade it"
                )
            cls.open(target, busy_timeout=busy_timeout).close()  # upgrade, as any writer would
            return cls._open_read_only(target, busy_timeout)
        return store

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
            message = describe_sqlite_error(exc, path) if path is not None else None
            raise StoreError(message or f"cannot use database {path or ':memory:'}: {exc}") from exc
        return store

    def _check_schema(self) -> None:
        """Refuse a database written by a newer btcwatch."""
        known = {m.name for m in migrations._migrations}
        unknown = [m.name for m in migrations.applied(self._db) if m.name not in known]
        if unknown:
            raise StoreError(
                f"database {self.path} was written by a newer btcwatch (migration {unknown[0]})"
            )

    def _migrate(self) -> None:
        """Apply pending migrations; refuse a database written by a newer btcwatch."""
        self._check_schema()
        if migrations.pending(self._db):
            with self.write():
                migrations.apply(self._db)

    @contextmanager
    def write(self) -> Iterator[Database]:
        """One write transaction, taken with BEGIN IMMEDIATE; nested calls join the outer one."""
        conn = self._db.conn
        if conn.in_transaction:
            with self._db.atomic():
                yield self._db
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"database is busy ({exc}); another btcwatch is writing") from exc
        try:
            yield self._db
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                with suppress(sqlite3.Error):  # a full disk may refuse the rollback's journal too
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                message = describe_sqlite_error(exc, self.path)
                if message is not None:  # the watch daemon reports it and retries later
                    raise StoreError(message) from exc
            raise

    def backup_to(self, target: Path) -> None:
        """A consistent copy (``VACUUM INTO`` reads one snapshot) in rollback-journal mode.

        Not WAL: a WAL file cannot be opened read-only where -wal/-shm cannot be created (a
        read-only mount, an evidence copy), and its readers may leave them beside it.
        """
        self._db.conn.execute("VACUUM INTO ?", [str(target)])
        copy = sqlite3.connect(str(target))
        try:
            copy.execute("PRAGMA journal_mode = DELETE")
        finally:
            copy.close()

    def database_for_tests(self) -> Database:
        """TEST-ONLY: the raw sqlite-utils Database, for tests that inspect or damage rows.

        Never called from ``btcwatch/`` (the store-access check in ``make lint`` refuses it).
        """
        return self._db

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


IN_CHUNK = 500  # bound parameters per `IN (...)` query, well under SQLite's limit


def select_in(store: Store, sql: str, keys: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """Rows of ``sql`` for the distinct ``keys`` (sorted), asked ``IN_CHUNK`` at a time.

    ``sql`` holds one ``{}`` where the ``IN (...)`` list of placeholders goes; the one owner
    of the chunked lookup that evidence, proofs and chain data all need.
    """
    wanted = sorted(set(keys))
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start : start + IN_CHUNK]
        marks = ", ".join("?" for _ in chunk)
        yield from store._db.execute(sql.format(marks), chunk).fetchall()
