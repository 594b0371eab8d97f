"""``report`` and ``export --redact victims`` on a simulated Vastaamo case (issue 16 item 8).

Every victim's ransom address is imported from an e-mail file named after the patient, then
labelled with the patient's name and given a note with a phone number, as an investigator
would. No such text may survive in any report or export format; every amount and address must.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
from pathlib import Path

import networkx as nx
import pytest
from casebuild import CASE, DEMAND, watch_and_trace
from typer.testing import CliRunner

from btcwatch.case import Role
from btcwatch.cli import app
from btcwatch.export import FORMATS as EXPORT_FORMATS
from btcwatch.export.redact import PREFIX, Redaction, pseudonyms, redact_graph
from btcwatch.intake import add_addresses, create_case, import_files
from btcwatch.report import FORMATS as REPORT_FORMATS
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.store import Store
from btcwatch.store.cases import list_addresses

VICTIMS = 12
PATIENTS = [
    ("Aino", "Virtanen"),
    ("Eero", "Korhonen"),
    ("Helmi", "Mäkinen"),
    ("Ilmari", "Nieminen"),
    ("Kaarina", "Mäkelä"),
    ("Lauri", "Hämäläinen"),
    ("Maija", "Laine"),
    ("Niilo", "Heikkinen"),
    ("Oona", "Koskinen"),
    ("Pentti", "Järvinen"),
    ("Riikka", "Lehtonen"),
    ("Sulo", "Lehtinen"),
]
MAIL = """From: ransom_service <ransom_service@example.invalid>
To: {first} {last} <{local}@example.fi>
Subject: Vastaamo patient record {number:06d}

Send bitcoin worth 200 EUR to this address within 24 hours:

    {address}
