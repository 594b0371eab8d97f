"""Test data for the trace heuristics: real txs from tests/data/trace, and a small tx builder.

The parsers here are deliberately tiny and local (the providers package has its own); they
only need to turn recorded JSON into `btcwatch.model.Tx` values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from btcwatch.chain.address import address_to_script, script_to_address
from btcwatch.chain.network import MAINNET
from btcwatch.chain.script import p2pkh, p2sh, p2tr, p2wpkh, p2wsh
from btcwatch.model import BlockRef, OutPoint, Tx, TxIn, TxOut

DATA = Path(__file__).resolve().parent.parent / "data" / "trace"


def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


# -- Esplora (mempool.space /api/tx) -----------------------------------------------------------


def esplora_tx(doc: dict[str, Any]) -> Tx:
    inputs = []
    for vin in doc["vin"]:
        if vin.get("is_coinbase"):
            inputs.append(TxIn(None, vin["sequence"]))
            continue
        prev = vin["prevout"]
        inputs.append(
            TxIn(
                OutPoint(vin["txid"], vin["vout"]),
                vin["sequence"],
                prev["value"],
                bytes.fromhex(prev["scriptpubkey"]),
                prev.get("scriptpubkey_address"),
            )
        )
    outputs = tuple(
        TxOut(o["value"], bytes.fromhex(o["scriptpubkey"]), o.get("scriptpubkey_address"))
        for o in doc["vout"]
    )
    status = doc.get("status", {})
    block = (
        BlockRef(status["block_height"], status.get("block_hash"), status["block_time"])
        if status.get("confirmed")
        else None
    )
    return Tx(doc["txid"], doc["version"], doc["locktime"], tuple(inputs), outputs, block)


@cache
def esplora_random() -> dict[str, Tx]:
    """mempool.space's transactions-random.json fixture: four real mainnet txs."""
    return {d["txid"]: esplora_tx(d) for d in _load("esplora_transactions-random.json")}


# -- blockchain.info /rawaddr (WannaCry) -------------------------------------------------------


def _placeholder_txid(tx_index: int) -> str:
    """blockchain.info names a spent tx by its internal tx_index only; when that tx is not in
    the data set, stand in a deterministic fake txid (tests never look these up)."""
    return hashlib.sha256(f"blockchain.info tx_index {tx_index}".encode()).hexdigest()


def bci_tx(doc: dict[str, Any], txid_of_index: dict[int, str]) -> Tx:
    inputs = []
    for vin in doc["inputs"]:
        prev = vin["prev_out"]
        txid = txid_of_index.get(prev["tx_index"]) or _placeholder_txid(prev["tx_index"])
        inputs.append(
            TxIn(
                OutPoint(txid, prev["n"]),
                vin["sequence"],
                prev["value"],
                bytes.fromhex(prev["script"]),
                prev.get("addr"),
            )
        )
    outputs = tuple(
        TxOut(o["value"], bytes.fromhex(o["script"]), o.get("addr"))
        for o in sorted(doc["out"], key=lambda o: o["n"])
    )
    block = BlockRef(doc["block_height"], None, doc["time"]) if doc.get("block_height") else None
    return Tx(doc["hash"], doc["ver"], doc["lock_time"], tuple(inputs), outputs, block)


@cache
def wannacry() -> tuple[frozenset[str], dict[str, Tx]]:
    """(the three ransom addresses, every recorded tx touching them by txid)."""
    doc = _load("wannacry_txs.json")
    index = {d["tx_index"]: d["hash"] for d in doc["txs"]}
    txs = {d["hash"]: bci_tx(d, index) for d in doc["txs"]}
    return frozenset(doc["ransom_addresses"]), txs


# -- raw mainnet blocks (CoinJoins and look-alikes) --------------------------------------------


def block_tx(doc: dict[str, Any]) -> Tx:
    inputs = tuple(
        TxIn(
            OutPoint(vin["txid"], vin["vout"]),
            vin["sequence"],
            None,
            None if vin["prev_script"] is None else bytes.fromhex(vin["prev_script"]),
            vin["prev_address"],
        )
        for vin in doc["vin"]
    )
    outputs = tuple(
        TxOut(o["value"], bytes.fromhex(o["script"]), o["address"]) for o in doc["vout"]
    )
    block = BlockRef(doc["block_height"], None, 0)
    return Tx(doc["txid"], doc["version"], doc["locktime"], inputs, outputs, block)


@cache
def block_txs() -> list[tuple[str, Tx]]:
    """(label, tx) for the picks of derive_block_txs.py, in its order."""
    return [(d["label"], block_tx(d)) for d in _load("block_txs.json")]


# -- builder ------------------------------------------------------------------------------------

_BUILDERS = {
    "p2pkh": (p2pkh, 20),
    "p2sh": (p2sh, 20),
    "p2wpkh": (p2wpkh, 20),
    "p2wsh": (p2wsh, 32),
    "p2tr": (p2tr, 32),
}


def script(kind: str, seed: str) -> bytes:
    """A well-formed script of a type, its hash derived from a seed (same seed, same script)."""
    build, size = _BUILDERS[kind]
    return build(hashlib.sha256(seed.encode()).digest()[:size])


def address(kind: str, seed: str) -> str:
    found = script_to_address(script(kind, seed), MAINNET)
    assert found is not None
    return found


def txid(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


Coin = tuple[int, str] | tuple[int, str, str]  # (value, owner seed[, script kind])


def _coin(coin: Coin) -> tuple[int, bytes, str]:
    """(value, script, address); kind "addr" means the owner is a literal mainnet address."""
    value, owner = coin[0], coin[1]
    kind = coin[2] if len(coin) == 3 else "p2wpkh"
    if kind == "addr":
        return value, address_to_script(owner), owner
    return value, script(kind, owner), address(kind, owner)


def make_tx(
    name: str,
    inputs: Sequence[Coin],
    outputs: Sequence[Coin],
    *,
    prevouts: Sequence[OutPoint] | None = None,
) -> Tx:
    """A tx named ``name`` (txid = sha256 of it); coins are (sats, owner seed[, kind]).
    Kinds: p2pkh, p2sh, p2wpkh (default), p2wsh, p2tr, or "addr" for a literal address.

    Inputs spend made-up outpoints unless ``prevouts`` says which outputs they spend.
    """
    txins = []
    for index, coin in enumerate(inputs):
        value, spk, addr = _coin(coin)
        prevout = (
            prevouts[index] if prevouts is not None else OutPoint(txid(f"{name}/in{index}"), 0)
        )
        txins.append(TxIn(prevout, 0xFFFFFFFD, value, spk, addr))
    txouts = [TxOut(*_coin(coin)) for coin in outputs]
    return Tx(txid(name), 2, 0, tuple(txins), tuple(txouts))
