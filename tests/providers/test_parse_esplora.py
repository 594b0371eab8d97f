"""Esplora parsers over every recorded real response, and over broken copies of them."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from provider_fakes import (
    BREEZ,
    BREEZ_OUTSPENDS_TXID,
    ESPLORA_TX_FILES,
    MEMPOOL,
    NOT_TX_FILES,
    esplora_block_objects,
    esplora_tx_objects,
    load,
)

from btcwatch.chain.network import MAINNET, TESTNET
from btcwatch.errors import BadResponse
from btcwatch.model import BlockRef, OutSpend
from btcwatch.providers.esplora_parse import (
    parse_address_stats,
    parse_block,
    parse_outspends,
    parse_outspends_batch,
    parse_tx,
    parse_txids,
)

TX_OBJECTS = list(esplora_tx_objects())


def test_every_recorded_file_is_classified() -> None:
    """Each mempool-space file is parsed as txs, or skipped for a stated reason."""
    names = {p.name for p in MEMPOOL.iterdir()}
    assert names == set(ESPLORA_TX_FILES) | set(NOT_TX_FILES)


@pytest.mark.parametrize(("label", "obj"), TX_OBJECTS, ids=[label for label, _ in TX_OBJECTS])
def test_every_recorded_tx_parses(label: str, obj: dict[str, Any]) -> None:
    tx = parse_tx(obj, MAINNET)
    assert tx.txid == obj["txid"]
    assert tx.fee == obj["fee"]
    assert tx.size == obj["size"] and tx.weight == obj["weight"]
    assert [o.value for o in tx.outputs] == [o["value"] for o in obj["vout"]]
    # Our address rendering agrees with mempool.space wherever it names one.
    assert [o.address or "" for o in tx.outputs] == [
        o.get("scriptpubkey_address", "") for o in obj["vout"]
    ]
    assert [i.prev_address or "" for i in tx.inputs] == [
        v["prevout"].get("scriptpubkey_address", "") for v in obj["vin"]
    ]
    assert [str(i.prevout) for i in tx.inputs] == [f"{v['txid']}:{v['vout']}" for v in obj["vin"]]
    assert tx.confirmed == obj["status"]["confirmed"]


def test_confirmed_tx_has_its_block() -> None:
    obj = load(MEMPOOL / "non-standard-txs.json")[0]
    tx = parse_tx(obj, MAINNET)
    assert tx.block == BlockRef(
        896088, "0000000000000000000148370c6ad0eceb23d0de54ea86a362679cee7fcd3f4a", 1746868490
    )
    assert tx.outputs[0].address is None  # OP_RETURN: mempool.space says "", we say None


def test_script_types_of_block_850000_tx() -> None:
    """The b10c tx spends and creates every script type; P2PK and bare multisig have no address."""
    obj = next(o for _, o in TX_OBJECTS if o["txid"].startswith("b10c0000004da5a9"))
    tx = parse_tx(obj, MAINNET)
    types = [v["scriptpubkey_type"] for v in obj["vout"]]
    for out, kind in zip(tx.outputs, types, strict=True):
        assert (out.address is None) == (kind in ("p2pk", "multisig", "op_return")), kind


def test_network_decides_the_rendering() -> None:
    """A mainnet tx read as testnet: scripts stay, the claimed mainnet address is refused."""
    obj = TX_OBJECTS[0][1]
    with pytest.raises(BadResponse, match="says address"):
        parse_tx(obj, TESTNET)


def test_coinbase_input() -> None:
    obj = copy.deepcopy(TX_OBJECTS[0][1])
    obj["vin"] = [
        {
            "txid": "0" * 64,
            "vout": 4294967295,
            "prevout": None,
            "scriptsig": "03aabbcc",
            "is_coinbase": True,
            "sequence": 4294967295,
        }
    ]
    del obj["fee"]
    tx = parse_tx(obj, MAINNET)
    assert tx.is_coinbase and tx.fee == 0


def _set(obj: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        obj = obj[key]
    if value is _DELETE:
        del obj[path[-1]]
    else:
        obj[path[-1]] = value


_DELETE = object()

BROKEN = [
    (("txid",), _DELETE, "tx has no 'txid'"),
    (("txid",), "xyz", "tx.txid is not a 64-digit hex hash"),
    (("version",), "2", "tx.version is a string, expected an integer"),
    (("locktime",), -1, "tx.locktime is -1, expected an int >= 0"),
    (("vin",), {}, "tx.vin is an object, expected a list"),
    (("vin",), [], "has no inputs"),
    (("vin", 0, "prevout", "value"), -5, r"tx.vin\[0\].prevout.value is -5"),
    (("vin", 0, "prevout", "value"), 1.5, "is a number, expected an integer"),
    (("vin", 0, "prevout", "value"), True, "is a boolean, expected an integer"),
    (("vin", 0, "prevout", "scriptpubkey"), "abc", "is not hex"),
    (("vin", 0), _DELETE, "has no inputs"),
    (("vin", 0, "prevout"), _DELETE, r"tx.vin\[0\] has no 'prevout'"),
    (("vin", 0, "sequence"), 2**32, "expected an int <= 4294967295"),
    (("vout", 0, "value"), 21_000_000 * 10**8 + 1, "expected an int <="),
    (("vout", 0, "scriptpubkey_address"), "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "says address"),
    (("status",), _DELETE, "tx has no 'status'"),
    (("status", "confirmed"), "yes", "expected true or false"),
    (("status",), {"confirmed": True, "block_height": 5}, "has no 'block_hash'"),
    (("fee",), 1, "fee is 1 but inputs minus outputs is"),
]


@pytest.mark.parametrize(("path", "value", "message"), BROKEN)
def test_malformed_tx_is_a_bad_response(path: tuple[Any, ...], value: Any, message: str) -> None:
    obj = copy.deepcopy(load(MEMPOOL / "mainnet_tx_cached.json"))
    _set(obj, path, value)
    with pytest.raises(BadResponse, match=message) as info:
        parse_tx(obj, MAINNET, provider="mempool.space")
    assert str(info.value).startswith("mempool.space: bad response: ")
    assert "\n" not in str(info.value)


def test_not_an_object_at_all() -> None:
    with pytest.raises(BadResponse, match="tx is a list, expected an object"):
        parse_tx([], MAINNET)
    with pytest.raises(BadResponse, match="tx is null"):
        parse_tx(None, MAINNET)


def test_recorded_outspends() -> None:
    obj = load(BREEZ / f"tx_{BREEZ_OUTSPENDS_TXID}_outspends.json")
    spends = parse_outspends(obj)
    assert spends[0] == OutSpend(
        True,
        "4da22eff957b855c8bde2d8b61bdb9e10add799a04c709dd7142cc796cee0b65",
        1,
        BlockRef(
            674365, "000000000000000000038f780364221846a3c11e2a5b33eee69029afe5775a0f", 1615598852
        ),
    )
    assert spends[1].vin == 0 and spends[1].block is not None and spends[1].block.height == 797168


def test_outspends_unspent_and_mempool() -> None:
    spends = parse_outspends(
        [
            {"spent": False},
            {"spent": True, "txid": "ab" * 32, "vin": 3, "status": {"confirmed": False}},
        ]
    )
    assert spends == [OutSpend(False), OutSpend(True, "ab" * 32, 3, None)]
    with pytest.raises(BadResponse, match=r"outspends\[0\] has no 'txid'"):
        parse_outspends([{"spent": True}])


def test_outspends_batch_must_match_the_question() -> None:
    assert parse_outspends_batch([[{"spent": False}], []], ["aa" * 32, "bb" * 32]) == {
        "aa" * 32: [OutSpend(False)],
        "bb" * 32: [],
    }
    with pytest.raises(BadResponse, match="1 outspend lists for 2 txids"):
        parse_outspends_batch([[]], ["aa" * 32, "bb" * 32])


@pytest.mark.parametrize("obj", esplora_block_objects(), ids=lambda b: str(b["height"]))
def test_recorded_blocks_parse(obj: dict[str, Any]) -> None:
    info = parse_block(obj)
    assert (info.height, info.hash, info.prev_hash) == (
        obj["height"],
        obj["id"],
        obj["previousblockhash"],
    )
    assert info.time == obj["timestamp"] and info.tx_count == obj["tx_count"]


def test_address_stats() -> None:
    obj: dict[str, Any] = {
        "address": "bc1qvhykeqcpdzu0pdvy99xnh9ckhwzcfskct6h6l2",
        "chain_stats": {
            "funded_txo_count": 2,
            "funded_txo_sum": 300,
            "spent_txo_count": 1,
            "spent_txo_sum": 100,
            "tx_count": 3,
        },
        "mempool_stats": {
            "funded_txo_count": 1,
            "funded_txo_sum": 5,
            "spent_txo_count": 0,
            "spent_txo_sum": 0,
            "tx_count": 1,
        },
    }
    stats = parse_address_stats(obj)
    assert (stats.tx_count, stats.mempool_tx_count, stats.balance) == (3, 1, 205)
    del obj["mempool_stats"]["funded_txo_sum"]  # Elements-style stats have no sums
    with pytest.raises(BadResponse, match=r"address\.mempool_stats has no 'funded_txo_sum'"):
        parse_address_stats(obj)


def test_txids() -> None:
    assert parse_txids(["AB" * 32]) == ["ab" * 32]
    with pytest.raises(BadResponse, match=r"txids\[1\] is not a 64-digit hex hash"):
        parse_txids(["ab" * 32, "ab"])
