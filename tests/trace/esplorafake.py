"""An Esplora-shaped explorer in memory (for httpx.MockTransport) with mainnet-sized wallets.

It serves ``/tx/:txid``, ``/tx/:txid/outspends``, ``/txs/outspends?txids=`` and an address's
history pages (``/address/:a/txs``, ``/address/:a/txs/chain/:last_seen``, 25 confirmed txs a
page). A hot wallet's history of 100,000 txs is generated lazily, page by page, so a test
can prove that a trace reads only the few pages it is allowed to. Every request is counted
by kind.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

import httpx

from btcwatch.chain.address import address_to_script
from btcwatch.model import BlockRef, OutPoint, Tx, TxIn, TxOut

PAGE = 25
BLOCK = BlockRef(820_000, "ab" * 32, 1_700_000_000)


def fake_txid(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


class FakeEsplora:
    """Txs by id plus lazily generated histories; ``handler`` is the MockTransport router."""

    def __init__(self, *, batch: bool = True) -> None:
        self.txs: dict[str, Tx] = {}
        self.spender: dict[OutPoint, tuple[str, int]] = {}
        self.busy: dict[str, int] = {}  # address -> size of its generated history
        self.generated: dict[str, int] = {}  # txid of a generated history tx -> its index
        self.batch = batch
        self.hits: Counter[str] = Counter()

    def add(self, tx: Tx) -> Tx:
        self.txs[tx.txid] = tx
        for vin, txin in enumerate(tx.inputs):
            if txin.prevout is not None:
                self.spender[txin.prevout] = (tx.txid, vin)
        return tx

    def busy_address(self, address: str, size: int) -> None:
        """Give ``address`` a confirmed history of ``size`` txs, each paying it once."""
        self.busy[address] = size

    def history_tx(self, address: str, index: int) -> Tx:
        txid = fake_txid(f"{address}/history/{index}")
        self.generated[txid] = index
        customer = fake_txid(f"{address}/customer/{index}")
        script = address_to_script(address)
        return Tx(
            txid,
            2,
            0,
            (TxIn(OutPoint(customer, 0), 0xFFFFFFFD, 60_000 + index, script, address),),
            (TxOut(50_000 + index, script, address),),
            BlockRef(BLOCK.height - index // 100, BLOCK.hash, BLOCK.time - index),
        )

    # -- the router --------------------------------------------------------------------------

    def handler(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.removeprefix("/api/").split("/")
        if parts[0] == "tx" and len(parts) == 2:
            self.hits["tx"] += 1
            found = self._lookup(parts[1])
            return (
                httpx.Response(404, text="not found")
                if found is None
                else self._json(tx_json(found))
            )
        if parts[0] == "tx" and parts[2:] == ["outspends"]:
            self.hits["outspends"] += 1
            return self._json(self._outspends(parts[1]))
        if parts[:2] == ["txs", "outspends"]:
            self.hits["outspends_batch"] += 1
            if not self.batch:
                return httpx.Response(404, text="not found")
            txids = request.url.params["txids"].split(",")
            return self._json([self._outspends(t) for t in txids])
        if parts[0] == "address" and parts[2:3] == ["txs"]:
            self.hits["address_txs"] += 1
            return self._json(self._history(parts[1], parts[4] if len(parts) > 4 else None))
        self.hits["other"] += 1
        return httpx.Response(404, text="not found")

    def _json(self, body: Any) -> httpx.Response:
        return httpx.Response(200, content=json.dumps(body).encode())

    def _lookup(self, txid: str) -> Tx | None:
        tx = self.txs.get(txid)
        if tx is None and txid in self.generated:
            address = next(iter(self.busy))
            tx = self.history_tx(address, self.generated[txid])
        return tx

    def _outspends(self, txid: str) -> list[dict[str, Any]]:
        tx = self._lookup(txid)
        if tx is None:
            return []
        found = []
        for vout in range(len(tx.outputs)):
            spent = self.spender.get(OutPoint(txid, vout))
            if spent is None:
                found.append({"spent": False})
            else:
                found.append(
                    {
                        "spent": True,
                        "txid": spent[0],
                        "vin": spent[1],
                        "status": status_json(self.txs[spent[0]].block),
                    }
                )
        return found

    def _history(self, address: str, last_seen: str | None) -> list[Any]:
        size = self.busy.get(address, 0)
        start = 0 if last_seen is None else self.generated[last_seen] + 1
        return [tx_json(self.history_tx(address, i)) for i in range(start, min(size, start + PAGE))]


def status_json(block: BlockRef | None) -> dict[str, Any]:
    if block is None:
        return {"confirmed": False}
    return {
        "confirmed": True,
        "block_height": block.height,
        "block_hash": block.hash,
        "block_time": block.time,
    }


def tx_json(tx: Tx) -> dict[str, Any]:
    """A `Tx` as Esplora renders it (the fields btcwatch's parser reads)."""
    return {
        "txid": tx.txid,
        "version": tx.version,
        "locktime": tx.locktime,
        "vin": [
            {
                "txid": i.prevout.txid if i.prevout else "00" * 32,
                "vout": i.prevout.vout if i.prevout else 0xFFFFFFFF,
                "is_coinbase": i.prevout is None,
                "sequence": i.sequence,
                "prevout": None
                if i.prev_value is None
                else {
                    "scriptpubkey": (i.prev_script or b"").hex(),
                    "scriptpubkey_address": i.prev_address,
                    "value": i.prev_value,
                },
            }
            for i in tx.inputs
        ],
        "vout": [
            {"scriptpubkey": o.script.hex(), "scriptpubkey_address": o.address, "value": o.value}
            for o in tx.outputs
        ],
        "status": status_json(tx.block),
    }
