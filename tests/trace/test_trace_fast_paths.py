"""The analysis's shortcuts give the answers of the general code they skip.

`detect_change` answers a one-input tx whose sub-heuristics are all silent without running
them, and `analyse` sorts endpoints by a tuple key where it orders as the outpoint's text:
both are checked here against the general path, on crafted txs of every shape the shortcut
reasons about and on real mainnet txs.
"""

from __future__ import annotations

import random

from tracedata import block_txs, esplora_random, wannacry

from btcwatch.model import OutPoint, Tx, TxIn, TxOut
from btcwatch.trace.analyse import Endpoint, _endpoint_key
from btcwatch.trace.change import _silent, detect_change
from btcwatch.trace.evidence import payable_vouts

SCRIPTS = [
    b"\x00\x14" + bytes(20),  # P2WPKH
    b"\x76\xa9\x14" + bytes(20) + b"\x88\xac",  # P2PKH
    b"\x51\x20" + bytes(32),  # P2TR
    b"\xa9\x14" + bytes(20) + b"\x87",  # P2SH
    b"\x6a\x04data",  # OP_RETURN: not payable
]


def _slow(tx: Tx) -> object:
    """detect_change through its general path: a ``seen_before`` saying "seen" for every
    address adds no finding (a fresh address needs a False), but turns the shortcut off."""
    return detect_change(tx, seen_before=lambda _address: True)


def _one_input_tx(rng: random.Random, n: int) -> Tx:
    addresses = [f"addr{k}" for k in range(4)]
    value = rng.choice([None, 1_000_000, 250_000, 123_456, 5_000, 100_000])
    prev_script = rng.choice([None, b"", *SCRIPTS[:4]])
    outputs = []
    for _ in range(rng.randint(1, 4)):
        out_value = rng.choice([0, 1_000, 100_000, 99_000, 200_000, 777_777, 2_000_000])
        script = rng.choice(SCRIPTS)
        outputs.append(TxOut(out_value, script, rng.choice([*addresses, None])))
    txin = TxIn(OutPoint(f"{n:064x}", 0), 0, value, prev_script, rng.choice([*addresses, None]))
    return Tx(f"{n + 10**6:064x}", 2, 0, (txin,), tuple(outputs))


def test_one_input_shortcut_matches_the_general_path_on_crafted_txs() -> None:
    rng = random.Random(10)
    answers = set()
    silent = 0
    for n in range(3_000):
        tx = _one_input_tx(rng, n)
        fast = detect_change(tx)
        assert fast == _slow(tx), tx
        answers.add(fast.reason)
        vouts = payable_vouts(tx)
        silent += len(vouts) >= 2 and _silent(tx, vouts)
    # the shortcut is taken often, and the crafted txs reach the outcomes it must leave to
    # the sub-heuristics
    assert 40 <= silent <= 2_000
    assert {"no_signal", "single_output", "supported", "weak"} <= answers


def test_one_input_shortcut_matches_the_general_path_on_real_txs() -> None:
    txs = [tx for _, tx in block_txs()] + list(esplora_random().values())
    txs += list(wannacry()[1].values())
    one_input = [tx for tx in txs if len(tx.inputs) == 1]
    assert len(one_input) >= 5
    for tx in txs:
        assert detect_change(tx) == _slow(tx)


def _endpoint(txid: str, vout: int, hop: int) -> Endpoint:
    return Endpoint(OutPoint(txid, vout), None, None, None, 0, 0, "unspent", hop, "", None, None)


def _sorted_by_text(endpoints: list[Endpoint]) -> list[Endpoint]:
    return sorted(endpoints, key=lambda e: (e.hop, str(e.outpoint)))


def test_endpoint_order_is_the_outpoint_text_order() -> None:
    rng = random.Random(4)
    txids = [f"{rng.getrandbits(256):064x}" for _ in range(50)]
    one_digit = [
        _endpoint(rng.choice(txids), rng.randrange(10), rng.randrange(3)) for _ in range(300)
    ]
    one_digit = list({e.outpoint: e for e in one_digit}.values())
    # vouts of two digits ("10" sorts before "2") and txids of other lengths ("ab:1" after
    # "ab0:1") keep the text key
    wide = [*one_digit, _endpoint(txids[0], 10, 0), _endpoint(txids[0], 2, 0)]
    short = [*one_digit, _endpoint("ab", 1, 0), _endpoint("ab0", 1, 0)]
    for endpoints in (one_digit, wide, short):
        rng.shuffle(endpoints)
        assert sorted(endpoints, key=_endpoint_key(endpoints)) == _sorted_by_text(endpoints)
