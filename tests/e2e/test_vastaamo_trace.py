"""Tracing the simulated Vastaamo-like case from its ransom payments to the exchanges.

The case is watched once with the tip at the end of the story (address mode catches up every
history), the scenario's exchange hot-wallet tag pack is imported, and `btcwatch trace --case`
runs through the real CLI against the simulator on loopback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from typer.testing import CliRunner

from btcwatch.cli import app
from btcwatch.intake import add_addresses, create_case
from btcwatch.model import OutPoint
from btcwatch.providers import PoolSettings
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.store import Store
from btcwatch.trace.run.stored import reopen
from btcwatch.watch.runner import WatchOptions
from btcwatch.watch.service import WatchRun, run_watch


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    scenario = vastaamo(victims=300, seed=2020, background=3)
    truth = scenario.ground_truth()
    tmp = tmp_path_factory.mktemp("trace")
    db = tmp / "v.db"
    with Store.open(db) as store:
        create_case(store, "vastaamo")
        add_addresses(store, "vastaamo", [r["address"] for r in truth["ransom_addresses"]])
    scenario.write_tagpack(tmp / "exchanges.yaml")
    chain = SimChain.from_scenario(scenario, tip="end")
    with SimServer(chain) as server:
        run_watch(
            db,
            WatchRun(
                WatchOptions("vastaamo", "address"),
                alerts=[],
                pool=PoolSettings(explorers=(server.url,)),
            ),
        )
        yield {"db": db, "truth": truth, "url": server.url, "tmp": tmp, "server": server}


def cli(db: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, ["--db", str(db), *args], env={})
    assert result.exit_code == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def traced(case: dict[str, Any]) -> dict[str, Any]:
    cli(case["db"], "tags", "import", str(case["tmp"] / "exchanges.yaml"))
    out = cli(
        case["db"],
        "trace",
        "--case",
        "vastaamo",
        "--taint",
        "haircut",
        "--explorer",
        case["url"],
        "--json",
    )
    return json.loads(out.stdout)


def test_exchange_amounts_within_one_percent_of_ground_truth(case, traced) -> None:
    truth = case["truth"]["exchange_totals"]
    exchanges = {k: v for k, v in traced["entities"].items() if k != "CoinJoin"}
    assert set(exchanges) == set(truth)
    for name, sats in truth.items():
        assert abs(exchanges[name] - sats) <= sats / 100, name
        assert exchanges[name] <= sats  # haircut never invents taint


def test_freeze_points_are_the_simulated_deposits(case, traced) -> None:
    deposits = {(p["txid"], p["vout"]): p["exchange"] for p in case["truth"]["peels"]}
    found = {
        (e["txid"], e["vout"]): e["entity"]
        for e in traced["endpoints"]
        if e["reason"] == "exchange_deposit"
    }
    tagged = {
        (e["txid"], e["vout"]): e["entity"] for e in traced["endpoints"] if e["reason"] == "tagged"
    }
    assert {**found, **tagged} == deposits
    for e in traced["endpoints"]:
        if e["entity"] and e["entity"] != "CoinJoin":
            assert e["taint_eur"] and e["taint_usd"]  # priced at the day it arrived


def test_stops_at_the_coinjoin_and_recognises_the_peel_chain(case, traced) -> None:
    truth = case["truth"]
    assert traced["coinjoins"] == [truth["coinjoin_txid"]]
    [chain] = traced["peel_chains"]
    assert [p["txid"] for p in chain["peels"]] == [p["txid"] for p in truth["peels"]]
    assert chain["total_peeled_sat"] == sum(p["value_sat"] for p in truth["peels"])


def test_clusters_each_sweep_of_ransom_addresses(case, traced) -> None:
    clusters = [set(c["addresses"]) for c in traced["clusters"]]
    for sweep in case["truth"]["sweeps"]:
        swept = set(sweep["input_addresses"])
        if len(swept) > 1:
            assert any(swept <= c for c in clusters), sweep["txid"]


def test_dust_adds_no_taint_and_taint_is_conserved(case, traced) -> None:
    with Store.open(case["db"]) as store:
        analysis = reopen(store, traced["run_id"])
    for dust in case["truth"]["dust"]:
        assert analysis.taint.taint_of(OutPoint(dust["txid"], dust["vout"])) == 0
    ends = sum(e["taint_sat"] for e in traced["endpoints"])
    assert ends + traced["fee_taint_sat"] == traced["source_total_sat"]


def test_requests_stay_within_two_per_tx_and_second_run_is_cached(case, traced) -> None:
    assert traced["requests"] <= 2 * traced["txs"]
    again = json.loads(
        cli(
            case["db"],
            "traces",
            "rerun",
            str(traced["run_id"]),
            "--explorer",
            case["url"],
            "--json",
        ).stdout
    )
    assert again["requests"] == 0 and again["cache"]["fetched_txs"] == 0
    assert again["entities"] == traced["entities"]


def test_export_formats_read_back(case, traced, tmp_path: Path) -> None:
    from btcwatch.export.flowgraph import run_graph

    with Store.open(case["db"]) as store:
        built = run_graph(store, traced["run_id"])
    graphml = tmp_path / "flow.graphml"
    cli(
        case["db"],
        "export",
        "--trace",
        str(traced["run_id"]),
        "--format",
        "graphml",
        "-o",
        str(graphml),
    )
    gexf = tmp_path / "flow.gexf"
    cli(case["db"], "export", "--case", "vastaamo", "--format", "gexf", "-o", str(gexf))
    for back in (nx.read_graphml(graphml), nx.read_gexf(gexf)):
        assert back.number_of_nodes() == built.number_of_nodes()
        assert back.number_of_edges() == built.number_of_edges()
        assert back.is_directed()
    back = nx.read_graphml(graphml)
    for node, attrs in built.nodes(data=True):
        keys = (
            ("height", "fee_sat", "coinjoin")
            if attrs["kind"] == "tx"
            else ("taint_sat", "received_sat", "entity", "role")
        )
        for key in keys:
            assert back.nodes[node][key] == attrs[key], (node, key)
    assert sum(1 for _, a in built.nodes(data=True) if a.get("category") == "exchange") >= len(
        case["truth"]["exchange_totals"]
    )
    listed = json.loads(cli(case["db"], "traces", "list", "--json").stdout)
    assert traced["run_id"] in [r["id"] for r in listed]
    for fmt in ("json", "cyjs", "dot", "html"):
        out = tmp_path / f"flow.{fmt}"
        cli(case["db"], "export", "--case", "vastaamo", "--format", fmt, "-o", str(out))
        assert out.stat().st_size > 1000
    cli(case["db"], "export", "--case", "vastaamo", "--format", "csv", "-o", str(tmp_path / "csv"))
    with (tmp_path / "csv" / "nodes.csv").open(encoding="utf-8") as fh:
        assert sum(1 for _ in fh) == built.number_of_nodes() + 1
