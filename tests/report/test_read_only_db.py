"""Issue 12 items 2, 7 and 17: commands that only read never change, create or need to write
the database.

- Reading the database of an evidence bundle leaves it byte-identical, so the bundle verifies.
- A read-only database (0444 file, read-only folder, read-only mount) can be listed and reported.
- A read command on a database that does not exist says so (exit 2) and creates nothing.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tmpfs import mounted_tmpfs, remount_read_only
from typer.testing import CliRunner, Result

from btcwatch.cli import app
from btcwatch.store import Store

READ_COMMANDS = [
    ("case", "list"),
    ("case", "show", "vastaamo"),
    ("addresses",),
    ("events",),
    ("traces", "list"),
    ("traces", "show", "1"),
    ("tags", "list"),
    ("report", "--case", "vastaamo"),
    ("export", "--case", "vastaamo", "--format", "json", "-o", "OUT"),
]


def run(db: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--db", str(db), *args], env={})


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_manifest(root: Path) -> None:
    """What `sha256sum -c MANIFEST.sha256` checks, with sha256sum itself when installed."""
    for line in (root / "MANIFEST.sha256").read_text().splitlines():
        digest, name = line.split("  ", 1)
        assert sha(root / name) == digest, f"{name} FAILED"
    if shutil.which("sha256sum"):
        done = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"], cwd=root, capture_output=True)
        assert done.returncode == 0, done.stdout


def companions(db: Path) -> list[str]:
    return sorted(p.name for p in db.parent.iterdir() if p.name.startswith(db.name + "-"))


def args_for(args: tuple[str, ...], out: Path) -> list[str]:
    return [str(out) if a == "OUT" else a for a in args]


def test_reading_an_evidence_bundle_leaves_it_verifiable(case_copy: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "B"
    assert run(case_copy, "evidence", "--case", "vastaamo", "-o", str(bundle)).exit_code == 0
    db = bundle / "database" / "btcwatch.sqlite"
    assert db.read_bytes()[18:20] == b"\x01\x01", "the bundled copy must not be in WAL mode"
    before = sha(db)
    for args in READ_COMMANDS:
        result = run(db, *args_for(args, tmp_path / "flow.json"))
        assert result.exit_code == 0, (args, result.output)
    again = run(db, "evidence", "--case", "vastaamo", "-o", str(tmp_path / "B2"))
    assert again.exit_code == 0, again.output
    assert sha(db) == before
    assert companions(db) == []
    verify_manifest(bundle)
    verify_manifest(tmp_path / "B2")


def test_a_read_command_never_switches_a_live_database_or_migrates_it(
    case_copy: Path, tmp_path: Path
) -> None:
    conn = sqlite3.connect(case_copy)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    before = sha(case_copy)
    assert run(case_copy, "case", "list").exit_code == 0
    assert sha(case_copy) == before
    assert case_copy.read_bytes()[18:20] == b"\x01\x01"


@pytest.mark.parametrize("args", READ_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_read_command_on_a_missing_database_creates_nothing(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    db = tmp_path / "typo" / "dir" / "x.db"
    result = run(db, *args_for(args, tmp_path / "flow.json"))
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().count("\n") == 0
    assert "btcwatch: error:" in result.stderr
    assert "no database at" in result.stderr or "no case named" in result.stderr
    assert not (tmp_path / "typo").exists()
    assert not (tmp_path / "flow.json").exists()


def test_a_write_command_still_creates_the_database(tmp_path: Path) -> None:
    db = tmp_path / "new" / "dir" / "x.db"
    assert run(db, "case", "create", "c1").exit_code == 0
    assert run(db, "case", "list").exit_code == 0
    with Store.open(db, read_only=True) as store:
        assert store.database_for_tests().table("cases").count == 1


def test_read_only_file_and_folder(case_copy: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "copy.db"
    shutil.copy(case_copy, db)
    before = sha(db)
    db.chmod(0o444)
    folder.chmod(0o555)
    try:
        assert run(db, "case", "list").exit_code == 0
        report = run(db, "report", "--case", "vastaamo", "-o", str(tmp_path / "r.md"))
        assert report.exit_code == 0, report.output
        assert sha(db) == before
        assert companions(db) == []
    finally:
        folder.chmod(0o755)


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "mnt", "4m") as point:
        yield point


def test_read_only_mount_of_a_wal_database(
    case_copy: Path, tmp_path: Path, read_only_mount: Path
) -> None:
    """The live database (WAL mode) copied onto a mount that is then made read-only."""
    db = read_only_mount / "case.db"
    shutil.copy(case_copy, db)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    before = sha(db)
    remount_read_only(read_only_mount)
    for args in READ_COMMANDS:
        result = run(db, *args_for(args, tmp_path / "flow.json"))
        assert result.exit_code == 0, (args, result.output)
    report = run(db, "report", "--case", "vastaamo", "--format", "html", "-o", str(tmp_path / "r"))
    assert report.exit_code == 0, report.output
    assert sha(db) == before
    assert companions(db) == []
