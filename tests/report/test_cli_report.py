"""`btcwatch report` and `btcwatch evidence` through typer, checked with the library.

The commands are registered here in a test-local app with the real root group (errors become
one-line messages and exit codes), the same way btcwatch.cli registers them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from btcwatch.cli.context import BtcwatchGroup, State
from btcwatch.cli.report import evidence, report
from btcwatch.prices import PriceTable
from btcwatch.report import build_report, to_json
from btcwatch.store import Store

Built = tuple[Path, dict[str, Any]]

app = typer.Typer(cls=BtcwatchGroup, pretty_exceptions_show_locals=False, add_completion=False)


@app.callback()
def root(ctx: typer.Context, db: Path = typer.Option(..., "--db")) -> None:
    ctx.obj = State(db_flag=db)


app.command("report")(report)
app.command("evidence")(evidence)


@pytest.fixture
def run(built: Built) -> Any:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["--db", str(built[0]), *args], env={})

    return invoke


def test_json_report_on_stdout_is_the_library_report(run: Any, built: Built) -> None:
    result = run("report", "--case", "vastaamo", "--format", "json")
    assert result.exit_code == 0, result.stderr
    with Store.open(built[0]) as store:
        expected = to_json(build_report(store, "vastaamo", prices=PriceTable.load_default()))
    assert json.loads(result.stdout) == expected


def test_markdown_is_the_default_and_html_goes_to_a_file(
    run: Any, built: Built, tmp_path: Path
) -> None:
    md = run("report", "--case", "vastaamo")
    assert md.exit_code == 0 and md.stdout.startswith("# Case report: vastaamo")
    target = tmp_path / "vastaamo.html"
    result = run("report", "--case", "vastaamo", "--format", "html", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(target)
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Freeze requests" in page


def test_bad_input_is_one_line_and_exit_2(run: Any, tmp_path: Path) -> None:
    cases = [
        ("report", "--case", "nope"),
        ("report", "--case", "vastaamo", "--format", "pdf"),
        ("report", "--case", "vastaamo", "--trace", "42"),
        ("report", "--case", "vastaamo", "-o", str(tmp_path)),
        ("evidence", "--case", "nope", "-o", str(tmp_path / "x")),
    ]
    for args in cases:
        result = run(*args)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        assert result.stderr.startswith("btcwatch: error: ")
        assert result.stderr.strip().count("\n") == 0


def test_evidence_writes_a_bundle_and_refuses_a_non_empty_folder(run: Any, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    # --offline: the simulator that served the case is gone, and evidence now fetches missing
    # Merkle proofs from the explorer unless told not to.
    result = run("evidence", "--case", "vastaamo", "-o", str(out), "--offline")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert "sha256sum -c MANIFEST.sha256" in result.stderr
    assert (out / "MANIFEST.sha256").is_file() and (out / "report.json").is_file()
    again = run("evidence", "--case", "vastaamo", "-o", str(out))
    assert again.exit_code == 2
    assert again.stderr.strip().count("\n") == 0 and "not an empty folder" in again.stderr


def test_trace_parameters_read_as_words_not_a_python_list(run: Any) -> None:
    """Issue 16 item 7: ``stop_at=exchange, mixer or sanctioned``, never ``['exchange', ...]``."""
    for fmt in ("md", "html"):
        result = run("report", "--case", "vastaamo", "--format", fmt)
        assert result.exit_code == 0, result.stderr
        text = result.stdout.replace("\\_", "_")  # Markdown escapes the underscores
        assert "taint=haircut; stop_at=exchange, mixer or sanctioned" in text
        assert "['" not in text and "[&#x27;" not in text
