"""blockchain.info parsers over the recorded WannaCry /rawaddr histories."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from provider_fakes import WANNACRY_ADDRESSES, own_txids, placeholders, wannacry

from btcwatch.chain.address import Address
from btcwatch.chain.network import MAINNET
from btcwatch.errors import BadResponse
from btcwatch.model import BlockInfo, BlockRef, OutSpend, Tip
from btcwatch.providers.blockchain_info_parse import (
    input_refs,
    parse_block,
    parse_latestblock,
    parse_multiaddr,
    parse_outspends,
    parse_rawaddr_page,
    parse_tx,
    spender_refs,
    stats_from_history,
)

HISTORIES = {n: wannacry(n) for n in (1, 2, 3)}


@pytest.mark.parametrize("n", [1, 2, 3])
def test_every_wannacry_tx_parses(n: int) -> None:
    history = HISTORIES[n]
    address = history["address"]
    txs = [parse_tx(t, MAINNET, txids=placeholders(history)) for t in history["txs"]]
    assert len(txs) == history["n_tx"] == len({t.txid for t in txs})
    for tx, obj in zip(txs, history["txs"], strict=True):
        assert (
            tx.txid == obj["hash"] and tx.version == obj["ver"] and tx.locktime == obj["lock_time"]
        )
        assert tx.block == BlockRef(obj["block_height"], None, obj["time"])
        assert tx.fee is not None and tx.fee >= 0
        if "fee" in obj:  # not in these 2017 recordings; newer responses carry it
            assert tx.fee == obj["fee"]
        assert [o.value for o in tx.outputs] == [o["value"] for o in obj["out"]]
        assert [o.address for o in tx.outputs] == [o.get("addr") for o in obj["out"]]
        assert any(o.address == address for o in tx.outputs) or any(
            i.prev_address == address for i in tx.inputs
        )
    received = sum(o.value for t in txs for o in t.outputs if o.address == address)
    sent = sum(i.prev_value or 0 for t in txs for i in t.inputs if i.prev_address == address)
    assert (received, sent) == (history["total_received"], history["total_sent"])
    assert received - sent == history["final_balance"]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_spends_of_the_address_resolve_from_its_own_history(n: int) -> None:
    """Every input spending the ransom address names a tx that is in the same history, so
    following the cash-out never needs the extra /rawtx/<tx_index> requests."""
    history = HISTORIES[n]
    txids = own_txids(history)
    for obj in history["txs"]:
        for vin in obj["inputs"]:
            if vin["prev_out"]["addr"] == history["address"]:
                assert vin["prev_out"]["tx_index"] in txids


def test_the_six_cash_outs_of_2017_08_03() -> None:
    address_set = set(WANNACRY_ADDRESSES)
    cash_outs = {}
    for history in HISTORIES.values():
        for obj in history["txs"]:
            tx = parse_tx(obj, MAINNET, txids=placeholders(history))
            if any(i.prev_address in address_set for i in tx.inputs):
                cash_outs[tx.txid] = tx
    assert len(cash_outs) == 6
    days = {
        datetime.fromtimestamp(t.block.time, UTC).date().isoformat()
        for t in cash_outs.values()
        if t.block
    }
    assert days == {"2017-08-03"}
    # blockchain.info's tx time is not the block time: the tx of the earliest block has the
    # latest time of the six.
    by_height = sorted(cash_outs.values(), key=lambda t: t.block.height if t.block else 0)
    assert by_height[0].block and by_height[-1].block
    assert by_height[0].block.time > by_height[-1].block.time


def test_unresolved_input_names_its_tx_index() -> None:
    obj = HISTORIES[1]["txs"][0]
    index = obj["inputs"][0]["prev_out"]["tx_index"]
    with pytest.raises(BadResponse, match=f"spends tx_index {index}, whose txid is not known"):
        parse_tx(obj, MAINNET, txids=own_txids(HISTORIES[1]))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_stats_from_history_match_the_reported_totals(n: int) -> None:
    history = HISTORIES[n]
    page = parse_rawaddr_page(history)
    script = Address.parse(page.address, MAINNET).script
    stats = stats_from_history(page.address, script, page.txs, page)
    assert stats.tx_count == history["n_tx"]
    assert stats.funded_txo_sum == history["total_received"]
    assert stats.spent_txo_sum == history["total_sent"]
    assert stats.balance == history["final_balance"]
    assert stats.mempool_tx_count == 0


def test_stats_refuse_totals_that_do_not_add_up() -> None:
    history = copy.deepcopy(HISTORIES[1])
    history["total_received"] += 1
    history["final_balance"] += 1
    page = parse_rawaddr_page(history)
    script = Address.parse(page.address, MAINNET).script
    with pytest.raises(BadResponse, match="do not match its history"):
        stats_from_history(page.address, script, page.txs, page)
    short = parse_rawaddr_page(dict(HISTORIES[1], txs=HISTORIES[1]["txs"][:50]))
    with pytest.raises(BadResponse, match="n_tx 115 but 50 txs were listed"):
        stats_from_history(short.address, script, short.txs, short)


def test_unconfirmed_txs_count_as_mempool() -> None:
    history = copy.deepcopy(HISTORIES[1])
    del history["txs"][0]["block_height"]
    page = parse_rawaddr_page(history)
    script = Address.parse(page.address, MAINNET).script
    stats = stats_from_history(page.address, script, page.txs, page)
    assert stats.mempool_tx_count == 1 and stats.tx_count == 114
    assert stats.mempool_funded_txo_sum == 9_000_000  # tx 9f7d5958... paid 0.09 BTC
    tx = parse_tx(history["txs"][0], MAINNET, txids=placeholders(history))
    assert tx.block is None


def test_p2pk_output_gets_no_address() -> None:
    """blockchain.info shows a P2PK output under its key's P2PKH address; btcwatch does not."""
    obj = copy.deepcopy(HISTORIES[1]["txs"][0])
    key = "0261542eb020b36c1da48e2e607b90a8c1f2ccdbd06eaf5fb4bb0d7cc34293d32a"
    obj["out"][1]["script"] = f"21{key}ac"
    obj["out"][1]["addr"] = "1JshgSSHosZBpDHmJHEuPwYsexUYzCcEYa"
    tx = parse_tx(obj, MAINNET, txids=placeholders(HISTORIES[1]))
    assert tx.outputs[1].address is None
    assert tx.outputs[1].script == bytes.fromhex(f"21{key}ac")


