"""Shared test helpers: recorded data, wire renderers, routers and fake explorers.

The renderers are written from the explorers' API documentation, independently of the
parsers under test, so ``parse(render(tx)) == tx`` checks one against the other.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from btcwatch.chain.address import Address
from btcwatch.chain.network import MAINNET
from btcwatch.model import BlockRef, OutPoint, Tx, TxIn, TxOut
from btcwatch.providers.blockchain_info_parse import input_refs as bci_input_refs
from btcwatch.providers.blockchain_info_parse import tx_index_of as bci_tx_index_of
from btcwatch.providers.esplora_parse import parse_tx as esplora_parse_tx

DATA = Path(__file__).resolve().parent.parent / "data" / "recorded"
MEMPOOL = DATA / "mempool-space"
BREEZ = DATA / "breez-esplora"
WANNACRY = DATA / "wannacry-blockchain-info"
BREEZ_ADDRESS = "bc1qvhykeqcpdzu0pdvy99xnh9ckhwzcfskct6h6l2"
BREEZ_OUTSPENDS_TXID = "5e0668bf1cd24f2f8656ee82d4886f5303a06b26838e24b7db73afc59e228985"
WANNACRY_ADDRESSES = (
    "115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn",
    "12t9YDPgwueZ9NyMgw519p7AA8isjr6SMw",
    "13AM4VW2dhxYgXeQepoHkHSQuy6NgaEb94",
)
BLOCK1_HASH = "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048"

# Files of mempool-space/ that hold Esplora tx objects, and where in each file they are.
ESPLORA_TX_FILES = {
    "details_rbf_tx01_api_cached.json": "object",
    "details_rbf_tx02_api_tx.json": "object",
    "mainnet_tx_cached.json": "object",
    "non-standard-txs.json": "list",
    "transactions-random.json": "list",
    "transactions-rbfs.json": "list",
    "transactions-replaced.json": "list",
}
# Files that are not Esplora txs, and why they are not parsed as txs.
NOT_TX_FILES = {
    "details_rbf_tx01_ws_blocks_01.json": "websocket payload: block summaries (parsed as blocks)",
    "details_rbf_tx02_ws_block.json": "websocket payload: one block summary (parsed as a block)",
    "mainnet_mempoolInfo.json": "websocket init payload: mempool stats and tx summaries "
    "without inputs (its 'blocks' are parsed as blocks)",
    "pools.json": "mining-pool tag list, no transactions",
    "LICENSE": "licence text",
}


def load(path: Path) -> Any:
    return json.loads(path.read_bytes())


def esplora_tx_objects() -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, tx JSON) for every recorded Esplora-format tx."""
    for name, shape in ESPLORA_TX_FILES.items():
        data = load(MEMPOOL / name)
        items = data if shape == "list" else [data]
        for obj in items:
            yield f"{name}:{obj['txid'][:12]}", obj
    for obj in load(BREEZ / f"address_{BREEZ_ADDRESS}_txs.json"):
        yield f"breez:{obj['txid'][:12]}", obj


def esplora_block_objects() -> list[dict[str, Any]]:
    blocks = list(load(MEMPOOL / "details_rbf_tx01_ws_blocks_01.json")["blocks"])
    blocks.append(load(MEMPOOL / "details_rbf_tx02_ws_block.json")["block"])
    blocks += load(MEMPOOL / "mainnet_mempoolInfo.json")["blocks"]
    return blocks


def real_esplora_txs() -> list[Tx]:
    return [esplora_parse_tx(obj, MAINNET) for _, obj in esplora_tx_objects()]


def wannacry(n: int) -> dict[str, Any]:
    data: dict[str, Any] = load(WANNACRY / f"address{n}.json")
    return data


def own_txids(history: dict[str, Any]) -> dict[int, str]:
    return dict(bci_tx_index_of(t) for t in history["txs"])


