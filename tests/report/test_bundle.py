"""The evidence bundle of the simulated Vastaamo case: complete, verifiable, re-openable."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from btcwatch.errors import CaseError, InputError
from btcwatch.report import Bundle, write_bundle
from btcwatch.report.bundle import MANIFEST
from btcwatch.store import Store

Built = tuple[Path, dict[str, Any]]


@pytest.fixture(scope="module")
def bundle(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    out = tmp_path_factory.mktemp("bundle") / "vastaamo-evidence"
    with Store.open(built[0]) as store:
        return write_bundle(store, "vastaamo", out)


def manifest(root: Path) -> dict[str, str]:
    entries = {}
    for line in (root / MANIFEST).read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        entries[name] = digest
    return entries


def test_manifest_covers_every_file_and_verifies(bundle: Bundle) -> None:
    root = bundle.path
    entries = manifest(root)
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert set(entries) == on_disk - {MANIFEST}
    for name, digest in entries.items():
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest, name
    assert {"report.md", "report.html", "report.json", "README.txt"} <= set(entries)
    assert "sha256sum -c MANIFEST.sha256" in (root / "README.txt").read_text()


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="no sha256sum")
def test_sha256sum_accepts_the_manifest(bundle: Bundle) -> None:
    done = subprocess.run(
        ["sha256sum", "--check", "--strict", MANIFEST],
        cwd=bundle.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_tampering_is_detected(bundle: Bundle, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(bundle.path, copy)
    (copy / "report.md").write_text("nothing happened\n", encoding="utf-8")
    bad = [
        name
        for name, digest in manifest(copy).items()
        if hashlib.sha256((copy / name).read_bytes()).hexdigest() != digest
    ]
    assert bad == ["report.md"]


def test_database_copy_opens_with_the_same_events(bundle: Bundle, built: Built) -> None:
    def count(path: Path) -> tuple[int, int, int]:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return tuple(  # type: ignore[return-value]
                conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("events", "evidence", "trace_stops")
            )
        finally:
            conn.close()

    copied = count(bundle.path / "database" / "btcwatch.sqlite")
    assert copied == count(built[0]) and copied[0] > 0


def test_raw_responses_match_their_index_and_the_report(bundle: Bundle) -> None:
    root = bundle.path
    with (root / "responses" / "index.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and list(rows[0]) == ["id", "provider", "url", "fetched_at", "status", "sha256",
                                      "file"]  # fmt: skip
    for row in rows:
        assert row["file"] == f"responses/E{row['id']}-{row['sha256']}.json"
        body = (root / row["file"]).read_bytes()
        assert hashlib.sha256(body).hexdigest() == row["sha256"]
    report = json.loads((root / "report.json").read_text(encoding="utf-8"))
    indexed = {int(r["id"]): r["sha256"] for r in rows}
    for e in report["evidence"]:
        assert indexed[e["id"]] == e["sha256"]
    assert len(rows) == bundle.responses


def test_graph_files_are_listed_in_the_report_and_open(bundle: Bundle) -> None:
    root = bundle.path
    report = json.loads((root / "report.json").read_text(encoding="utf-8"))
    assert report["graph_files"][:4] == [
        "graph/flow.html",
        "graph/flow.graphml",
        "graph/flow.gexf",
        "graph/flow.json",
    ]
    for name in report["graph_files"]:
        assert (root / name).is_file()
    g = nx.read_graphml(root / "graph" / "flow.graphml")
    assert g.number_of_nodes() > 0
    page = (root / "report.html").read_text(encoding="utf-8")
    assert 'href="graph/flow.html"' in page
    assert "graph/flow.html" in (root / "report.md").read_text(encoding="utf-8")


def test_refuses_a_non_empty_folder_and_changes_nothing(built: Built, tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    with Store.open(built[0]) as store, pytest.raises(InputError, match="not an empty folder"):
        write_bundle(store, "vastaamo", out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]  # no partial folder left behind


def test_unknown_case_writes_nothing(built: Built, tmp_path: Path) -> None:
    with Store.open(built[0]) as store, pytest.raises(CaseError):
        write_bundle(store, "nope", tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_copies_a_consistent_snapshot_while_another_process_writes(
    case_copy: Path, tmp_path: Path
) -> None:
    writer = sqlite3.connect(case_copy, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode = WAL")
        before = writer.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        writer.execute("BEGIN IMMEDIATE")
        writer.execute(
            "INSERT INTO events (id, kind, case_name, seen_at, details) "
            "VALUES ('uncommitted', 'funds_moved', 'vastaamo', '2030-01-01T00:00:00Z', '{}')"
        )
        out = tmp_path / "b"
        with Store.open(case_copy, busy_timeout=1) as store:
            bundle = write_bundle(store, "vastaamo", out)
        writer.execute("COMMIT")
    finally:
        writer.close()
    copy = sqlite3.connect(bundle.path / "database" / "btcwatch.sqlite")
    try:
        assert copy.execute("SELECT COUNT(*) FROM events").fetchone()[0] == before
    finally:
        copy.close()


def test_empty_folder_is_accepted_and_no_trace_means_no_graph(
    case_copy: Path, tmp_path: Path
) -> None:
    conn = sqlite3.connect(case_copy)
    with conn:
        for table in ("trace_txs", "trace_sources", "trace_stops", "trace_findings", "trace_runs"):
            conn.execute(f"DELETE FROM {table}")
    conn.close()
    out = tmp_path / "empty"
    out.mkdir()
    with Store.open(case_copy) as store:
        bundle = write_bundle(store, "vastaamo", out, generated_at="2020-11-01T09:00:00Z")
    assert bundle.run_id is None and not (out / "graph").exists()
    assert "No trace has been run" in (out / "report.md").read_text(encoding="utf-8")
    assert "Generated 2020-11-01T09:00:00Z." in (out / "README.txt").read_text()
    assert bundle.responses > 0