BROKEN = [
    (lambda t: t.pop("hash"), "tx has no 'hash'"),
    (lambda t: t.__setitem__("ver", None), "tx.ver is null"),
    (lambda t: t["out"][0].__setitem__("value", -1), r"tx.out\[0\].value is -1"),
    (lambda t: t["out"][0].__setitem__("script", "76a9f"), "is not hex"),
    (lambda t: t["out"][1].__setitem__("n", 7), r"tx.out\[1\].n is 7, expected 1"),
    (lambda t: t["inputs"][0]["prev_out"].pop("value"), "prev_out has no 'value'"),
    (
        lambda t: t["out"][0].__setitem__("addr", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"),
        "says address 1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
    ),
    (lambda t: t.__setitem__("fee", 5), "tx.fee is 5 but inputs minus outputs is"),
    (lambda t: t.__setitem__("block_height", "479819"), "tx.block_height is a string"),
]


@pytest.mark.parametrize(("breakage", "message"), BROKEN)
def test_malformed_tx_is_a_bad_response(breakage: Any, message: str) -> None:
    obj = copy.deepcopy(HISTORIES[1]["txs"][0])
    breakage(obj)
    with pytest.raises(BadResponse, match=message) as info:
        parse_tx(obj, MAINNET, txids=placeholders(HISTORIES[1]))
    assert str(info.value).startswith("blockchain.info: bad response: ")


def test_coinbase_input_has_no_prev_out() -> None:
    obj = copy.deepcopy(HISTORIES[1]["txs"][0])
    obj["inputs"] = [{"sequence": 4294967295, "script": "03aabbcc", "witness": ""}]
    tx = parse_tx(obj, MAINNET)
    assert tx.is_coinbase and tx.fee == 0 and input_refs(obj) == set()


def test_outspends_from_spending_outpoints() -> None:
    obj = copy.deepcopy(HISTORIES[1]["txs"][0])
    obj["out"][1]["spending_outpoints"] = [{"tx_index": 42, "n": 3}]
    assert spender_refs(obj) == {42}
    block = BlockRef(480000, None, 1502300000)
    obj["out"][2]["spending_outpoints"] = [{"tx_index": 42, "n": 4}]
    obj["out"][3]["spending_outpoints"] = [{"tx_index": 42, "n": 5}]
    spends = parse_outspends(obj, {42: ("cd" * 32, block)})
    assert spends[0] == OutSpend(False)
    assert spends[1] == OutSpend(True, "cd" * 32, 3, block)
    del obj["out"][3]["spending_outpoints"]  # the 2017 recordings only say "spent": true
    with pytest.raises(BadResponse, match=r"tx.out\[3\] is spent but the body does not say"):
        parse_outspends(obj, {42: ("cd" * 32, block)})


def test_latestblock_and_blocks() -> None:
    tip = parse_latestblock({"hash": "00" * 32, "height": 850000, "time": 1, "block_index": 9})
    assert tip == Tip(850000, "00" * 32)
    block = {"hash": "11" * 32, "prev_block": "22" * 32, "height": 5, "time": 7, "n_tx": 2}
    assert parse_block(block) == BlockInfo(5, "11" * 32, "22" * 32, 7, 2)
    assert parse_block(dict(block, prev_block="0" * 64)).prev_hash is None


def test_multiaddr_totals() -> None:
    rows = [
        {
            k: HISTORIES[n][k]
            for k in ("address", "n_tx", "total_received", "total_sent", "final_balance")
        }
        for n in (1, 2, 3)
    ]
    stats = parse_multiaddr({"addresses": rows})
    assert set(stats) == set(WANNACRY_ADDRESSES)
    first = stats[WANNACRY_ADDRESSES[0]]
    assert (first.tx_count, first.funded_txo_sum, first.balance) == (115, 1450067602, 9000000)
    rows[0]["final_balance"] += 1
    with pytest.raises(BadResponse, match="final_balance != total_received - total_sent"):
        parse_multiaddr({"addresses": rows})
