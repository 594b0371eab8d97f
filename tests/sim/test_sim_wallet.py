"""Simulated keys and spends: standard scripts, plausible unlocking data, exact fee sizes."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from btcwatch.chain.address import Address
from btcwatch.chain.network import MAINNET, TESTNET
from btcwatch.chain.script import classify
from btcwatch.chain.tx import parse_tx
from btcwatch.errors import InputError
from btcwatch.sim.wallet import (
    ADDRESS_KINDS,
    DUST,
    Coin,
    KeyFactory,
    build_tx,
    estimate_vsize,
    make_key,
    pay,
)


def hash160(data: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def coin(kind_index: int, value: int, rng: random.Random) -> Coin:
    key = KeyFactory(rng).new(ADDRESS_KINDS[kind_index])
    return Coin(rng.randbytes(32).hex(), rng.randrange(4), value, key)


@pytest.mark.parametrize("kind", ADDRESS_KINDS)
def test_keys_are_standard_and_render_on_every_network(kind: object) -> None:
    key = make_key(kind, bytes(range(32)))  # type: ignore[arg-type]
    assert classify(key.script) == kind
    for network in (MAINNET, TESTNET):
        text = str(Address.from_script(key.script, network))
        assert Address.parse(text, network).script == key.script


def test_revealed_public_keys_hash_to_the_address() -> None:
    rng = random.Random(1)
    for kind_index in (0, 1, 2):  # P2PKH, P2SH-P2WPKH, P2WPKH
        spent = coin(kind_index, 100_000, rng)
        tx = build_tx(rng, [spent], [(spent.key, 90_000)]).tx
        txin = tx.inputs[0]
        pub = txin.script_sig[-33:] if not txin.witness else txin.witness[1]
        assert len(pub) == 33 and pub[0] in (2, 3)
        if kind_index == 0:
            assert spent.key.script[3:23] == hash160(pub)
        elif kind_index == 1:
            assert spent.key.script[2:22] == hash160(b"\x00\x14" + hash160(pub))
        else:
            assert spent.key.script[2:] == hash160(pub)
        sig = txin.witness[0] if txin.witness else txin.script_sig[1:72]
        assert sig[0] == 0x30 and sig[1] == len(sig) - 3 and sig[-1] == 1  # DER + SIGHASH_ALL


@settings(max_examples=60, deadline=None)
@given(
    kinds=st.lists(st.integers(0, 4), min_size=1, max_size=4),
    outs=st.lists(st.integers(0, 4), min_size=1, max_size=4),
    seed=st.integers(0, 2**32),
)
def test_estimated_vsize_is_exact(kinds: list[int], outs: list[int], seed: int) -> None:
    rng = random.Random(seed)
    coins = [coin(k, 1_000_000, rng) for k in kinds]
    payees = [KeyFactory(rng).new(ADDRESS_KINDS[k]) for k in outs]
    built = build_tx(rng, coins, [(k, 1000) for k in payees])
    estimate = estimate_vsize([c.key.kind for c in coins], [k.script for k in payees])
    assert estimate == built.tx.vsize
    assert parse_tx(built.tx.serialize()).txid == built.txid


def test_pay_sets_the_fee_and_leaves_dust_to_the_miner() -> None:
    rng = random.Random(2)
    spent = coin(2, 100_000, rng)
    payee, change = (KeyFactory(rng).new(ADDRESS_KINDS[2]) for _ in range(2))
    built, pos = pay(rng, [spent], [(payee, 50_000)], change, 10.0)
    assert pos is not None and built.fee == int(built.tx.vsize * 10.0)
    assert sum(c.value for c in built.coins) + built.fee == 100_000
    fee_with_change = estimate_vsize([spent.key.kind], [payee.script, change.script]) * 10
    just_too_much = 100_000 - fee_with_change - DUST + 1  # change would be 545 sat: dust
    tight, none = pay(rng, [spent], [(payee, just_too_much)], change, 10.0)
    assert none is None and len(tight.tx.outputs) == 1
    assert tight.fee == 100_000 - just_too_much  # the dust went to the miner
    with pytest.raises(InputError, match="cannot pay"):
        pay(rng, [spent], [(payee, 99_999)], None, 10.0)
    with pytest.raises(InputError, match="exceed"):
        build_tx(rng, [spent], [(payee, 100_001)])