def placeholders(history: dict[str, Any]) -> dict[int, str]:
    """tx_index -> txid, with made-up txids for payers' txs that are not in the history.

    The recorded histories do not contain the payers' funding txs, so their txids are not
    recorded anywhere; the tests below check values, scripts and addresses, never these ids.
    """
    refs = set().union(*(bci_input_refs(t) for t in history["txs"]))
    return {r: f"{r:064x}" for r in refs} | own_txids(history)


def raw_tx_hex() -> dict[str, str]:
    """txid -> raw hex of the txs bitcoind returned for block 529150."""
    details = load(DATA / "blockbook" / "rpc_testdata_bitcoin.json")["txDetails"]
    return {txid: d["hex"] for txid, d in details.items()}


def block1() -> bytes:
    return bytes.fromhex((DATA / "block1.hex").read_text().strip())


# --- renderers: Tx -> each explorer's wire JSON --------------------------------------------


def render_esplora_tx(tx: Tx, *, block_hash: str | None = None) -> dict[str, Any]:
    """The Esplora ``/tx/:txid`` object for ``tx`` (fields as in the Esplora API docs)."""

    def out(value: int, script: bytes, address: str | None) -> dict[str, Any]:
        obj: dict[str, Any] = {"scriptpubkey": script.hex(), "value": value}
        if address is not None:
            obj["scriptpubkey_address"] = address
        return obj

    vin = []
    for txin in tx.inputs:
        if txin.prevout is None:
            vin.append(
                {
                    "txid": "0" * 64,
                    "vout": 0xFFFFFFFF,
                    "prevout": None,
                    "scriptsig": "03aabbcc",
                    "is_coinbase": True,
                    "sequence": txin.sequence,
                }
            )
            continue
        prevout = None
        if txin.prev_value is not None and txin.prev_script is not None:
            prevout = out(txin.prev_value, txin.prev_script, txin.prev_address)
        vin.append(
            {
                "txid": txin.prevout.txid,
                "vout": txin.prevout.vout,
                "prevout": prevout,
                "scriptsig": "",
                "witness": [],
                "is_coinbase": False,
                "sequence": txin.sequence,
            }
        )
    status: dict[str, Any] = {"confirmed": tx.block is not None}
    if tx.block is not None:
        status |= {
            "block_height": tx.block.height,
            "block_hash": tx.block.hash or block_hash,
            "block_time": tx.block.time,
        }
    obj: dict[str, Any] = {
        "txid": tx.txid,
        "version": tx.version,
        "locktime": tx.locktime,
        "vin": vin,
        "vout": [out(o.value, o.script, o.address) for o in tx.outputs],
        "status": status,
    }
    if tx.size is not None:
        obj["size"] = tx.size
    if tx.weight is not None:
        obj["weight"] = tx.weight
    if tx.fee is not None:
        obj["fee"] = tx.fee
    return obj


def tx_index(txid: str) -> int:
    """A made-up blockchain.info tx_index for a txid (stable, distinct for our data)."""
    return int(hashlib.sha256(txid.encode()).hexdigest()[:13], 16)


def _p2pkh_of_pubkey(script: bytes) -> str | None:
    """What blockchain.info shows for a P2PK output: its key's P2PKH address."""
    if len(script) in (35, 67) and script[-1] == 0xAC and script[0] == len(script) - 2:
        key_hash = hashlib.new("ripemd160", hashlib.sha256(script[1:-1]).digest()).digest()
        return str(Address(b"\x76\xa9\x14" + key_hash + b"\x88\xac", MAINNET))
    return None


