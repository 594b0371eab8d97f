"""nodes.csv + edges.csv: golden bytes, exact round trip, formula-injection protection."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import networkx as nx
import pytest
from export_graphs import SCRIPT_LABEL, addr, check_golden
from hypothesis import given
from hypothesis import strategies as st

from btcwatch.errors import InputError
from btcwatch.export.csvfmt import (
    EDGE_COLUMNS,
    NODE_COLUMNS,
    protect_cell,
    unprotect_cell,
    write_csv,
)
from btcwatch.export.graph_schema import ADDRESS_ATTRS, TX_ATTRS, edge_id
from btcwatch.timefmt import iso_utc

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [{k: unprotect_cell(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _raw_cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def test_writes_a_folder_with_two_files(flow_graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    folder = tmp_path / "case42" / "csv"
    written = write_csv(flow_graph, folder)
    assert written == [folder / "nodes.csv", folder / "edges.csv"]
    check_golden("nodes.csv", written[0].read_bytes())
    check_golden("edges.csv", written[1].read_bytes())


def test_a_file_in_the_way_is_an_input_error(flow_graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    with pytest.raises(InputError, match="writes a folder"):
        write_csv(flow_graph, tmp_path / "out")


def test_header_and_format(flow_graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    nodes, edges = write_csv(flow_graph, tmp_path)
    raw = nodes.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.startswith(b'"Id","Type","Label","Address","TxID"')
    assert b"\r\n" in raw
    assert edges.read_bytes().startswith(b'"Id","Source","Target","Type","Kind","Outpoint"')
    assert [c for c, _ in NODE_COLUMNS][:3] == ["Id", "Type", "Label"]
    assert "Value (BTC)" in [c for c, _ in EDGE_COLUMNS]


@pytest.mark.parametrize("graph_name", ["flow_graph", "wannacry_graph"])
def test_round_trip(graph_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    g: nx.MultiDiGraph = request.getfixturevalue(graph_name)
    nodes_path, edges_path = write_csv(g, tmp_path)
    nodes = {row["Id"]: row for row in _read(nodes_path)}
    assert set(nodes) == set(g.nodes)
    columns = {
        "address": "Address", "label": "Address Label", "entity": "Entity",
        "category": "Category", "role": "Role", "cluster": "Cluster", "is_source": "Is Source",
        "taint_sat": "Taint (sats)", "received_sat": "Received (sats)",
        "first_seen": "First Seen (unix)", "stop_reason": "Stop Reason", "evidence": "Evidence",
        "txid": "TxID", "height": "Height", "time": "Time (unix)", "fee_sat": "Fee (sats)",
        "coinjoin": "CoinJoin", "peel": "Peel", "change_vout": "Change Vout",
        "findings": "Findings",
    }  # fmt: skip
    for node, data in g.nodes(data=True):
        row = nodes[node]
        assert row["Type"] == data["kind"]
        schema = ADDRESS_ATTRS if data["kind"] == "address" else TX_ATTRS
        for name, python_type in schema.items():
            if name == "kind":
                continue
            cell = row[columns[name]]
            value = cell == "true" if python_type is bool else python_type(cell)
            assert value == data[name], f"{node} {name}: {cell!r}"
        if data["kind"] == "address":
            assert row["First Seen (ISO UTC)"] == iso_utc(data["first_seen"])
            assert row["TxID"] == "" and row["Height"] == ""
        else:
            assert row["Time (ISO UTC)"] == iso_utc(data["time"])
            assert row["Address"] == "" and row["Entity"] == ""

    edges = {row["Id"]: row for row in _read(edges_path)}
    assert len(edges) == g.number_of_edges()
    for u, v, key, data in g.edges(keys=True, data=True):
        row = edges[edge_id(data["kind"], key)]
        assert (row["Source"], row["Target"], row["Kind"], row["Outpoint"]) == (
            u, v, data["kind"], key,
        )  # fmt: skip
        assert row["Value (BTC)"] == data["value_btc"]
        assert int(row["Value (sats)"]) == data["value_sat"]
        assert row["Value (EUR)"] == data["value_eur"]
        assert int(row["Taint (sats)"]) == data["taint_sat"]
        assert int(row["Time (unix)"]) == data["time"]
        assert int(row["Height"]) == data["height"]
        assert row["Is Change"] == ("true" if data["is_change"] else "false")
        assert int(row["Hop"]) == data["hop"]
        tx, address = (v, u) if data["kind"] == "input" else (u, v)
        assert row["TxID"] == tx.removeprefix("tx:")
        assert row["Address"] == address.removeprefix("addr:")


def test_every_cell_is_protected(flow_graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    for path in write_csv(flow_graph, tmp_path):
        for cell in _raw_cells(path):
            if cell.startswith(DANGEROUS):
                assert cell.lstrip("-").replace(".", "", 1).isdigit(), f"unprotected: {cell!r}"
    nodes = {row["Id"]: row for row in csv.DictReader(io.StringIO(
        (tmp_path / "nodes.csv").read_text(encoding="utf-8"), newline=""))}  # fmt: skip
    change_1 = nodes[f"addr:{addr('change-1')}"]
    assert change_1["Label"] == '\'=HYPERLINK("http://evil.example","click")'
    assert change_1["Address Label"] == change_1["Label"]
    assert nodes[f"addr:{addr('change-2')}"]["Label"] == "'+358 40 123 4567"
    assert nodes[f"addr:{addr('mixer-out-1')}"]["Label"] == "'@mixer output 1"
    assert nodes[f"addr:{addr('other-in-2')}"]["Label"] == "'\tTabbed"
    assert nodes[f"addr:{addr('coinjoin-change')}"]["Label"].startswith("'-1+1 =cmd")
    assert nodes[f"addr:{addr('exchange-2')}"]["Label"] == SCRIPT_LABEL  # harmless in a sheet
    assert nodes[f"addr:{addr('other-in-1')}"]["Cluster"] == "-1"  # a plain number stays one


@pytest.mark.parametrize(
    ("raw", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-x", "'-x"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=x", "''=x"),
        ("'", "''"),
        ("-1", "-1"),
        ("-0.5", "-0.5"),
        ("-1+1", "'-1+1"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_protect_cell_cases(raw: str, written: str) -> None:
    assert protect_cell(raw) == written
    assert unprotect_cell(written) == raw


@given(st.text())
def test_protect_is_exactly_reversible_and_safe(text: str) -> None:
    protected = protect_cell(text)
    assert unprotect_cell(protected) == text
    if protected.startswith(DANGEROUS):
        assert protected.lstrip("-").replace(".", "", 1).isdigit()
