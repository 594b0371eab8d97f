"""Derive wannacry_cashout.json from the recorded blockchain.info /rawaddr histories.

Source: /work/shared/data/recorded/wannacry-blockchain-info/address{1,2,3}.json (xpfio/
blockchain_viz data/, licence none stated). Keeps the six transactions of 2017-08-03 that
spent from the three WannaCry ransom addresses, with each input's previous txid resolved
from the same history (blockchain.info names it only by tx_index). Values are unchanged.

    python tests/data/export/derive_wannacry_cashout.py /work/shared/data \
        > tests/data/export/wannacry_cashout.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(shared: Path) -> None:
    folder = shared / "recorded" / "wannacry-blockchain-info"
    ransom: list[str] = []
    spends: list[dict[str, object]] = []
    for name in ("address1.json", "address2.json", "address3.json"):
        history = json.loads((folder / name).read_text())
        address = history["address"]
        ransom.append(address)
        by_index = {tx["tx_index"]: tx["hash"] for tx in history["txs"]}
        for tx in history["txs"]:
            if not any(i.get("prev_out", {}).get("addr") == address for i in tx["inputs"]):
                continue
            spends.append(
                {
                    "hash": tx["hash"],
                    "block_height": tx["block_height"],
                    "time": tx["time"],
                    "inputs": [
                        {
                            "prev_hash": by_index[i["prev_out"]["tx_index"]],
                            "n": i["prev_out"]["n"],
                            "addr": i["prev_out"]["addr"],
                            "value": i["prev_out"]["value"],
                        }
                        for i in tx["inputs"]
                    ],
                    "out": [
                        {"n": o["n"], "addr": o["addr"], "value": o["value"]} for o in tx["out"]
                    ],
                }
            )
    spends.sort(key=lambda tx: str(tx["hash"]))
    about = (
        "DERIVED from blockchain.info /rawaddr histories of the WannaCry ransom addresses "
        "(xpfio/blockchain_viz): the six 2017-08-03 cash-out txs, inputs with resolved prev txids"
    )
    json.dump({"about": about, "ransom_addresses": ransom, "txs": spends}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