def render_bci_tx(tx: Tx) -> dict[str, Any]:
    """The blockchain.info ``/rawtx`` object for ``tx``; prev outputs named by tx_index."""

    def out(n: int, owner: str, value: int, script: bytes, address: str | None) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "type": 0,
            "spent": False,
            "value": value,
            "n": n,
            "tx_index": tx_index(owner),
            "script": script.hex(),
        }
        shown = address or _p2pkh_of_pubkey(script)
        if shown is not None:
            obj["addr"] = shown
        return obj

    inputs = []
    for txin in tx.inputs:
        obj: dict[str, Any] = {"sequence": txin.sequence, "witness": "", "script": ""}
        if txin.prevout is not None:
            assert txin.prev_value is not None and txin.prev_script is not None
            obj["prev_out"] = out(
                txin.prevout.vout,
                txin.prevout.txid,
                txin.prev_value,
                txin.prev_script,
                txin.prev_address,
            ) | {"spent": True}
        inputs.append(obj)
    rendered: dict[str, Any] = {
        "hash": tx.txid,
        "ver": tx.version,
        "vin_sz": len(tx.inputs),
        "vout_sz": len(tx.outputs),
        "lock_time": tx.locktime,
        "size": tx.size,
        "weight": tx.weight,
        "relayed_by": "0.0.0.0",
        "tx_index": tx_index(tx.txid),
        "time": tx.block.time if tx.block else 1_700_000_000,
        "inputs": inputs,
        "out": [out(i, tx.txid, o.value, o.script, o.address) for i, o in enumerate(tx.outputs)],
    }
    if tx.fee is not None:
        rendered["fee"] = tx.fee
    if tx.block is not None:
        rendered["block_height"] = tx.block.height
    return rendered


def bci_txids(tx: Tx) -> dict[int, str]:
    """The tx_index -> txid mapping a blockchain.info client would have learnt for ``tx``."""
    return {tx_index(i.prevout.txid): i.prevout.txid for i in tx.inputs if i.prevout}


def without_block_hash(tx: Tx) -> Tx:
    return tx if tx.block is None else replace(tx, block=replace(tx.block, hash=None))


# --- sleeping and clocks -----------------------------------------------------------------


@dataclass
class Sleeps:
    """An injected sleep that records the waits instead of waiting."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


# --- routers over recorded data -------------------------------------------------------------


def json_response(obj: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=obj)


def recorded_esplora(request: httpx.Request) -> httpx.Response:
    """An Esplora server at http://esplora.test/api that knows only the recorded data."""
    path = request.url.path.removeprefix("/api")
    txs = {obj["txid"]: obj for _, obj in esplora_tx_objects()}
    blocks = {b["id"]: b for b in esplora_block_objects()}
    raw = raw_tx_hex()
    if m := re.fullmatch(r"/tx/([0-9a-f]{64})", path):
        if m[1] in txs:
            return json_response(txs[m[1]])
    elif m := re.fullmatch(r"/tx/([0-9a-f]{64})/hex", path):
        if m[1] in raw:
            return httpx.Response(200, text=raw[m[1]])
    elif path == f"/tx/{BREEZ_OUTSPENDS_TXID}/outspends":
        return httpx.Response(
            200, content=(BREEZ / f"tx_{BREEZ_OUTSPENDS_TXID}_outspends.json").read_bytes()
        )
    elif path == f"/address/{BREEZ_ADDRESS}/txs":
        return httpx.Response(
            200, content=(BREEZ / f"address_{BREEZ_ADDRESS}_txs.json").read_bytes()
        )
    elif path == "/blocks/tip/hash":
        tip = max(blocks.values(), key=lambda b: b["height"])
        return httpx.Response(200, text=tip["id"])
    elif m := re.fullmatch(r"/block/([0-9a-f]{64})", path):
        if m[1] in blocks:
            return json_response(blocks[m[1]])
    elif m := re.fullmatch(r"/block-height/(\d+)", path):
        for b in blocks.values():
            if b["height"] == int(m[1]):
                return httpx.Response(200, text=b["id"])
    elif path == f"/block/{BLOCK1_HASH}/raw":
        return httpx.Response(200, content=block1())
    elif path == "/mempool/txids":
        return json_response([t for t, o in txs.items() if not o["status"]["confirmed"]])
    return httpx.Response(404, text="Transaction not found")


def wannacry_histories() -> dict[str, dict[str, Any]]:
    return {data["address"]: data for data in (wannacry(n) for n in (1, 2, 3))}


