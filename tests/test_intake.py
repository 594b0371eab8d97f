"""intake: validating and adding addresses, importing files: all valid, or nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from btcwatch.case import Role
from btcwatch.errors import AddressError, CaseError, InputError
from btcwatch.intake import add_addresses, check_demand, create_case, import_files
from btcwatch.store import Store
from btcwatch.store.cases import list_addresses

GENESIS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
P2SH = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
SEGWIT = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
TESTNET = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"
BAD_CHECKSUM = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"


@pytest.fixture
def case(store: Store) -> Store:
    create_case(store, "c", title="Test case")
    return store


def watched(store: Store) -> dict[str, tuple[Role, str, str | None]]:
    return {w.address: (w.role, w.label, w.demand) for w in list_addresses(store, "c")}


def test_one_bad_address_writes_none(case: Store) -> None:
    with pytest.raises(AddressError):
        add_addresses(case, "c", [GENESIS, BAD_CHECKSUM])
    with pytest.raises(AddressError):
        add_addresses(case, "c", [SEGWIT, TESTNET])  # another network's address
    assert watched(case) == {}


def test_add_then_update_only_what_was_given(case: Store) -> None:
    first = add_addresses(case, "c", [GENESIS, GENESIS, SEGWIT], label="ransom note")
    assert first.added == [GENESIS, SEGWIT] and first.present == []
    assert watched(case)[GENESIS] == (Role.RANSOM, "ransom note", None)
    again = add_addresses(case, "c", [GENESIS])
    assert again.added == [] and again.present == [GENESIS] and again.updated == []
    changed = add_addresses(case, "c", [GENESIS], role=Role.ATTACKER, demand="40BTC")
    assert changed.updated == [GENESIS]
    assert watched(case)[GENESIS] == (Role.ATTACKER, "ransom note", "40BTC")
    add_addresses(case, "c", [GENESIS], label="", demand="")  # "" clears
    assert watched(case)[GENESIS] == (Role.ATTACKER, "", None)
    assert watched(case)[SEGWIT] == (Role.RANSOM, "ransom note", None)


def test_bad_input_is_refused_before_writing(case: Store) -> None:
    with pytest.raises(InputError, match="no address given"):
        add_addresses(case, "c", [])
    with pytest.raises(InputError, match="--label"):
        add_addresses(case, "c", [GENESIS], label="evil\x1b[31m")
    with pytest.raises(InputError):
        add_addresses(case, "c", [GENESIS], demand="a lot of money")
    with pytest.raises(CaseError):
        add_addresses(case, "nosuchcase", [GENESIS])
    assert watched(case) == {}


def test_demand_text_is_checked_and_kept() -> None:
    assert check_demand(None) is None
    assert check_demand("   ") is None
    assert check_demand(" 200EUR then 500EUR after 24h ") == "200EUR then 500EUR after 24h"
    with pytest.raises(InputError):
        check_demand("200 carrots")


def test_case_names_and_titles_are_checked(store: Store) -> None:
    with pytest.raises(CaseError):
        create_case(store, "two words")
    with pytest.raises(InputError, match="--title"):
        create_case(store, "ok", title="line\nbreak")
    with pytest.raises(InputError):
        create_case(store, "ok", network="moonnet")
    assert create_case(store, " fine-1 ", network="testnet").name == "fine-1"


def test_import_keeps_the_valid_reports_the_rest(case: Store, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text(
        f"Pay 200 EUR to {GENESIS} within 24 hours.\n"
        f"Or to {SEGWIT}. Again: {GENESIS}\n"
        f"Typo: {BAD_CHECKSUM}\n",
        encoding="utf-8",
    )
    blank = tmp_path / "blank.txt"
    blank.write_text("nothing to see here\n", encoding="utf-8")
    result = import_files(case, "c", [note, blank], role=Role.RANSOM, demand="200EUR")
    assert result.added == [GENESIS, SEGWIT]
    assert [c for c, _ in result.rejected] == [BAD_CHECKSUM]
    assert "note.txt:3" in result.rejected[0][1]
    assert result.empty == [str(blank)]
    assert watched(case)[SEGWIT] == (Role.RANSOM, "", "200EUR")
    sources = {w.address: w.source for w in list_addresses(case, "c")}
    assert sources[GENESIS].startswith("import:") and sources[GENESIS].endswith("note.txt:1")
    again = import_files(case, "c", [note])
    assert again.added == [] and again.present == [GENESIS, SEGWIT]


def test_strict_import_writes_nothing_when_a_file_has_no_address(
    case: Store, tmp_path: Path
) -> None:
    note = tmp_path / "note.txt"
    note.write_text(f"send to {GENESIS}\n", encoding="utf-8")
    blank = tmp_path / "blank.txt"
    blank.write_text("no address\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"blank\.txt: no Bitcoin address found"):
        import_files(case, "c", [note, blank], strict=True)
    assert watched(case) == {}
