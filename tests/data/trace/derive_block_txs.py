"""Derive tests/data/trace/block_txs.json from real mainnet blocks in /work/shared/data/blocks.

Run once by hand (python tests/data/trace/derive_block_txs.py [SHARED_BLOCKS_DIR]); the tests
read only the JSON. Raw blocks carry no prevouts, so an input's previous script is rebuilt
where the spending data reveals it (P2PKH and P2WPKH public keys, P2SH-P2WPKH redeem scripts)
and left null otherwise; input values are unknown (null).
"""

from __future__ import annotations

import bz2
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from btcwatch.chain.address import script_to_address
from btcwatch.chain.network import MAINNET
from btcwatch.chain.script import p2pkh, p2sh, p2wpkh
from btcwatch.chain.tx import RawTx, RawTxIn, parse_block

# (file, height, tx index in block, label): CoinJoins and look-alikes that are not CoinJoins.
PICKS: list[tuple[str, int, int, str]] = [
    ("block702861.raw", 702861, 704, "whirlpool"),
    ("block702861.raw", 702861, 1869, "whirlpool"),
    ("block702861.raw", 702861, 2447, "wasabi1"),
    ("block702861.raw", 702861, 697, "batch"),
    ("block702861.raw", 702861, 2159, "plain"),
    ("block744517-hex.txt", 744517, 847, "wasabi1"),
    ("block744517-hex.txt", 744517, 1062, "joinmarket"),
    ("block744517-hex.txt", 744517, 721, "batch"),
    ("block794466-hex.txt", 794466, 1522, "whirlpool"),
    ("block794466-hex.txt", 794466, 312, "batch"),
    ("block413567.raw", 413567, 248, "joinmarket"),
    # A gambler betting 0.002 BTC at a time at LuckyBit, each bet spending the last change.
    *(("277647.dat.bz2", 277647, index, "peel") for index in (178, 179, 180, 181, 184)),
    *(("277647.dat.bz2", 277647, index, "peel") for index in (185, 191, 192, 195)),
]


def _hash160(data: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def _pushes(script: bytes) -> list[bytes] | None:
    out: list[bytes] = []
    i = 0
    while i < len(script):
        n = script[i]
        if not 1 <= n <= 75 or i + 1 + n > len(script):
            return None
        out.append(script[i + 1 : i + 1 + n])
        i += 1 + n
    return out


def prev_script(txin: RawTxIn) -> bytes | None:
    """The spent scriptPubKey where the input's own data determines it, else None."""
    wit = txin.witness
    if not txin.script_sig and len(wit) == 2 and len(wit[1]) == 33:
        return p2wpkh(_hash160(wit[1]))
    pushes = _pushes(txin.script_sig)
    if pushes is None:
        return None
    if len(pushes) == 1 and len(pushes[0]) == 22 and pushes[0][:2] == b"\x00\x14" and wit:
        return p2sh(_hash160(pushes[0]))
    if not wit and len(pushes) == 2 and len(pushes[1]) in (33, 65):
        return p2pkh(_hash160(pushes[1]))
    return None


def to_json(tx: RawTx, height: int, index: int, label: str) -> dict[str, Any]:
    vin = []
    for txin in tx.inputs:
        script = prev_script(txin)
        vin.append(
            {
                "txid": txin.prev_txid,
                "vout": txin.prev_vout,
                "sequence": txin.sequence,
                "prev_script": None if script is None else script.hex(),
                "prev_address": None if script is None else script_to_address(script, MAINNET),
            }
        )
    vout = [
        {
            "value": o.value,
            "script": o.script.hex(),
            "address": script_to_address(o.script, MAINNET),
        }
        for o in tx.outputs
    ]
    return {
        "label": label,
        "block_height": height,
        "index_in_block": index,
        "txid": tx.txid,
        "version": tx.version,
        "locktime": tx.locktime,
        "vin": vin,
        "vout": vout,
    }


def load_block(path: Path) -> list[RawTx]:
    data = path.read_bytes()
    if path.suffix == ".bz2":
        data = bz2.decompress(data)
    if path.suffix == ".txt":
        data = bytes.fromhex(data.decode().split()[0])
    if data[:4] == bytes.fromhex("f9beb4d9"):
        data = data[8:]
    return list(parse_block(data).txs)


def main() -> None:
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/blocks")
    blocks: dict[str, list[RawTx]] = {}
    out = []
    for name, height, index, label in PICKS:
        txs = blocks.setdefault(name, load_block(shared / name))
        out.append(to_json(txs[index], height, index, label))
    target = Path(__file__).with_name("block_txs.json")
    target.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {len(out)} txs to {target}")


if __name__ == "__main__":
    main()
