"""Issue 12 items 6 and 9 (import): every MIME part is decoded; empty files are reported;
input is bounded.

The e-mails are built with the standard library's own generator, as a mail client sends them:
base64 and quoted-printable bodies, a Latin-1 charset, HTML with the address split by tags,
nested multiparts and a forwarded message attached.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from btcwatch.store import Store
from btcwatch.store.cases import list_addresses

PLAIN = "13AM4VW2dhxYgXeQepoHkHSQuy6NgaEb94"
HTML = "12t9YDPgwueZ9NyMgw519p7AA8isjr6SMw"
FORWARDED = "115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn"
LATIN = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


def ransom_mail() -> bytes:
    msg = EmailMessage()
    msg["From"] = "ransom_man <ransom@example.invalid>"
    msg["Subject"] = "Your records"
    msg.set_content(f"Pay 200 EUR in Bitcoin to {PLAIN} within 24 hours.\n", cte="base64")
    msg.add_alternative(
        f"<html><body><p>Pay to <b>{HTML[:10]}</b><span>{HTML[10:]}</span></p></body></html>",
        subtype="html",
        cte="base64",
    )
    msg.make_mixed()
    latin = EmailMessage()
    latin.set_content(f"Lösegeld:{LATIN} sofort.\n", charset="iso-8859-1", cte="quoted-printable")
    msg.attach(latin)
    inner = EmailMessage()
    inner["Subject"] = "Fwd: demand"
    inner.set_content(f"The wallet is {FORWARDED}\n", cte="base64")
    msg.add_attachment(inner)
    return msg.as_bytes(policy=SMTP)


def watched(db: Path) -> set[str]:
    with Store.open(db) as s:
        return {w.address for w in list_addresses(s)}


def test_base64_html_latin1_and_forwarded_parts_are_all_read(cli, db_path, tmp_path):
    mail = tmp_path / "ransom.eml"
    data = ransom_mail()
    for address in (PLAIN, HTML, FORWARDED):
        assert address.encode() not in data, "the test mail must hide the addresses in encodings"
    mail.write_bytes(data)
    cli("case", "create", "vt")
    result = cli("import", "--case", "vt", str(mail), "--json")
    assert result.exit_code == 0, result.output
    assert watched(db_path) == {PLAIN, HTML, FORWARDED, LATIN}
    report = json.loads(result.stdout)
    assert sorted(report["added"]) == sorted([PLAIN, HTML, FORWARDED, LATIN])
    assert report["files_without_address"] == []
    assert "no Bitcoin address" not in result.stderr


def test_a_file_without_any_address_is_reported(cli, db_path, tmp_path):
    empty = tmp_path / "hello.eml"
    msg = EmailMessage()
    msg["Subject"] = "hello"
    msg.set_content("nothing to see here\n", cte="base64")
    empty.write_bytes(msg.as_bytes())
    other = tmp_path / "ok.txt"
    other.write_text(f"pay {PLAIN}\n")
    cli("case", "create", "vt")
    result = cli("import", "--case", "vt", str(empty), str(other))
    assert result.exit_code == 0
    assert f"warning: no Bitcoin address found in {empty}" in result.stderr
    assert watched(db_path) == {PLAIN}


def test_strict_refuses_a_file_without_address_and_writes_nothing(cli, db_path, tmp_path):
    empty = tmp_path / "hello.txt"
    empty.write_text("no address in here\n")
    other = tmp_path / "ok.txt"
    other.write_text(f"pay {PLAIN}\n")
    cli("case", "create", "vt")
    result = cli("import", "--case", "vt", "--strict", str(other), str(empty))
    assert result.exit_code == 2
    assert result.stderr == f"btcwatch: error: {empty}: no Bitcoin address found (--strict)\n"
    assert watched(db_path) == set()


def test_a_file_over_the_limit_is_refused_in_one_line(cli, db_path, tmp_path):
    huge = tmp_path / "dump.txt"
    with huge.open("wb") as handle:  # sparse: 60 MB of zeros without writing them
        handle.write(f"{PLAIN}\n".encode())
        handle.truncate(60 * 1024 * 1024)
    cli("case", "create", "vt")
    result = cli("import", "--case", "vt", str(huge))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"btcwatch: error: {huge}: larger than 50 MB")
    assert result.stderr.count("\n") == 1
    assert watched(db_path) == set()


def _limit_memory() -> None:
    limit = 1024 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_under_a_memory_limit_is_one_line(tmp_path):
    db = tmp_path / "case.db"
    base = [sys.executable, "-m", "btcwatch", "--db", str(db)]
    subprocess.run([*base, "case", "create", "vt"], check=True, capture_output=True)
    done = subprocess.run(
        [*base, "import", "--case", "vt", "/dev/zero"],
        capture_output=True,
        preexec_fn=_limit_memory,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    message = "/dev/zero: larger than 50 MB; give the ransom note or address list itself"
    assert done.stderr.decode() == f"btcwatch: error: {message}\n"
