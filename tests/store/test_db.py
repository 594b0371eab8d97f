"""The store: migrations, WAL, and two processes writing one database at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from btcwatch.errors import StoreError
from btcwatch.store import Store
from btcwatch.store.cases import insert_addresses, insert_case, list_addresses

ROW = {
    "case_name": "x",
    "script_hex": "00",
    "script_type": "p2pkh",
    "role": "ransom",
    "label": "",
    "note": "",
    "demand": None,
    "source": "test",
}

HOLDER = textwrap.dedent(
    """
    import sys, time
    from btcwatch.store import Store
    from btcwatch.store.cases import insert_addresses
    store = Store.open(sys.argv[1])
    with store.write():
        insert_addresses(store, [{**%r, "address": "held-by-other-process"}])
        print("locked", flush=True)
        sys.stdin.readline()   # hold the write lock until the parent says go
    print("committed", flush=True)
    """
)


def test_migrations_are_idempotent_and_wal(db_path: Path) -> None:
    for _ in range(2):
        with Store.open(db_path) as s:
            names = [r["name"] for r in s.database_for_tests().table("_sqlite_migrations").rows]
            assert s.database_for_tests().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert len(names) == len(set(names)) >= 3


def test_newer_schema_is_refused(db_path: Path) -> None:
    with Store.open(db_path) as s:
        s.database_for_tests().table("_sqlite_migrations").insert(
            {"migration_set": "btcwatch", "name": "m999_future", "applied_at": "2099"}
        )
    with pytest.raises(StoreError, match="newer btcwatch"):
        Store.open(db_path)


def test_write_rolls_back_on_error(store: Store) -> None:
    insert_case(store, "x")
    with pytest.raises(RuntimeError), store.write():
        insert_addresses(store, [{**ROW, "address": "a"}])
        raise RuntimeError("boom")
    assert list_addresses(store) == []


def test_second_writer_waits_for_first(db_path: Path) -> None:
    with Store.open(db_path) as s:
        insert_case(s, "x")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER % ROW, str(db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "locked"
    # This process now wants to write; it must wait, not fail, and then both rows exist.
    waiter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
            import sys
            from btcwatch.store import Store
            from btcwatch.store.cases import insert_addresses
            s = Store.open(sys.argv[1])
            print(insert_addresses(s, [{{**{ROW!r}, "address": "written-while-locked"}}]))
            """
            ),
            str(db_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    holder.stdin.write("go\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "committed"
    out, _ = waiter.communicate(timeout=60)
    assert holder.wait(timeout=60) == 0 and waiter.returncode == 0
    assert "written-while-locked" in out
    with Store.open(db_path) as s:
        assert sorted(w.address for w in list_addresses(s)) == [
            "held-by-other-process",
            "written-while-locked",
        ]


def test_busy_writer_gives_up_cleanly(db_path: Path) -> None:
    with Store.open(db_path) as s:
        insert_case(s, "x")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER % ROW, str(db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "locked"
    try:
        impatient = Store.open(db_path, busy_timeout=0.2)
        with pytest.raises(StoreError, match="busy"):
            insert_addresses(impatient, [{**ROW, "address": "never"}])
        impatient.close()
    finally:
        holder.stdin.write("go\n")
        holder.stdin.flush()
        holder.wait(timeout=60)
    with Store.open(db_path) as s:
        assert [w.address for w in list_addresses(s)] == ["held-by-other-process"]
