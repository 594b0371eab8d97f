"""Issue 12 item 1 at input: control characters in labels, notes and titles are refused.

One line naming the field, exit 2, nothing written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from btcwatch.store import Store
from btcwatch.store.cases import list_addresses, list_cases
from btcwatch.text import safe_terminal_text, unsafe_char, visible

ADDRESS = "13AM4VW2dhxYgXeQepoHkHSQuy6NgaEb94"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("patient\x0brecord", "U+000B"),
        ("x\x1b]0;title\x07", "U+001B"),
        ("x\x1b]52;c;aGk=\x07", "U+001B"),
        ("tab\there", "U+0009"),
        ("c1\x9bcsi", "U+009B"),
        ("del\x7f", "U+007F"),
        ("abc\u202etxt.exe", "U+202E"),
        ("iso\u2066late", "U+2066"),
    ],
)
def test_import_refuses_a_control_character_in_the_label(
    cli, db_path: Path, tmp_path: Path, value: str, code: str
) -> None:
    assert cli("case", "create", "vt").exit_code == 0
    mail = tmp_path / "mails.txt"
    mail.write_text(f"pay to {ADDRESS}\n")
    result = cli("import", "--case", "vt", str(mail), "--label", value)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("btcwatch: error: --label contains the control character")
    assert code in result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    with Store.open(db_path) as s:
        assert list_addresses(s) == []


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("add", "--case", "vt", ADDRESS, "--label", "a\x0bb"), "--label"),
        (("add", "--case", "vt", ADDRESS, "--note", "a\x1bb"), "--note"),
        (("case", "create", "other", "--title", "a\x07b"), "--title"),
        (("case", "create", "other", "--note", "a\x00b"), "--note"),
    ],
)
def test_add_and_case_create_refuse_control_characters(
    cli, db_path: Path, args: tuple[str, ...], field: str
) -> None:
    assert cli("case", "create", "vt").exit_code == 0
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"btcwatch: error: {field} contains the control character")
    with Store.open(db_path) as s:
        assert list_addresses(s) == []
        assert [c.name for c in list_cases(s)] == ["vt"]


def test_printable_unicode_is_accepted(cli, db_path: Path) -> None:
    assert cli("case", "create", "vt", "--title", "Vastaamo – Åbo «ransom» 🦀").exit_code == 0
    assert cli("add", "--case", "vt", ADDRESS, "--label", "potilas 17 – lunnaat").exit_code == 0
    with Store.open(db_path) as s:
        assert list_addresses(s)[0].label == "potilas 17 – lunnaat"


def test_visible_escapes_every_unsafe_character_and_nothing_else() -> None:
    assert visible("a\x0bb\x1b]0;t\x07") == "a\\x0bb\\x1b]0;t\\x07"
    assert visible("\u202eabc\u2069") == "\\u202eabc\\u2069"
    assert visible("line\nnext\ttab\r", lines=True) == "line\nnext\ttab\\x0d"
    assert safe_terminal_text("Åbo – 🦀") == "Åbo – 🦀"
    for code in [*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]:
        assert unsafe_char(chr(code)) == chr(code)
        assert unsafe_char(visible(chr(code))) is None
