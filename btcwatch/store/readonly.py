"""Opening a database that must not change: an evidence bundle's copy, read by ``verify``.

SQLite's ``immutable`` URI flag opens the file without locks, journal or WAL, and
``mode=ro`` refuses every write; nothing is migrated. A file that is not a btcwatch database,
or one written by a newer btcwatch, is a StoreError in one line.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from btcwatch.errors import StoreError
from btcwatch.store.db import Store, connect_read_only
from btcwatch.store.schema import migrations


def open_immutable(path: str | Path) -> Store:
    """The database at ``path``, read-only and immutable, checked to be whole and known."""
    target = Path(path).resolve()
    if not target.is_file():
        raise StoreError(f"cannot open database {path}: no such file")
    conn = connect_read_only(target, immutable=True)
    try:
        check = conn.execute("PRAGMA quick_check").fetchone()
        if not check or check[0] != "ok":
            raise StoreError(f"database {path} is damaged: {check[0] if check else 'no answer'}")
        db = Database(conn)
        known = {m.name for m in migrations._migrations}
        applied = [m.name for m in migrations.applied(db)]
        unknown = [name for name in applied if name not in known]
        if unknown:
            raise StoreError(f"database {path} was written by a newer btcwatch ({unknown[0]})")
        if not applied:
            raise StoreError(f"{path} is not a btcwatch database")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"cannot read database {path}: {exc}") from exc
    except StoreError:
        conn.close()
        raise
    return Store(db, target)


def recorded_answers(store: Store) -> list[tuple[str, str, str, int, str, bytes]]:
    """Every archived response, oldest first: (provider, url, fetched_at, status, sha256, body)."""
    rows = store._db.execute(
        "SELECT provider, url, fetched_at, status, sha256, body FROM evidence ORDER BY id"
    ).fetchall()
    return [(str(p), str(u), str(f), int(s), str(h), bytes(b)) for p, u, f, s, h, b in rows]
