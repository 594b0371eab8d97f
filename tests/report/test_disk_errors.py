"""Issue 12 items 9 and 11: a full disk or a read-only file system is one line, exit 1, and
leaves no half-written file; odd --out targets and config files are one line too.

Full and read-only disks are real: a small tmpfs (skipped where it cannot be mounted), and a
file size limit (RLIMIT_FSIZE) in a subprocess, which runs everywhere.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tmpfs import fill, mounted_tmpfs, remount_read_only
from typer.testing import CliRunner, Result

from btcwatch.cli import app
from btcwatch.intake import add_addresses, create_case
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.store import Store
from btcwatch.store.events import list_events


def run(db: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--db", str(db), *args], env={"BTCWATCH_RETRIES": "1"})


def one_line(result: Result, start: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"btcwatch: error: {start}"), result.stderr
    assert "Traceback" not in result.output


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "disk", "2m") as point:
        yield point


@pytest.mark.parametrize("fmt", ["html", "graphml", "json", "csv"])
def test_export_to_a_full_disk(case_copy: Path, small_disk: Path, fmt: str) -> None:
    fill(small_disk, 16 * 1024)
    target = small_disk / f"flow.{fmt}"
    result = run(case_copy, "export", "--case", "vastaamo", "--format", fmt, "-o", str(target))
    one_line(result, "disk full writing")
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def test_report_and_evidence_to_a_full_disk(case_copy: Path, small_disk: Path) -> None:
    fill(small_disk, 16 * 1024)
    report = small_disk / "report.html"
    one_line(
        run(case_copy, "report", "--case", "vastaamo", "--format", "html", "-o", str(report)),
        "disk full writing",
    )
    result = run(case_copy, "evidence", "--case", "vastaamo", "-o", str(small_disk / "B"))
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output
    assert "full" in result.stderr
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def test_outputs_to_a_read_only_file_system(case_copy: Path, small_disk: Path) -> None:
    remount_read_only(small_disk)
    for args in (
        ("export", "--case", "vastaamo", "--format", "graphml", "-o", str(small_disk / "f")),
        ("report", "--case", "vastaamo", "-o", str(small_disk / "r.md")),
    ):
        one_line(run(case_copy, *args), "read-only file system")
    result = run(case_copy, "evidence", "--case", "vastaamo", "-o", str(small_disk / "B"))
    one_line(result, "read-only file system")
    assert list(small_disk.iterdir()) == []


def test_an_existing_output_is_replaced_whole_or_kept(case_copy: Path, small_disk: Path) -> None:
    """A failed export leaves the previous file exactly as it was."""
    target = small_disk / "flow.html"
    assert run(case_copy, "export", "--case", "vastaamo", "--format", "html", "-o", str(target))
    before = target.read_bytes()
    fill(small_disk, 16 * 1024)
    result = run(case_copy, "export", "--case", "vastaamo", "--format", "html", "-o", str(target))
    one_line(result, "disk full writing")
    assert target.read_bytes() == before


def _fsize_limit() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_file_size_limit_export_is_one_line(case_copy: Path, tmp_path: Path) -> None:
    target = tmp_path / "flow.html"
    done = subprocess.run(
        [sys.executable, "-m", "btcwatch", "--db", str(case_copy), "export", "--case",
         "vastaamo", "--format", "html", "-o", str(target)],
        capture_output=True,
        preexec_fn=_fsize_limit,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.decode().startswith("btcwatch: error: file too large writing")
    assert done.stderr.count(b"\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.db"]


@pytest.fixture(scope="module")
def chain() -> Iterator[tuple[str, dict[str, Any]]]:
    """(explorer URL, ground truth) of a small finished Vastaamo chain on loopback."""
    scenario = vastaamo(victims=10, seed=1, background=1)
    with SimServer(SimChain.from_scenario(scenario, tip="end")) as server:
        yield server.url, scenario.ground_truth()


def _fresh_case(db: Path, truth: dict[str, Any]) -> None:
    with Store.open(db) as store:
        create_case(store, "vastaamo")
        add_addresses(store, "vastaamo", [r["address"] for r in truth["ransom_addresses"]])


def _watch(db: Path, url: str) -> Result:
    return run(db, "watch", "--once", "--mode", "address", "--explorer", url, "--alert", "stderr")


@pytest.mark.parametrize("room", [4 * 1024, 96 * 1024], ids=["at-open", "mid-tick"])
def test_watch_on_a_full_disk_is_one_line_and_resumes(
    small_disk: Path, tmp_path: Path, chain: tuple[str, dict[str, Any]], room: int
) -> None:
    db = small_disk / "case.db"
    _fresh_case(db, chain[1])
    fill(small_disk, room)
    one_line(_watch(db, chain[0]), f"disk full writing {db}")
    (small_disk / "filler").unlink()
    result = _watch(db, chain[0])
    assert result.exit_code == 0, result.output
    control = tmp_path / "control.db"  # the same tick on a disk with room
    _fresh_case(control, chain[1])
    assert _watch(control, chain[0]).exit_code == 0
    assert _events(db) == _events(control)
    assert any(kind == "payment_received" for kind, _, _ in _events(db))


def _events(db: Path) -> set[tuple[str, str, int]]:
    with Store.open(db, read_only=True) as store:
        return {(e.kind, e.txid, e.vout) for e in list_events(store, case="vastaamo")}


def test_watch_on_a_read_only_file_system_is_one_line(
    small_disk: Path, chain: tuple[str, dict[str, Any]]
) -> None:
    db = small_disk / "case.db"
    _fresh_case(db, chain[1])
    remount_read_only(small_disk)
    one_line(_watch(db, chain[0]), "read-only file system: cannot write")
    one_line(run(db, "case", "create", "c2"), f"read-only file system: cannot write {db}")


def test_existing_files_as_output_folders_and_bad_config(tmp_path: Path) -> None:
    existing = tmp_path / "afile"
    existing.write_text("keep me\n")
    db = tmp_path / "x.db"
    for args in (
        ("sim", "generate", "-o", str(existing), "--victims", "3"),
        ("demo", "--out", str(existing)),
    ):
        result = run(db, *args)
        assert result.exit_code == 2, result.output
        assert result.stderr.endswith(
            f"btcwatch: error: {existing} is a file; --out takes a folder\n"
        )
    assert existing.read_text() == "keep me\n"
    config = tmp_path / "bad.toml"
    config.write_bytes(b'explorers = ["mempool"]\n# caf\xe9\n')
    result = CliRunner().invoke(app, ["--config", str(config), "--db", str(db), "case", "list"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"btcwatch: error: cannot read config file {config}: not UTF-8 text (byte 29 is 0xe9)\n"
    )