def stand_in_tx(index: int) -> dict[str, Any]:
    """A stand-in for a tx outside the recorded histories (a payer's funding tx).

    Only its tx_index -> hash pair is used by the client; the hash is made up and marked so.
    """
    return {"hash": f"{index:064x}", "tx_index": index, "block_height": 470000, "time": 0}


@dataclass
class RecordedBlockchainInfo:
    """blockchain.info at http://bci.test serving the WannaCry histories, with a request log."""

    histories: dict[str, dict[str, Any]] = field(default_factory=wannacry_histories)
    paths: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.by_index = {t["tx_index"]: t for h in self.histories.values() for t in h["txs"]}
        self.by_hash = {t["hash"]: t for h in self.histories.values() for t in h["txs"]}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, params = request.url.path, request.url.params
        self.paths.append(path)
        if m := re.fullmatch(r"/rawaddr/(\w+)", path):
            history = self.histories.get(m[1])
            if history is None:
                return httpx.Response(404)
            limit, offset = int(params.get("limit", "50")), int(params.get("offset", "0"))
            page = dict(history, txs=history["txs"][offset : offset + limit])
            return json_response(page)
        if m := re.fullmatch(r"/rawtx/([0-9a-f]{64})", path):
            if m[1] in self.by_hash:
                return json_response(self.by_hash[m[1]])
            return httpx.Response(404)
        if m := re.fullmatch(r"/rawtx/(\d+)", path):
            index = int(m[1])
            return json_response(self.by_index.get(index) or stand_in_tx(index))
        if path == "/multiaddr":
            wanted = params["active"].split("|")
            rows = [
                {
                    k: h[k]
                    for k in ("address", "n_tx", "total_received", "total_sent", "final_balance")
                }
                for a, h in self.histories.items()
                if a in wanted
            ]
            return json_response({"addresses": rows, "txs": []})
        return httpx.Response(404)


# --- a fake Esplora with a synthetic address history (paging tests) ------------------------

PAGE_ADDRESS = "bc1qvhykeqcpdzu0pdvy99xnh9ckhwzcfskct6h6l2"


def synthetic_history(confirmed: int, mempool: int = 0) -> list[Tx]:
    """Newest first: ``mempool`` unconfirmed txs, then ``confirmed`` txs in falling heights."""
    script = Address.parse(PAGE_ADDRESS, MAINNET).script
    txs = []
    for i in range(confirmed + mempool):
        txid = hashlib.sha256(f"paging-{i}".encode()).hexdigest()
        prev = hashlib.sha256(f"funding-{i}".encode()).hexdigest()
        block = None if i < mempool else BlockRef(900_000 - i, f"{i:064x}", 1_750_000_000 - i)
        txs.append(
            Tx(
                txid=txid,
                version=2,
                locktime=0,
                inputs=(TxIn(OutPoint(prev, 0), 0xFFFFFFFD, 10_000 + i, script, PAGE_ADDRESS),),
                outputs=(TxOut(9_000 + i, script, PAGE_ADDRESS),),
                block=block,
            )
        )
    return txs


@dataclass
class PagingEsplora:
    """Serves /address/:a/txs and /txs/chain/:last_seen like Esplora (or like a buggy one)."""

    txs: list[Tx]
    ignore_last_seen: bool = False
    page_size: int = 25
    paths: list[str] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api")
        self.paths.append(path)
        mempool = [t for t in self.txs if t.block is None][:50]
        chain = [t for t in self.txs if t.block is not None]
        if path == f"/address/{PAGE_ADDRESS}/txs":
            page = mempool + chain[: self.page_size]
        elif m := re.fullmatch(rf"/address/{PAGE_ADDRESS}/txs/chain(?:/(\w+))?", path):
            start = 0
            ids = [t.txid for t in chain]
            if m[1] and m[1] in ids and not self.ignore_last_seen:
                start = ids.index(m[1]) + 1
            page = chain[start : start + self.page_size]
        else:
            return httpx.Response(404)
        return json_response([render_esplora_tx(t) for t in page])


Handler = Callable[[httpx.Request], httpx.Response]
