"""scripts/check_store_access.py (in `make lint`): database access outside btcwatch/store fails."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check_store_access.py"


def check(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_the_real_tree_is_clean() -> None:
    done = check()
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_each_kind_of_database_access_is_reported_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "leaky.py"
    bad.write_text(
        textwrap.dedent(
            """\
            import sqlite3
            import sqlite_utils
            from sqlite_utils.db import Database


            def count(store):
                return store._db.execute("SELECT count(*) FROM events").fetchone()[0]


            def peek(store):
                return store.database_for_tests().table("events").count


            def copy(path):
                return sqlite3.connect(path)


            def sneak(store):
                with store.write() as db:
                    db.conn.executemany("DELETE FROM events", [])
            """
        )
    )
    done = check(bad)
    assert done.returncode == 1
    found = {line.split(": ", 1)[0].rsplit(":", 1)[1] for line in done.stdout.splitlines()}
    assert found == {"2", "3", "7", "11", "15", "19", "20"}
    assert f"{bad}:7: uses the store's private database (._db)" in done.stdout
    assert f"{bad}:7: runs SQL (.execute(...))" in done.stdout
    assert f"{bad}:15: uses sqlite3.connect" in done.stdout
    assert "database access(es) outside btcwatch/store/" in done.stderr


def test_catching_the_driver_errors_is_no_access(tmp_path: Path) -> None:
    fine = tmp_path / "fine.py"
    fine.write_text(
        textwrap.dedent(
            """\
            import sqlite3
            from sqlite3 import OperationalError


            def run(store, work):
                try:
                    with store.write():
                        work(store)
                except (sqlite3.DatabaseError, OperationalError) as exc:
                    return str(exc), sqlite3.sqlite_version
            """
        )
    )
    done = check(fine)
    assert done.returncode == 0, done.stdout


def test_the_store_itself_is_exempt() -> None:
    assert check(ROOT / "btcwatch" / "store").returncode == 0
    assert check(ROOT / "btcwatch" / "store" / "db.py").returncode == 0
