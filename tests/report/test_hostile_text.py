"""Issue 12 item 1: control characters already stored in labels and tags break no output.

A database written before the input rule (or edited by hand) holds a watch label with a vertical
tab and terminal sequences, and tags whose label and entity carry ``ESC ] 52`` (clipboard write)
and ``ESC ] 0 ; title BEL``. Every export format, the reports, the evidence bundle and every
command that prints stored text must work, show the characters as escapes, and never emit
ESC, BEL or a C1 control.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from btcwatch.cli import app
from btcwatch.export import FORMATS

LABEL = "patient\x0brecord \x1b]0;owned\x07"
TAG_LABEL = "evil\x1b]52;c;aGk=\x07"
ENTITY = "Polarex\x1b]0;title\x07\x9b\u202e"
FORBIDDEN = (b"\x1b", b"\x07", b"\x0b", "\x9b".encode(), "\u202e".encode())


@pytest.fixture
def poisoned(case_copy: Path) -> Path:
    with sqlite3.connect(case_copy) as conn:
        conn.execute("UPDATE addresses SET label = ?, note = ?", [LABEL, LABEL])
        conn.execute("UPDATE cases SET title = ?, note = ?", [LABEL, TAG_LABEL])
        conn.execute("UPDATE tags SET label = ?, entity = ?", [TAG_LABEL, ENTITY])
        conn.execute("UPDATE trace_stops SET entity = ? WHERE entity = 'Polarex'", [ENTITY])
        summary = json.loads(conn.execute("SELECT summary FROM trace_runs").fetchone()[0])
        summary["entities"] = {ENTITY: 1000, **summary["entities"]}
        conn.execute("UPDATE trace_runs SET summary = ?", [json.dumps(summary)])
    conn.close()
    return case_copy


def run(db: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--db", str(db), *args], env={})


def assert_clean(data: bytes) -> None:
    for bad in FORBIDDEN:
        assert bad not in data, f"{bad!r} reached the output"


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "svg"])
def test_every_export_format_writes_the_label_visibly(
    poisoned: Path, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"flow.{fmt}"
    result = run(poisoned, "export", "--case", "vastaamo", "--format", fmt, "-o", str(out))
    assert result.exit_code == 0, result.output
    files = sorted(out.iterdir()) if out.is_dir() else [out]
    data = b"".join(p.read_bytes() for p in files)
    assert_clean(data)
    if fmt in ("graphml", "gexf"):
        assert b"patient\\x0brecord \\x1b]0;owned\\x07" in data
        assert b"Polarex\\x1b]0;title\\x07\\x9b\\u202e" in data
    if fmt == "json":
        graph = json.loads(data)
        labels = {n.get("label") for n in graph["nodes"]}
        assert "patient\\x0brecord \\x1b]0;owned\\x07" in labels


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_report_to_a_file_and_to_stdout(poisoned: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"report.{fmt}"
    assert (
        run(poisoned, "report", "--case", "vastaamo", "--format", fmt, "-o", str(out)).exit_code
        == 0
    )
    if fmt != "json":  # JSON carries \u001b escapes, which are text, not controls
        assert_clean(out.read_bytes())
    shown = run(poisoned, "report", "--case", "vastaamo", "--format", fmt)
    assert shown.exit_code == 0, shown.output
    assert_clean(shown.stdout_bytes)


def test_evidence_bundle_is_written_and_verifies(poisoned: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    result = run(poisoned, "evidence", "--case", "vastaamo", "-o", str(out))
    assert result.exit_code == 0, result.output
    for name in ("report.html", "report.md", "graph/flow.graphml", "graph/flow.gexf"):
        assert_clean((out / name).read_bytes())
    assert b"patient\\x0brecord" in (out / "graph/flow.graphml").read_bytes()


@pytest.mark.parametrize(
    "args",
    [
        ("tags", "list"),
        ("case", "list"),
        ("case", "show", "vastaamo"),
        ("addresses", "--case", "vastaamo"),
        ("traces", "list"),
        ("traces", "show", "1"),
        ("events", "--case", "vastaamo"),
    ],
)
def test_terminal_commands_never_emit_control_sequences(
    poisoned: Path, args: tuple[str, ...]
) -> None:
    result = run(poisoned, *args)
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.strip()
    assert_clean(result.stdout_bytes)
    assert_clean(result.stderr_bytes)


def test_tags_list_shows_the_escape_sequence_as_text(poisoned: Path) -> None:
    out = run(poisoned, "tags", "list").stdout
    assert "evil\\x1b]52;c;aGk=\\x07" in out


def test_json_output_keeps_the_stored_text_exactly(poisoned: Path) -> None:
    """--json is for programs: json escapes the controls, and the value round-trips."""
    result = run(poisoned, "tags", "list", "--json")
    assert_clean(result.stdout_bytes)
    assert {t["label"] for t in json.loads(result.stdout)} == {TAG_LABEL}
