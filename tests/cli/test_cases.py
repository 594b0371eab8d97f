"""Cases, add, import and addresses through the real CLI, checked with the library."""

from __future__ import annotations

import json
import random
from pathlib import Path

from btcwatch.chain import script
from btcwatch.chain.address import Address
from btcwatch.chain.network import MAINNET, TESTNET
from btcwatch.store import Store
from btcwatch.store.cases import list_addresses, list_cases

ISSUE_ADDRESSES = [
    "13AM4VW2dhxYgXeQepoHkHSQuy6NgaEb94",
    "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
    "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
]


def snapshot(db: Path) -> list[tuple[str, str, str]]:
    with Store.open(db) as s:
        return [(w.case, w.address, w.role.value) for w in list_addresses(s)]


def test_case_create_list_show(cli, db_path):
    assert cli("case", "create", "vastaamo", "--title", "Vastaamo extortion").exit_code == 0
    with Store.open(db_path) as s:
        assert [c.name for c in list_cases(s)] == ["vastaamo"]
    shown = json.loads(cli("case", "show", "vastaamo", "--json").stdout)
    assert shown["title"] == "Vastaamo extortion"
    listed = json.loads(cli("case", "list", "--json").stdout)
    assert listed[0]["name"] == "vastaamo" and listed[0]["addresses"] == 0


def test_duplicate_and_unknown_case_are_input_errors(cli):
    cli("case", "create", "x")
    dup = cli("case", "create", "x")
    assert dup.exit_code == 2 and "already exists" in dup.stderr
    missing = cli("addresses", "--case", "nope")
    assert missing.exit_code == 2
    assert missing.stderr.strip().count("\n") == 0 and "nope" in missing.stderr


def test_add_every_address_form(cli, db_path):
    cli("case", "create", "x")
    result = cli("add", "--case", "x", *ISSUE_ADDRESSES, "--demand", "200EUR", "--label", "note")
    assert result.exit_code == 0, result.stderr
    assert [a for _, a, _ in snapshot(db_path)] == ISSUE_ADDRESSES
    again = cli("add", "--case", "x", ISSUE_ADDRESSES[0])
    assert again.exit_code == 0 and "already present 1" in again.stderr
    assert len(snapshot(db_path)) == 4


def test_bad_addresses_change_nothing(cli, db_path):
    cli("case", "create", "x")
    cli("add", "--case", "x", ISSUE_ADDRESSES[0])
    before = snapshot(db_path)
    mistyped = "13AM4VW2dhxYgXeQepoHkHSQuy6NgaEb95"
    testnet = "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"
    for bad, word in [(mistyped, "checksum"), (testnet, "testnet"), ("hello-world", "")]:
        result = cli("add", "--case", "x", ISSUE_ADDRESSES[1], bad)
        assert result.exit_code == 2, (bad, result.stderr)
        line = result.stderr.strip()
        assert "\n" not in line and bad in line and word in line.lower()
        assert snapshot(db_path) == before


def test_bad_demand_and_role_are_rejected(cli, db_path):
    cli("case", "create", "x")
    assert cli("add", "--case", "x", ISSUE_ADDRESSES[0], "--demand", "lots").exit_code == 2
    assert cli("add", "--case", "x", ISSUE_ADDRESSES[0], "--role", "boss").exit_code == 2
    assert snapshot(db_path) == []


def _random_addresses(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    builders = [
        lambda: script.p2pkh(rng.randbytes(20)),
        lambda: script.p2sh(rng.randbytes(20)),
        lambda: script.p2wpkh(rng.randbytes(20)),
        lambda: script.p2wsh(rng.randbytes(32)),
        lambda: script.p2tr(rng.randbytes(32)),
    ]
    return [str(Address.from_script(builders[i % 5](), MAINNET)) for i in range(n)]


def test_import_300_addresses_among_prose_twice(cli, db_path, tmp_path):
    cli("case", "create", "vastaamo")
    addresses = _random_addresses(300, seed=7)
    rng = random.Random(1)
    prose = []
    for i, addr in enumerate(addresses):
        noise = rng.randbytes(32).hex()
        prose.append(
            f"Dear patient {i}, we have your records. Pay 200 EUR in bitcoin to {addr} "
            f"within 24 hours. Reference {noise}. Password1 Bitcoin1ABC."
        )
    testnet = str(Address.from_script(script.p2wpkh(bytes(20)), TESTNET))
    prose.append(
        f"An unrelated testnet address {testnet} and a typo 13AM4VW2dhxYgXeQepoHkHSQuy6NgaEb95"
    )
    note = tmp_path / "ransom.txt"
    note.write_text("\n".join(prose))

    first = cli("import", "--case", "vastaamo", str(note), "--demand", "200EUR", "--json")
    assert first.exit_code == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["added"] == addresses
    rejected = {r["candidate"]: r["reason"] for r in report["rejected"]}
    assert set(rejected) == {testnet, "13AM4VW2dhxYgXeQepoHkHSQuy6NgaEb95"}
    assert "checksum" in rejected["13AM4VW2dhxYgXeQepoHkHSQuy6NgaEb95"]
    assert [a for _, a, _ in snapshot(db_path)] == addresses

    second = cli("import", "--case", "vastaamo", str(note), "--json")
    assert json.loads(second.stdout)["added"] == []
    assert len(json.loads(second.stdout)["already_present"]) == 300
    assert len(snapshot(db_path)) == 300


def test_import_missing_file_is_input_error(cli, tmp_path):
    cli("case", "create", "x")
    result = cli("import", "--case", "x", str(tmp_path / "nope.txt"))
    assert result.exit_code == 2 and "nope.txt" in result.stderr


def test_addresses_json_listing(cli):
    cli("case", "create", "x")
    cli("add", "--case", "x", ISSUE_ADDRESSES[2], "--role", "attacker", "--label", "sweep")
    rows = json.loads(cli("addresses", "--json").stdout)
    assert rows == [
        {
            "case": "x",
            "address": ISSUE_ADDRESSES[2],
            "script_hex": "0014e8df018c7e326cc253faac7e46cdc51e68542c42",
            "role": "attacker",
            "label": "sweep",
            "note": "",
            "demand": None,
            "source": "cli",
            "added_at": rows[0]["added_at"],
        }
    ]
