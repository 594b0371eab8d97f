"""The case report of a watched and traced simulated Vastaamo case, against the ground truth."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from casebuild import TAGGED_DEPOSIT_OF

from btcwatch.errors import CaseError, InputError
from btcwatch.money import format_btc
from btcwatch.prices import PriceTable
from btcwatch.report import build_report, render_report, to_json
from btcwatch.report.facts import CaseReport
from btcwatch.report.html import render_html
from btcwatch.report.markdown import md as md_text
from btcwatch.report.markdown import render_markdown
from btcwatch.store import Store
from btcwatch.store.events import list_events, record_events
from btcwatch.watch.diff import revert_event

Built = tuple[Path, dict[str, Any]]


def live_payments(truth: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in truth["payments"] if p["kind"] != "rbf_replaced"]


@pytest.fixture(scope="module")
def report(built: Built) -> CaseReport:
    with Store.open(built[0]) as store:
        return build_report(store, "vastaamo", prices=PriceTable.load_default())


def test_payments_count_totals_and_verdicts_match_ground_truth(
    report: CaseReport, built: Built
) -> None:
    truth = built[1]
    paid = live_payments(truth)
    s = report.summary
    assert s.count == len(paid) == len(report.payments)
    assert s.total_sat == sum(p["value_sat"] for p in paid)
    assert s.victims_paid == len({p["address"] for p in paid})
    assert s.ransom_addresses == truth["victims"]
    assert {(p.txid, p.vout) for p in report.payments} == {(p["txid"], p["vout"]) for p in paid}
    kinds = Counter(p["kind"] for p in paid)
    verdicts = dict(s.by_verdict)
    assert verdicts["late"] == kinds["late"]
    assert verdicts["partial"] == kinds["partial"]
    assert verdicts["exact"] == len(paid) - kinds["late"] - kinds["partial"]
    assert verdicts["over"] == verdicts["none"] == 0 and s.fiat_missing == 0


def test_fiat_is_priced_at_each_payments_day(report: CaseReport, built: Built) -> None:
    rate = {(p["txid"], p["vout"]): Decimal(p["eur_rate"]) for p in live_payments(built[1])}
    for p in report.payments:
        expected = Decimal(p.value_sat) * rate[(p.txid, p.vout)] / 100_000_000
        assert p.eur is not None and abs(p.eur - expected) <= Decimal("0.01")
    assert report.summary.total_eur == sum(p.eur for p in report.payments if p.eur is not None)
    # The simulated victims paid 200 EUR on time and 500 EUR late.
    late = [p for p in report.payments if p.verdict == "late"]
    assert late and all(p.eur == Decimal("500.00") for p in late)


def test_company_demand_is_reported_unpaid(report: CaseReport, built: Built) -> None:
    company = [g for g in report.demands if g.demand == "40 BTC"]
    assert len(company) == 1
    assert company[0].labels == ("company demand",)
    assert (company[0].addresses, company[0].paid_addresses, company[0].paid_sat) == (1, 0, 0)
    assert built[1]["company_demand"]["paid"] is False


def test_entities_and_freeze_totals_within_one_percent_of_truth(
    report: CaseReport, built: Built
) -> None:
    totals = built[1]["exchange_totals"]
    assert report.trace is not None
    entities = {e.entity: e.taint_sat for e in report.trace.entities}
    freeze = {f.entity: f.taint_sat for f in report.freeze_requests}
    assert set(freeze) == set(totals)
    for name, sats in totals.items():
        assert abs(entities[name] - sats) <= sats / 100
        assert abs(freeze[name] - sats) <= sats / 100


def test_freeze_table_lists_exactly_the_simulated_deposits(
    report: CaseReport, built: Built
) -> None:
    expected: dict[str, set[tuple[str, str, int, int]]] = defaultdict(set)
    for peel in built[1]["peels"]:
        expected[peel["exchange"]].add(
            (peel["deposit_address"], peel["txid"], peel["vout"], peel["value_sat"])
        )
    got = {
        f.entity: {(r.deposit_address, r.txid, r.vout, r.value_sat) for r in f.rows}
        for f in report.freeze_requests
    }
    assert got == expected
    tip = report.tip_height
    assert tip is not None and tip == built[1]["last_height"]
    for f in report.freeze_requests:
        for row in f.rows:
            assert row.taint_sat == row.value_sat  # the peels carry nothing but ransom money
            assert row.height is not None and row.confirmations == tip - row.height + 1
            assert row.time is not None and row.time.endswith("Z")
            if f.entity == TAGGED_DEPOSIT_OF:  # the deposit address itself was tagged
                assert (row.reason, row.swept_by) == ("tagged", None)
            else:  # seen as a deposit because the exchange swept it into its hot wallet
                assert row.reason == "exchange_deposit" and row.swept_by


def test_peel_chain_and_coinjoin_are_reported(report: CaseReport, built: Built) -> None:
    truth = built[1]
    assert report.trace is not None
    (chain,) = report.trace.peel_chains
    assert [s.txid for s in chain.steps] == [p["txid"] for p in truth["peels"]]
    assert [s.entity for s in chain.steps] == [p["exchange"] for p in truth["peels"]]
    assert [c.txid for c in report.trace.coinjoins] == [truth["coinjoin_txid"]]
    assert report.trace.coinjoins[0].tainted_in_sat == chain.remaining_sat
    assert report.trace.clusters
    assert all(len(c.addresses) > 1 and c.evidence for c in report.trace.clusters)


def test_every_freeze_row_cites_stored_evidence_with_a_correct_hash(
    report: CaseReport, built: Built
) -> None:
    table = {e.id: e for e in report.evidence}
    conn = sqlite3.connect(built[0])
    try:
        for f in report.freeze_requests:
            for row in f.rows:
                assert row.evidence, row
                for ref in row.evidence:
                    entry = table[ref]
                    body, sha = conn.execute(
                        "SELECT body, sha256 FROM evidence WHERE id = ?", [ref]
                    ).fetchone()
                    assert hashlib.sha256(body).hexdigest() == sha == entry.sha256
                # The response for the paying transaction itself is cited.
                assert any(table[ref].url.endswith(f"/tx/{row.txid}") for ref in row.evidence)
    finally:
        conn.close()
    # Every citation anywhere in the report resolves to a row of the evidence table.
    doc = to_json(report)
    cited = {i for p in doc["payments"] for i in p["evidence"]}
    cited |= {i for e in doc["timeline"] for i in e["evidence"]}
    cited |= {i for e in doc["trace"]["entities"] for i in e["evidence"]}
    assert cited <= set(table) and all(p["evidence"] for p in doc["payments"])


def test_json_report_has_the_documented_keys(built: Built) -> None:
    with Store.open(built[0]) as store:
        doc = json.loads(render_report(store, "vastaamo", "json", prices=PriceTable.load_default()))
    assert list(doc) == [
        "format", "version", "case", "generated_at", "as_of", "watchlist", "demands", "summary",
        "payments", "timeline", "trace", "freeze_requests", "graph_files", "price_sources",
        "evidence", "proofs",
    ]  # fmt: skip
    # every transaction the report names carries its inclusion-proof status (issue 13)
    named = {p["txid"] for p in doc["payments"]} | {e["txid"] for e in doc["timeline"]}
    statuses = {p["txid"]: p["status"] for p in doc["proofs"]}
    assert named - {None} <= set(statuses)
    assert all(s.startswith(("proven in block ", "not proven (")) for s in statuses.values())
    assert doc["format"] == "btcwatch-case-report" and doc["version"] == 1
    assert doc["generated_at"] is None
    assert set(doc["summary"]["by_verdict"]) == {"exact", "late", "partial", "over", "none"}
    assert set(doc["payments"][0]) == {
        "address", "role", "label", "txid", "vout", "value_sat", "value_btc", "eur", "usd",
        "price_day", "time", "height", "confirmations", "verdict", "compared_to",
        "expected_sat", "ratio", "evidence", "price_time", "resolution", "price_source",
    }  # fmt: skip
    assert set(doc["trace"]) >= {"run_id", "entities", "peel_chains", "coinjoins", "clusters"}
    assert set(doc["freeze_requests"][0]["rows"][0]) == {
        "deposit_address", "txid", "vout", "value_sat", "taint_sat", "time", "height",
        "confirmations", "reason", "swept_by", "evidence",
    }  # fmt: skip
    assert set(doc["evidence"][0]) == {
        "id",
        "ref",
        "provider",
        "url",
        "fetched_at",
        "status",
        "sha256",
        "body_kept",
    }
    assert doc["summary"]["total_btc"] == format_btc(doc["summary"]["total_sat"])


def test_markdown_and_html_state_the_numbers(report: CaseReport, built: Built) -> None:
    md = render_markdown(report)
    page = render_html(report)
    s = report.summary
    for text in (md, page):
        assert f"{format_btc(s.total_sat)} BTC = {s.total_eur} EUR = {s.total_usd} USD" in text
        assert f"{s.victims_paid}" in text and f"{s.count}" in text
        for f in report.freeze_requests:
            assert f"{format_btc(f.taint_sat)} BTC tainted" in text
            for row in f.rows:
                assert row.deposit_address in text and row.txid in text
        for e in report.evidence:
            assert e.sha256 in text
    assert f"Victims who paid: {s.victims_paid} of {s.ransom_addresses}" in md
    assert "[E" in md and 'href="#E' in page


def hostile(db: Path) -> None:
    """An attacker-chosen label, case note and tag entity, written straight into the tables."""
    script = "<script>alert(1)</script>"
    conn = sqlite3.connect(db)
    with conn:
        first = conn.execute(
            "SELECT address FROM events WHERE kind = 'payment_received' ORDER BY rowid LIMIT 1"
        ).fetchone()[0]
        conn.execute("UPDATE addresses SET label = ? WHERE address = ?", [script, first])
        conn.execute("UPDATE cases SET note = ?", ['"><img src=x onerror=alert(2)>'])
        conn.execute("UPDATE trace_stops SET entity = ? WHERE entity = 'Coinbank'", [script])
    conn.close()


def test_html_and_markdown_escape_hostile_labels(case_copy: Path) -> None:
    hostile(case_copy)
    with Store.open(case_copy) as store:
        report = build_report(store, "vastaamo")
        page = render_report(store, "vastaamo", "html")
    assert any(p.label == "<script>alert(1)</script>" for p in report.payments)
    assert any(f.entity.startswith("<script>") for f in report.freeze_requests)
    assert "<script" not in page.lower() and "<img src=x" not in page.lower()
    assert page.count("<img") <= 1  # only the flow picture, a data: image
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert "default-src 'none'" in page and "script-src 'none'" in page
    md = render_markdown(report)
    assert "<script" not in md and "<img" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md


def test_same_database_gives_the_same_bytes(built: Built, prices: PriceTable) -> None:
    outputs = []
    for _ in range(2):
        with Store.open(built[0]) as store:
            outputs.append(
                [render_report(store, "vastaamo", f, prices=prices) for f in ("md", "html", "json")]
            )
    assert outputs[0] == outputs[1]


def test_generated_at_appears_only_when_given(built: Built) -> None:
    with Store.open(built[0]) as store:
        plain = render_report(store, "vastaamo", "md")
        stamped = render_report(store, "vastaamo", "md", generated_at="2020-11-01T09:00:00Z")
    assert "generated" not in plain
    assert "report generated 2020-11-01T09:00:00Z" in stamped


def test_unknown_case_and_bad_format_are_input_errors(built: Built) -> None:
    with Store.open(built[0]) as store:
        with pytest.raises(CaseError, match="nope"):
            build_report(store, "nope")
        with pytest.raises(InputError, match="pdf"):
            render_report(store, "vastaamo", "pdf")
        with pytest.raises(InputError, match="no trace run 99"):
            build_report(store, "vastaamo", run_id=99)


def test_without_a_trace_the_payments_part_still_renders(case_copy: Path) -> None:
    conn = sqlite3.connect(case_copy)
    with conn:
        for table in ("trace_txs", "trace_sources", "trace_stops", "trace_findings", "trace_runs"):
            conn.execute(f"DELETE FROM {table}")
    conn.close()
    with Store.open(case_copy) as store:
        report = build_report(store, "vastaamo")
        md = render_report(store, "vastaamo", "md")
        page = render_report(store, "vastaamo", "html")
        doc = json.loads(render_report(store, "vastaamo", "json"))
    assert report.trace is None and report.freeze_requests == ()
    assert report.summary.count > 0 and report.payments
    for text in (md, page):
        assert "No trace has been run for this case yet" in text
        assert format_btc(report.summary.total_sat) in text
    assert doc["trace"] is None and doc["freeze_requests"] == []


def test_a_reverted_payment_leaves_the_totals_but_stays_on_the_timeline(case_copy: Path) -> None:
    with Store.open(case_copy) as store:
        before = build_report(store, "vastaamo")
        first = list_events(store, case="vastaamo", kinds=["payment_received"])[0].as_dict()
        revert = revert_event(first["id"], "vastaamo", first["txid"], "replaced by fee")
        record_events(store, [revert], [], seen_at="2030-01-01T00:00:00Z")
        after = build_report(store, "vastaamo")
        md = render_markdown(after)
    assert after.summary.count == before.summary.count - 1
    assert after.summary.total_sat == before.summary.total_sat - first["value_sat"]
    assert (first["txid"], first["vout"]) not in {(p.txid, p.vout) for p in after.payments}
    original = [e for e in after.timeline if e.kind == "payment_received" and e.reverted]
    assert [(e.txid, e.vout) for e in original] == [(first["txid"], first["vout"])]
    last = after.timeline[-1]
    assert (last.kind, last.time) == ("reverted", "2030-01-01T00:00:00Z")
    assert last.note == f"reverts event {first['id']}: replaced by fee"
    assert "payment received (reverted)" in md


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Coinbank", "Coinbank"),
        ("a|b", "a\\|b"),
        ("[x](http://evil)", "\\[x\\](http://evil)"),
        ("<b>*hi*</b>", "&lt;b&gt;\\*hi\\*&lt;/b&gt;"),
        ("two\nlines", "two lines"),
    ],
)
def test_markdown_cells_show_text_literally(text: str, shown: str) -> None:
    assert md_text(text) == shown


def test_every_fiat_figure_names_its_price_source(report: CaseReport) -> None:
    """Each payment row's "Priced at" cell points ([Pn]) at the source that priced it."""
    md = render_markdown(report)
    page = render_html(report)
    listed = [f"[P{n}] {s}" for n, s in enumerate(report.price_sources, 1)]
    priced = [p for p in report.payments if p.eur is not None]
    assert priced and report.price_sources
    for p in priced:
        assert p.price_source in report.price_sources
        ref = f"[P{report.price_sources.index(p.price_source) + 1}]"
        row = next(line for line in md.splitlines() if f"{p.txid}:{p.vout}" in line and "|" in line)
        assert md_text(ref) in row
    assert "Prices: " + "; ".join(md_text(s) for s in listed) in md
    assert all(s.split(" ", 1)[0] in page for s in listed)