"""


@pytest.fixture(scope="module")
def case_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """(database, the victims' private texts) of a watched and traced labelled case."""
    scenario = vastaamo(victims=VICTIMS, seed=2020, background=3)
    truth = scenario.ground_truth()
    folder = tmp_path_factory.mktemp("redact")
    db = folder / "vastaamo.db"
    mails = folder / "mails"
    mails.mkdir()
    private: list[str] = []
    mailboxes: list[str] = []
    with Store.open(db) as store:
        create_case(store, CASE, title="Vastaamo-like extortion (simulated)")
        for n, ransom in enumerate(truth["ransom_addresses"]):
            first, last = PATIENTS[n]
            local = f"{first}.{last}".lower().replace("ä", "a")
            mail = mails / f"{local}@example.fi.eml"
            mail.write_text(
                MAIL.format(
                    first=first, last=last, local=local, number=n + 1, address=ransom["address"]
                ),
                encoding="utf-8",
            )
            import_files(store, CASE, [mail], demand=DEMAND)
            label = f"patient {n + 1:06d} {first} {last}"
            note = f"called back {first} {last} on +358 40 {n + 1:07d}"
            add_addresses(
                store,
                CASE,
                [ransom["address"]],
                role=Role.VICTIM if n % 4 == 0 else None,  # the victim's own, and ransom
                label=label,
                note=note,
            )
            private += [label, note, f"{first} {last}", local, f"+358 40 {n + 1:07d}"]
            mailboxes.append(local)
        add_addresses(
            store,
            CASE,
            [truth["company_demand"]["address"]],
            role=Role.ATTACKER,
            label="company demand",
            demand="40 BTC",
        )
        watched = {w.address: w for w in list_addresses(store, CASE)}
        sources = [watched[r["address"]].source for r in truth["ransom_addresses"]]
    assert all(local in s for s, local in zip(sources, mailboxes, strict=True))  # e-mail sources
    private += sources
    with SimServer(SimChain.from_scenario(scenario, tip="end")) as server:
        watch_and_trace(db, truth, server.url)
    return db, private


def _run(db: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--db", str(db), *args], env={})
    assert result.exit_code == 0, result.stderr
    return result.stdout


def _report(db: Path, fmt: str, out: Path, *redact: str) -> str:
    target = out / f"report{'-redacted' if redact else ''}.{fmt}"
    _run(db, "report", "--case", CASE, "--format", fmt, "-o", str(target), *redact)
    return target.read_text(encoding="utf-8")


def _export(db: Path, fmt: str, out: Path, *redact: str) -> str:
    target = out / f"graph{'-redacted' if redact else ''}.{fmt}"
    _run(db, "export", "--case", CASE, "--format", fmt, "-o", str(target), *redact)
    files = sorted(target.iterdir()) if target.is_dir() else [target]
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def _visible(text: str) -> str:
    """The text as a reader sees it: entities undone, embedded pictures (base64 SVG) decoded."""
    pictures = [
        base64.b64decode(data).decode("utf-8")
        for data in re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", text)
    ]
    return html.unescape("\n".join([text, *pictures]))


REDACTED = ("--redact", "victims")


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
def test_no_victim_text_survives_in_a_report(
    case_db: tuple[Path, list[str]], tmp_path: Path, fmt: str
) -> None:
    db, private = case_db
    plain = _visible(_report(db, fmt, tmp_path))
    labels = [p for p in private if p.startswith("patient ")]
    assert any(label in plain for label in labels), "the unredacted report names the patients"
    redacted = _visible(_report(db, fmt, tmp_path, *REDACTED))
    leaked = [p for p in private if p in redacted]
    assert not leaked, f"{fmt} report still shows {leaked[:3]}"
    assert PREFIX in redacted


@pytest.mark.parametrize("fmt", [f for f in EXPORT_FORMATS if f != "svg"])
def test_no_victim_text_survives_in_an_export(
    case_db: tuple[Path, list[str]], tmp_path: Path, fmt: str
) -> None:
    db, private = case_db
    plain = _visible(_export(db, fmt, tmp_path))
    assert any(p in plain for p in private if p.startswith("patient ")), "unredacted has names"
    redacted = _visible(_export(db, fmt, tmp_path, *REDACTED))
    leaked = [p for p in private if p in redacted]
    assert not leaked, f"{fmt} export still shows {leaked[:3]}"
    assert PREFIX in redacted


def test_svg_export_and_report_picture_hide_victims_too(
    case_db: tuple[Path, list[str]], tmp_path: Path
) -> None:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz dot is not installed")
    db, private = case_db
    labels = [p for p in private if p.startswith("patient ")]
    picture = _visible(_report(db, "html", tmp_path)).split("<svg", 1)[1]
    assert any(label in picture for label in labels)  # the unredacted picture names them
    for text in (_export(db, "svg", tmp_path, *REDACTED), _report(db, "html", tmp_path, *REDACTED)):
        shown = _visible(text)
        assert "<svg" in shown and PREFIX in shown.split("<svg", 1)[1]
        assert not [p for p in private if p in shown]


def test_amounts_and_addresses_are_unchanged_and_pseudonyms_agree_across_formats(
    case_db: tuple[Path, list[str]], tmp_path: Path
) -> None:
    db, _ = case_db
    plain = json.loads(_report(db, "json", tmp_path))
    redacted = json.loads(_report(db, "json", tmp_path, *REDACTED))
    assert redacted["redacted"] == ["victims"] and "redacted" not in plain
    for key in ("summary", "timeline", "trace", "freeze_requests", "watchlist", "evidence"):
        assert redacted[key] == plain[key], key
    assert len(redacted["payments"]) == len(plain["payments"]) > 0
    named: dict[str, str] = {}
    for before, after in zip(plain["payments"], redacted["payments"], strict=True):
        assert {k: v for k, v in after.items() if k != "label"} == {
            k: v for k, v in before.items() if k != "label"
        }
        if before["role"] in ("ransom", "victim"):
            assert after["label"].startswith(PREFIX)
            named[after["address"]] = after["label"]
        else:
            assert after["label"] == before["label"]  # the attacker's address keeps its label
    assert len(set(named.values())) == len(named)  # one person, one pseudonym

    graph_before = nx.node_link_graph(
        json.loads(_export(db, "json", tmp_path)), edges="edges", multigraph=True, directed=True
    )
    graph_after = nx.node_link_graph(
        json.loads(_export(db, "json", tmp_path, *REDACTED)),
        edges="edges",
        multigraph=True,
        directed=True,
    )
    assert sorted(graph_after.edges(keys=True, data=True)) == sorted(
        graph_before.edges(keys=True, data=True)
    )
    assert set(graph_after.nodes) == set(graph_before.nodes)
    hidden = 0
    for node, data in graph_after.nodes(data=True):
        before = graph_before.nodes[node]
        assert {k: v for k, v in data.items() if k != "label"} == {
            k: v for k, v in before.items() if k != "label"
        }
        if data.get("role") in ("ransom", "victim"):
            hidden += 1
            assert data["label"].startswith(PREFIX)
            if data["address"] in named:  # the same name in the report and the graph
                assert data["label"] == named[data["address"]]
        else:
            assert data.get("label") == before.get("label")
    assert hidden > 0


def test_redacted_output_is_the_same_on_every_run(
    case_db: tuple[Path, list[str]], tmp_path: Path
) -> None:
    db, _ = case_db
    first = _report(db, "md", tmp_path, *REDACTED)
    graph = _export(db, "graphml", tmp_path, *REDACTED)
    assert _report(db, "md", tmp_path, *REDACTED) == first
    assert _export(db, "graphml", tmp_path, *REDACTED) == graph


def test_pseudonyms_depend_on_case_and_address_only() -> None:
    addresses = [f"bc1qexample{n}" for n in range(50)]
    names = pseudonyms("vastaamo", addresses)
    assert len(set(names.values())) == 50
    assert all(n.startswith(PREFIX) and len(n) == len(PREFIX) + 8 for n in names.values())
    # adding an address later renames nobody; another case names the same address otherwise
    assert pseudonyms("vastaamo", [*addresses, "bc1qlater"])[addresses[7]] == names[addresses[7]]
    assert pseudonyms("other", addresses[:1])[addresses[0]] != names[addresses[0]]


def test_colliding_codes_are_lengthened_until_they_differ(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import btcwatch.export.redact as redact

    real = redact._code
    monkeypatch.setattr(
        redact, "_code", lambda case, a, n: "same0000" if n == 8 else real(case, a, n)
    )
    names = redact.pseudonyms("x", ["a", "b", "c"])
    assert len(set(names.values())) == 3
    assert all(len(n) == len(PREFIX) + 12 for n in names.values())


def test_a_graph_node_with_a_victim_role_is_hidden_even_off_the_watchlist() -> None:
    g = nx.MultiDiGraph(case="x")
    g.add_node("addr:a", kind="address", address="a", label="Aino Virtanen", role="victim")
    g.add_node("addr:b", kind="address", address="b", label="Binance", role="exchange")
    out = redact_graph(g, Redaction("x"))
    assert out.nodes["addr:a"]["label"] == pseudonyms("x", ["a"])["a"]
    assert out.nodes["addr:b"]["label"] == "Binance"
    assert g.nodes["addr:a"]["label"] == "Aino Virtanen"  # the caller's graph is untouched


def test_unknown_redaction_is_a_usage_error(case_db: tuple[Path, list[str]]) -> None:
    db, _ = case_db
    result = CliRunner().invoke(
        app, ["--db", str(db), "report", "--case", CASE, "--redact", "names"], env={}
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("btcwatch: error: invalid value for '--redact'")
    assert result.stderr.count("\n") == 1
