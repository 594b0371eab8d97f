"""Issue 12 items 15, 16 and 18 through the real CLI, checked with the library.

15: `add` of an address already present updates what was given and says so.
16: a rejected trace target stores no trace run; a bad --stop-at names the valid categories;
    a tag pack entry with a bad checksum is skipped with its line and reason, the rest imported.
18: an invalid address's reason is said once; `trace` with no target says what to give.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from btcwatch.store import Store
from btcwatch.store.cases import list_addresses
from btcwatch.store.tags import list_tags
from btcwatch.store.traces import list_runs
from btcwatch.tags import CATEGORIES

GOOD = "13AM4VW2dhxYgXeQepoHkHSQuy6NgaEb94"
OTHER = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
BAD_CHECKSUM = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"  # the well-known address, last char changed


def watched(db: Path) -> dict[str, tuple[str, str, str, str | None]]:
    with Store.open(db, read_only=True) as s:
        return {w.address: (w.role.value, w.label, w.note, w.demand) for w in list_addresses(s)}


def test_add_again_updates_only_what_was_given(cli, db_path: Path) -> None:
    cli("case", "create", "c1")
    first = cli("add", "--case", "c1", GOOD, OTHER, "--label", "victim 17", "--demand", "200EUR")
    assert first.stderr == "added 2, updated 0, already present 0\n"
    again = cli("add", "--case", "c1", GOOD, "--demand", "500EUR", "--role", "attacker")
    assert again.exit_code == 0
    assert again.stderr == "added 0, updated 1, already present 0\n"
    assert watched(db_path)[GOOD] == ("attacker", "victim 17", "", "500EUR")
    assert watched(db_path)[OTHER] == ("ransom", "victim 17", "", "200EUR")
    same = cli("add", "--case", "c1", GOOD, "--demand", "500EUR")
    assert same.stderr == "added 0, updated 0, already present 1\n"


def test_add_with_empty_values_removes_label_note_and_demand(cli, db_path: Path) -> None:
    cli("case", "create", "c1")
    cli("add", "--case", "c1", GOOD, "--label", "L", "--note", "N", "--demand", "1BTC")
    result = cli("add", "--case", "c1", GOOD, "--label", "", "--note", "", "--demand", "")
    assert result.stderr == "added 0, updated 1, already present 0\n"
    assert watched(db_path)[GOOD] == ("ransom", "", "", None)


def test_add_with_a_bad_value_changes_nothing(cli, db_path: Path) -> None:
    cli("case", "create", "c1")
    cli("add", "--case", "c1", GOOD, "--label", "L")
    result = cli("add", "--case", "c1", GOOD, "--label", "new", "--demand", "lots")
    assert result.exit_code == 2
    assert watched(db_path)[GOOD] == ("ransom", "L", "", None)


def test_invalid_address_reason_is_said_once(cli) -> None:
    cli("case", "create", "c1")
    result = cli("add", "--case", "c1", BAD_CHECKSUM)
    assert result.exit_code == 2
    assert result.stderr == (
        f"btcwatch: error: invalid address '{BAD_CHECKSUM}': bad base58 checksum\n"
    )


def test_trace_without_target_says_what_to_give(cli) -> None:
    result = cli("trace")
    assert result.exit_code == 2
    assert result.stderr == (
        "btcwatch: error: nothing to trace: give --case NAME, "
        "or one or more ADDRESS, TXID or TXID:VOUT\n"
    )
    both = cli("trace", "--case", "c1", GOOD)
    assert both.exit_code == 2 and "not both" in both.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("zzzz",), "invalid address 'zzzz'"),
        ((f"{'ab' * 32}:x",), "not an outpoint"),
        (("--case", "nope"), "no case named 'nope'"),
        ((GOOD, "--stop-at", "bogus"), "unknown --stop-at category 'bogus'"),
    ],
)
def test_rejected_trace_stores_no_run(cli, db_path: Path, args: tuple[str, ...], message: str):
    cli("case", "create", "c1")
    result = cli("trace", *args, "--explorer", "http://127.0.0.1:9/api")
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and message in result.stderr
    if "stop-at" in args:
        assert f"(use one of {', '.join(CATEGORIES)})" in result.stderr
    with Store.open(db_path, read_only=True) as s:
        assert list_runs(s) == []


def test_tag_pack_with_a_bad_checksum_names_the_line(cli, db_path: Path, tmp_path: Path) -> None:
    pack = tmp_path / "mine.yaml"
    pack.write_text(
        "title: my exchanges\n"
        "category: exchange\n"
        "tags:\n"
        f"  - address: {GOOD}\n"
        "    label: Alpha\n"
        f"  - address: {BAD_CHECKSUM}\n"
        "    label: Beta\n"
        f"  - address: {OTHER}\n"
        "    label: Gamma\n"
        "  - address: 0x742d35Cc6634C0532925a3b844Bc454e4438f44e\n"
        "    currency: ETH\n"
        "    label: Delta\n"
    )
    result = cli("tags", "import", str(pack))
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"warning: {pack}:6: skipped '{BAD_CHECKSUM}': bad base58 checksum",
        "mine.yaml: added 2, already present 0, 1 entries of other chains skipped",
    ]
    with Store.open(db_path, read_only=True) as s:
        assert {t.label for t in list_tags(s)} == {"Alpha", "Gamma"}


def test_tag_pack_entry_with_terminal_controls_is_skipped(cli, db_path: Path, tmp_path: Path):
    pack = tmp_path / "evil.yaml"
    pack.write_text(
        "category: exchange\n"
        "tags:\n"
        f'  - address: {GOOD}\n    label: "x\\e]52;c;aGk=\\a"\n'
        f"  - address: {OTHER}\n    label: fine\n"
    )
    result = cli("tags", "import", str(pack))
    assert result.exit_code == 0, result.output
    assert f"{pack}:3: skipped '{GOOD}': its label contains the control character U+001B" in (
        result.stderr
    )
    assert "\x1b" not in result.stderr
    with Store.open(db_path, read_only=True) as s:
        assert [t.label for t in list_tags(s)] == ["fine"]


def test_tag_csv_with_a_bad_checksum_says_why(cli, tmp_path: Path) -> None:
    csv = tmp_path / "mine.csv"
    csv.write_text(f"address,label,category,source,confidence\n{BAD_CHECKSUM},x,exchange,,\n")
    result = cli("tags", "import", str(csv))
    assert result.exit_code == 2
    assert result.stderr == (
        f"btcwatch: error: {csv}:2: not a Bitcoin mainnet address: '{BAD_CHECKSUM}' "
        "(bad base58 checksum)\n"
    )
