"""The graph's vocabulary has one owner: the builder and the validator read the same words."""

from __future__ import annotations

from typing import get_type_hints

import btcwatch.export.graph_schema as schema
import btcwatch.graphvocab as vocab


def test_the_validator_uses_the_vocabulary_itself() -> None:
    for name in (
        "ADDRESS",
        "TX",
        "INPUT",
        "OUTPUT",
        "GRAPH_ATTRS",
        "ADDRESS_ATTRS",
        "TX_ATTRS",
        "EDGE_ATTRS",
        "address_node_id",
        "tx_node_id",
        "edge_id",
    ):
        assert getattr(schema, name) is getattr(vocab, name), name


def test_ids_and_kinds() -> None:
    txid = "ab" * 32
    assert vocab.address_node_id("bc1qexample") == "addr:bc1qexample"
    assert vocab.tx_node_id(txid) == f"tx:{txid}"
    assert vocab.edge_id(vocab.OUTPUT, f"{txid}:1") == f"output:{txid}:1"
    assert (vocab.ADDRESS, vocab.TX, vocab.INPUT, vocab.OUTPUT) == (
        "address",
        "tx",
        "input",
        "output",
    )


def test_tables_follow_the_typed_dicts_in_column_order() -> None:
    assert dict(vocab.GRAPH_ATTRS) == {
        "title": (str,),
        "case": (str,),
        "trace_id": (int, str),
        "created_at": (str,),
        "policy": (str,),
    }
    assert list(vocab.ADDRESS_ATTRS.items()) == [
        ("kind", str),
        ("address", str),
        ("label", str),
        ("entity", str),
        ("category", str),
        ("role", str),
        ("cluster", int),
        ("taint_sat", int),
        ("received_sat", int),
        ("first_seen", int),
        ("stop_reason", str),
        ("is_source", bool),
        ("evidence", str),
    ]
    assert list(vocab.TX_ATTRS) == [
        "kind",
        "txid",
        "height",
        "time",
        "fee_sat",
        "coinjoin",
        "peel",
        "change_vout",
        "findings",
        "evidence",
    ]
    assert list(vocab.EDGE_ATTRS) == [
        "kind",
        "outpoint",
        "value_sat",
        "value_btc",
        "value_eur",
        "price_time",
        "price_resolution",
        "price_source",
        "time",
        "height",
        "taint_sat",
        "is_change",
        "hop",
    ]
    # The price an edge carries is a subset of the edge, with the same types.
    for name, kind in get_type_hints(vocab.EdgePrice).items():
        assert vocab.EDGE_ATTRS[name] is kind, name
