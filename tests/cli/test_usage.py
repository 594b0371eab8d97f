"""A kinder CLI (issue 16 item 7): help without type placeholders, help for every option,
usage errors as the documented one line, zeros as 0, `case show` without Python reprs."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from btcwatch.cli import app

ADDRESSES = [
    "13AM4VW2dhxYgXeQepoHkHSQuy6NgaEb94",
    "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
    "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
]


def _commands() -> list[tuple[str, Any]]:
    """Every command and group of the real app, by its path (``case show``...)."""
    found: list[tuple[str, Any]] = []

    def walk(cmd: Any, path: str) -> None:
        found.append((path, cmd))
        for name, child in getattr(cmd, "commands", {}).items():
            walk(child, f"{path} {name}".strip())

    walk(typer.main.get_command(app), "")
    return found


COMMANDS = _commands()
IDS = [path or "btcwatch" for path, _ in COMMANDS]


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=IDS)
def test_every_option_and_argument_has_help(path: str, cmd: Any) -> None:
    missing = [
        "/".join(p.opts) for p in cmd.params if not getattr(p, "hidden", False) and not p.help
    ]
    assert not missing, f"btcwatch {path}: no help text for {missing}"


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=IDS)
def test_help_shows_no_type_placeholders_for_flags_and_lists(path: str, cmd: Any) -> None:
    result = CliRunner().invoke(app, [*path.split(), "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert "<bool>" not in result.stdout
    assert "<list[" not in result.stdout


def test_a_flag_shows_no_placeholder_and_a_repeatable_option_the_type_of_one_value() -> None:
    result = CliRunner().invoke(app, ["watch", "--help"], env={"COLUMNS": "200"})
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if "│ --" in line}
    assert lines["--once"].split()[2] == "One"  # the help follows the flag directly
    assert "<str>" in lines["--alert"] and "repeatable" in lines["--alert"]
    assert "<int>" in lines["--hot-set"]  # a value's type stays shown


USAGE_ERRORS = [
    (["watch", "--bogus"], "no such option: --bogus", "btcwatch watch --help"),
    (["report"], "missing option '--case'", "btcwatch report --help"),
    (["case", "show"], "missing argument 'name'", "btcwatch case show --help"),
    (["trace", "--hops", "many"], "invalid value for '--hops'", "btcwatch trace --help"),
    (
        ["export", "--case", "x", "--format", "json", "-o", "x.json", "--redact", "everyone"],
        "invalid value for '--redact'",
        "btcwatch export --help",
    ),
    (["nosuch"], "no such command 'nosuch'", "btcwatch --help"),
]


@pytest.mark.parametrize(("args", "message", "hint"), USAGE_ERRORS, ids=lambda v: str(v)[:30])
def test_usage_errors_are_one_line_and_exit_2(
    cli: Any, args: list[str], message: str, hint: str
) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(f"btcwatch: error: {message}")
    assert result.stderr.endswith(f"(see {hint})\n")
    assert result.stderr.count("\n") == 1  # one line: no usage block, no box
    assert "╭" not in result.stderr and "Try '" not in result.stderr


def test_a_group_without_command_still_shows_its_help(cli: Any) -> None:
    result = cli("case")
    assert "Usage:" in result.stdout and "create" in result.stdout
    assert "btcwatch: error" not in result.stderr


def test_zero_prints_as_0_in_tables(cli: Any) -> None:
    assert cli("case", "create", "empty").exit_code == 0
    result = cli("case", "list")
    header, row = result.stdout.splitlines()
    column = header.index("ADDRESSES")
    assert row[column:].split()[0] == "0"


def test_case_show_prints_words_not_python_reprs(cli: Any) -> None:
    cli("case", "create", "x", "--title", "Extortion")
    cli("add", "--case", "x", *ADDRESSES[:2])
    cli("add", "--case", "x", ADDRESSES[2], "--role", "attacker")
    result = cli("case", "show", "x")
    assert result.exit_code == 0, result.stderr
    assert "{" not in result.stdout and "[" not in result.stdout and "'" not in result.stdout
    assert "addresses_by_role: attacker 1, ransom 2" in result.stdout.splitlines()
    assert "title: Extortion" in result.stdout.splitlines()
