"""The raw bytes of a transaction rebuilt from an Esplora JSON object.

Esplora's JSON carries every consensus field (version, inputs with scriptSig, witness and
sequence, outputs with script and value, locktime), so serialising it gives the bytes whose
double SHA-256 is the txid. A Merkle proof of that txid then binds every value and script the
JSON states: no ``/tx/:txid/hex`` request is needed for what an explorer already sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from btcwatch.chain.tx import RawTx, RawTxIn, RawTxOut
from btcwatch.errors import ParseError

_NULL = "0" * 64


def raw_tx_from_json(obj: Any) -> bytes:
    """Serialise one Esplora tx object; ParseError when a consensus field is missing."""
    try:
        inputs = [
            RawTxIn(
                _NULL if vin.get("is_coinbase") else str(vin["txid"]),
                0xFFFFFFFF if vin.get("is_coinbase") else int(vin["vout"]),
                bytes.fromhex(vin["scriptsig"]),
                int(vin["sequence"]),
                tuple(bytes.fromhex(w) for w in vin.get("witness") or ()),
            )
            for vin in obj["vin"]
        ]
        outputs = [RawTxOut(int(o["value"]), bytes.fromhex(o["scriptpubkey"])) for o in obj["vout"]]
        tx = RawTx(int(obj["version"]), tuple(inputs), tuple(outputs), int(obj["locktime"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ParseError(f"the JSON lacks a field to rebuild the raw tx: {exc}") from None
    return tx.serialize()


def find_tx_json(obj: Any, txid: str) -> Any | None:
    """The object for ``txid`` in a ``/tx/:txid`` answer or a list of txs (address, block)."""
    items: Iterable[Any] = obj if isinstance(obj, list) else [obj]
    for item in items:
        if isinstance(item, dict) and item.get("txid") == txid:
            return item
    return None
