"""validate_graph: the one gate every writer passes; each refusal names what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import networkx as nx
import pytest
from export_graphs import addr, txid

from btcwatch.case import Role
from btcwatch.export import FORMATS, export_graph
from btcwatch.export.graph_schema import (
    ADDRESS_ATTRS,
    CATEGORIES,
    CATEGORY_COLOURS,
    EDGE_ATTRS,
    ROLE_COLOURS,
    ROLES,
    TX_ATTRS,
    display_label,
    edge_id,
    validate_graph,
)
from btcwatch.tags import CATEGORIES as TAG_CATEGORIES
from btcwatch.timefmt import iso_utc

Factory = Callable[[], nx.MultiDiGraph]

RANSOM_1 = f"addr:{addr('ransom-1')}"
SWEEP = f"tx:{txid('sweep')}"
PAY_1 = txid("pay-1")


def _first_edge(g: nx.MultiDiGraph, kind: str) -> tuple[str, str, str]:
    for u, v, key, data in sorted(g.edges(keys=True, data=True), key=lambda e: e[:3]):
        if data["kind"] == kind:
            return u, v, key
    raise AssertionError(kind)


def test_the_test_graphs_are_valid(
    flow_graph: nx.MultiDiGraph, wannacry_graph: nx.MultiDiGraph
) -> None:
    validate_graph(flow_graph)
    validate_graph(wannacry_graph)
    assert (flow_graph.number_of_nodes(), flow_graph.number_of_edges()) == (20, 21)
    assert (wannacry_graph.number_of_nodes(), wannacry_graph.number_of_edges()) == (18, 361)


def test_schema_attribute_sets_are_what_the_brief_says() -> None:
    assert list(ADDRESS_ATTRS) == [
        "kind", "address", "label", "entity", "category", "role", "cluster", "taint_sat",
        "received_sat", "first_seen", "stop_reason", "is_source", "evidence",
    ]  # fmt: skip
    assert list(TX_ATTRS) == [
        "kind", "txid", "height", "time", "fee_sat", "coinjoin", "peel", "change_vout",
        "findings", "evidence",
    ]  # fmt: skip
    assert list(EDGE_ATTRS) == [
        "kind", "outpoint", "value_sat", "value_btc", "value_eur", "price_time",
        "price_resolution", "price_source", "time", "height", "taint_sat", "is_change", "hop",
    ]  # fmt: skip


@pytest.mark.parametrize("name", ["label", "taint_sat", "is_source", "evidence"])
def test_none_on_a_node_is_refused_naming_node_and_attribute(
    graph_factory: Factory, name: str
) -> None:
    g = graph_factory()
    g.nodes[RANSOM_1][name] = None
    with pytest.raises(ValueError, match=rf"node '{RANSOM_1}': attribute '{name}' is None"):
        validate_graph(g)


def test_none_on_an_edge_is_refused_naming_the_edge(graph_factory: Factory) -> None:
    g = graph_factory()
    u, v, key = RANSOM_1, SWEEP, f"{PAY_1}:0"
    g.edges[u, v, key]["value_eur"] = None
    with pytest.raises(ValueError) as info:
        validate_graph(g)
    message = str(info.value)
    assert f"edge '{u}' -> '{v}' (key '{key}')" in message
    assert "attribute 'value_eur' is None" in message


def test_none_graph_attribute_is_refused(graph_factory: Factory) -> None:
    g = graph_factory()
    g.graph["policy"] = None
    with pytest.raises(ValueError, match="graph attribute 'policy' is None"):
        validate_graph(g)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_refuses_none_and_writes_nothing(
    graph_factory: Factory, tmp_path: Path, fmt: str
) -> None:
    g = graph_factory()
    g.nodes[SWEEP]["fee_sat"] = None
    target = tmp_path / f"out.{fmt}"
    with pytest.raises(ValueError, match=rf"node '{SWEEP}': attribute 'fee_sat' is None"):
        export_graph(g, fmt, target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda g: g.nodes[RANSOM_1].pop("cluster"), "attribute 'cluster' is missing"),
        (lambda g: g.nodes[RANSOM_1].update(colour="red"), "'colour' is not in the schema"),
        (lambda g: g.nodes[RANSOM_1].update(cluster=True), "'cluster' must be int, not bool"),
        (lambda g: g.nodes[RANSOM_1].update(is_source=1), "'is_source' must be bool, not int"),
        (lambda g: g.nodes[RANSOM_1].update(taint_sat=1.5), "'taint_sat' must be int, not float"),
        (lambda g: g.nodes[RANSOM_1].update(category="bank"), "category 'bank' is not one of"),
        (lambda g: g.nodes[RANSOM_1].update(role="boss"), "role 'boss' is not one of"),
        (lambda g: g.nodes[RANSOM_1].update(cluster=-2), "'cluster' must be >= -1"),
        (lambda g: g.nodes[RANSOM_1].update(label="a\x00b"), "control character U\\+0000"),
        (lambda g: g.nodes[SWEEP].update(findings="{}"), "'findings' must be a JSON array"),
        (lambda g: g.nodes[SWEEP].update(txid="AB" * 32), "not 64 lower-case hex digits"),
        (lambda g: g.nodes[SWEEP].update(kind="block"), "kind 'block' is neither"),
        (lambda g: g.graph.update(created_at="yesterday"), "'created_at' is not an ISO"),
        (lambda g: g.graph.update(trace_id=4.2), "'trace_id' must be int or str"),
        (lambda g: g.graph.pop("case"), "graph attribute 'case' is missing"),
        (lambda g: g.graph.update(name="x"), "graph attribute 'name' is not in the schema"),
    ],
)
def test_bad_attributes_are_named(
    graph_factory: Factory, mutate: Callable[[nx.MultiDiGraph], object], message: str
) -> None:
    g = graph_factory()
    mutate(g)
    with pytest.raises(ValueError, match=message):
        validate_graph(g)


def test_edge_to_a_node_never_added_is_refused(graph_factory: Factory) -> None:
    g = graph_factory()
    op = f"{txid('sweep')}:5"
    g.add_edge(
        SWEEP,
        "addr:1Ghost",
        key=op,
        **g.edges[SWEEP, f"addr:{addr('attacker')}", f"{txid('sweep')}:0"],
    )
    with pytest.raises(ValueError, match="node 'addr:1Ghost': attribute 'kind' is missing"):
        validate_graph(g)


def test_edge_checks(graph_factory: Factory) -> None:
    g = graph_factory()
    u, v, key = _first_edge(g, "output")
    data = dict(g.edges[u, v, key])

    def refused(message: str, **changes: object) -> None:
        h = graph_factory()
        h.edges[u, v, key].update(changes)
        with pytest.raises(ValueError, match=message):
            validate_graph(h)

    refused("differs from the key", outpoint=f"{'0' * 64}:9")
    refused("does not match value_sat", value_btc="1.0")
    refused("taint_sat .* exceeds value_sat", taint_sat=data["value_sat"] + 1)
    refused("is not a decimal amount", value_eur="12,50")
    refused("kind 'spend' is neither", kind="spend")
    refused("an input edge must go from an address to a tx", kind="input")
    refused("'hop' must be >= 0", hop=-1)


def test_a_fiat_value_names_its_price_and_no_value_names_none(graph_factory: Factory) -> None:
    u, v, key = _first_edge(graph_factory(), "output")
    priced = {
        "value_eur": "12.50",
        "price_time": "2026-09-21T14:00:00Z",
        "price_resolution": "hour",
        "price_source": "mempool hourly price (evidence 3)",
    }

    def check(**changes: object) -> None:
        h = graph_factory()
        h.edges[u, v, key].update({**priced, **changes})
        validate_graph(h)

    check()
    check(price_time="2020-10-21", price_resolution="day")
    for name in ("price_time", "price_resolution", "price_source"):
        with pytest.raises(ValueError, match=f"value_eur '12.50' has no {name}"):
            check(**{name: ""})
        with pytest.raises(ValueError, match=f"{name} .* is set but value_eur is ''"):
            check(**{**dict.fromkeys(priced, ""), name: "x"})
    with pytest.raises(ValueError, match="price_resolution 'minute' is not one of"):
        check(price_resolution="minute")
    with pytest.raises(ValueError, match="price_time 'yesterday' is not an ISO"):
        check(price_time="yesterday")


def test_edge_key_must_be_an_outpoint(graph_factory: Factory) -> None:
    g = graph_factory()
    u, v, key = _first_edge(g, "input")
    data = g.edges[u, v, key]
    g.remove_edge(u, v, key)
    g.add_edge(u, v, key=0, **data)
    with pytest.raises(ValueError, match="the key must be an outpoint"):
        validate_graph(g)


def test_an_output_belongs_to_its_tx_and_change_matches_change_vout(graph_factory: Factory) -> None:
    g = graph_factory()
    attacker = f"addr:{addr('attacker')}"
    key = f"{txid('sweep')}:0"
    g.edges[SWEEP, attacker, key]["is_change"] = True  # sweep has change_vout -1
    with pytest.raises(ValueError, match="is_change is true but the tx's change_vout is -1"):
        validate_graph(g)


def test_an_outpoint_spent_twice_is_refused(graph_factory: Factory) -> None:
    g = graph_factory()
    key = f"{PAY_1}:0"
    data = dict(g.edges[RANSOM_1, SWEEP, key])
    peel = f"tx:{txid('peel-1')}"
    g.add_edge(RANSOM_1, peel, key=key, **data)
    with pytest.raises(ValueError, match=f"outpoint {key} is already the input of"):
        validate_graph(g)


def test_only_multidigraphs() -> None:
    with pytest.raises(ValueError, match=r"must be a networkx\.MultiDiGraph, not DiGraph"):
        validate_graph(nx.DiGraph())  # type: ignore[arg-type]


def test_non_str_node_ids_are_named(graph_factory: Factory) -> None:
    g = graph_factory()
    g.add_node(7, kind="address")
    with pytest.raises(ValueError, match="node 7: node ids must be str, not int"):
        validate_graph(g)


def test_helpers() -> None:
    assert edge_id("input", "ab:0") == "input:ab:0"
    assert iso_utc(0) == ""
    assert iso_utc(1603432800) == "2020-10-23T06:00:00Z"
    assert display_label("addr:x", {"kind": "address", "label": "", "address": "x"}) == "x"
    assert display_label("addr:x", {"kind": "address", "label": "L", "address": "x"}) == "L"
    assert display_label("tx:ab", {"kind": "tx", "txid": "ab"}) == "ab"


def test_vocabularies_follow_tags_and_case_and_all_have_colours() -> None:
    assert (*TAG_CATEGORIES, "") == CATEGORIES
    assert (*(r.value for r in Role), "") == ROLES
    assert set(CATEGORY_COLOURS) == set(CATEGORIES)
    assert set(ROLE_COLOURS) == set(ROLES)
    assert len(set(CATEGORY_COLOURS.values())) == len(CATEGORY_COLOURS)


def test_unknown_created_at_may_be_empty(graph_factory: Factory, tmp_path: Path) -> None:
    g = graph_factory()
    g.graph["created_at"] = ""
    validate_graph(g)
    text = export_graph(g, "gexf", tmp_path / "x.gexf")[0].read_text(encoding="utf-8")
    assert "<meta>" in text and "lastmodifieddate" not in text
