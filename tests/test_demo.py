"""The demo's shipped inputs match the simulator, and the demo reproduces the ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from btcwatch.demo import MARKER, run_demo
from btcwatch.demo_data import demo_files, demo_scenario
from btcwatch.errors import InputError
from btcwatch.resources import data_file
from btcwatch.store import Store
from btcwatch.store.cases import list_addresses
from btcwatch.store.events import list_events
from btcwatch.verify import verify_bundle


def test_shipped_demo_files_match_the_scenario() -> None:
    for name, text in demo_files(demo_scenario()).items():
        assert data_file("demo", name).read_text(encoding="utf-8") == text, name


@pytest.mark.slow
def test_demo_runs_twice_with_the_same_numbers(tmp_path: Path) -> None:
    out = tmp_path / "demo-output"
    first = run_demo(out)
    truth = first.summary["truth"]
    trace = first.summary["trace"]
    exchanges = {k: v for k, v in trace["entities"].items() if k != "CoinJoin"}
    for name, sats in truth["exchange_totals"].items():
        assert abs(exchanges[name] - sats) <= sats / 100
    assert trace["coinjoins"] == [truth["coinjoin_txid"]]
    for key in ("html", "graphml", "gexf", "report_md", "report_html", "evidence"):
        assert first.files[key].exists()
    # issue 13: the demo's bundle verifies with the simulator stopped, every tx proven
    checked = verify_bundle(first.files["evidence"])
    assert checked.ok, checked.problems
    assert checked.txs_total > 50 and checked.txs_proven == checked.txs_total
    paid = [p for p in truth["payments"] if p["kind"] != "rbf_replaced"]
    facts = first.summary["facts"]
    assert facts.count == len(paid)
    assert facts.total_sat == sum(p["value_sat"] for p in paid)
    assert facts.victims_paid == len({p["address"] for p in paid})
    with Store.open(out / "demo.db") as store:
        ransom = {w.address for w in list_addresses(store, "vastaamo")}
        events = [row.as_dict() for row in list_events(store, case="vastaamo")]
    expected = {(p["txid"], p["vout"]) for p in truth["payments"] if p["kind"] != "rbf_replaced"}
    received = {
        (e["txid"], e["vout"])
        for e in events
        if e["kind"] == "payment_received"
        and not e["reverted_by"]
        and e["address"] in ransom
        and e["address"] in {r["address"] for r in truth["ransom_addresses"]}
    }
    assert received == expected
    second = run_demo(out)
    assert second.summary["trace"]["entities"] == trace["entities"]
    assert (out / MARKER).exists()


def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(InputError, match="not made by the demo"):
        run_demo(tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_demo_placed_in_2026_values_payments_from_the_simulators_prices(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    out = tmp_path / "demo-2026"
    result = run_demo(out, start=datetime(2026, 9, 21, 8, 0, tzinfo=UTC))
    with Store.open(out / "demo.db") as store:
        events = [
            row.as_dict() for row in list_events(store, case="vastaamo", kinds=["payment_received"])
        ]
    assert events
    for e in events:
        eur = e["details"]["fiat"]["EUR"]
        assert e["details"]["time"].startswith("2026-")
        assert eur["value"] is not None and eur["resolution"] == "hour", eur
    verdicts = {e["details"].get("demand_match", {}).get("verdict") for e in events}
    assert {"exact", "late", "partial"} <= verdicts
    assert result.files["report_md"].exists()
