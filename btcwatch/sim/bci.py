"""blockchain.info-style routes for the simulator (``/bci/...``): rawaddr, rawtx, multiaddr.

A second explorer dialect over the same chain, so provider code for blockchain.info can be
tested against the same scenario as Esplora: ``rawaddr`` pages of up to 50 by ``offset``,
``multiaddr`` for up to 100 ``|``-separated addresses, ``rawtx`` (JSON or ``?format=hex``).
``tx_index`` is derived from the txid (the real service numbers txs in its own database).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from btcwatch.chain.address import Address, script_to_address
from btcwatch.errors import BtcwatchError
from btcwatch.sim.chain import SimChain
from btcwatch.sim.records import AddressRecord, TxEntry
from btcwatch.sim.routing import HttpError, Reply, Request

if TYPE_CHECKING:
    from btcwatch.sim.server import SimServer

__all__ = ["add_routes", "rawtx_json"]

RAWADDR_LIMIT = 50
MULTIADDR_LIMIT = 100
_SCRIPT_TYPE = 0


def _tx_index(txid: str) -> int:
    return int(txid[:13], 16)


def _io(chain: SimChain, txid: str, vout: int, script: bytes, value: int) -> dict[str, Any]:
    spent = chain.outspend(txid, vout)
    item: dict[str, Any] = {
        "type": _SCRIPT_TYPE,
        "spent": spent is not None,
        "value": value,
        "spending_outpoints": (
            [{"tx_index": _tx_index(spent[0].txid), "n": spent[1]}] if spent is not None else []
        ),
        "n": vout,
        "tx_index": _tx_index(txid),
        "script": script.hex(),
    }
    address = script_to_address(script, chain.network)
    if address is not None:
        item["addr"] = address
    return item


def rawtx_json(
    chain: SimChain, entry: TxEntry, scripts: frozenset[bytes] = frozenset()
) -> dict[str, Any]:
    """One transaction as blockchain.info prints it; ``result`` is the net effect on
    ``scripts`` (the address or wallet asked about)."""
    tx = entry.parse()
    inputs: list[dict[str, Any]] = []
    result = 0
    for txin in tx.inputs:
        item: dict[str, Any] = {
            "sequence": txin.sequence,
            "witness": b"".join(txin.witness).hex() if txin.witness else "",
            "script": txin.script_sig.hex(),
            "index": len(inputs),
        }
        if not txin.is_coinbase:
            script, value = chain.prevout(txin.prev_txid, txin.prev_vout)
            item["prev_out"] = _io(chain, txin.prev_txid, txin.prev_vout, script, value)
            if script in scripts:
                result -= value
        inputs.append(item)
    outs = []
    for vout, (script, value) in enumerate(entry.outs):
        outs.append(_io(chain, entry.txid, vout, script, value))
        if script in scripts:
            result += value
    block = entry.block if entry.block is not None and entry.block.best else None
    return {
        "hash": entry.txid,
        "ver": tx.version,
        "vin_sz": len(tx.inputs),
        "vout_sz": len(tx.outputs),
        "size": entry.size,
        "weight": entry.weight,
        "fee": entry.fee,
        "relayed_by": "0.0.0.0",
        "lock_time": tx.locktime,
        "tx_index": _tx_index(entry.txid),
        "double_spend": False,
        "time": block.time if block is not None else chain.tip.time,
        "block_index": block.height if block is not None else None,
        "block_height": block.height if block is not None else None,
        "inputs": inputs,
        "out": outs,
        "result": result,
    }


def _history(chain: SimChain, rec: AddressRecord | None) -> list[TxEntry]:
    """Newest first: mempool, then confirmed."""
    if rec is None:
        return []
    return [*rec.mempool[::-1], *rec.history[::-1]]


def _summary(chain: SimChain, address: str, rec: AddressRecord | None) -> dict[str, Any]:
    if rec is None:
        received = sent = n_tx = 0
    else:
        confirmed, pending = chain.chain_stats(rec), chain.mempool_stats(rec)
        received = confirmed.funded_txo_sum + pending.funded_txo_sum
        sent = confirmed.spent_txo_sum + pending.spent_txo_sum
        n_tx = confirmed.tx_count + pending.tx_count
    return {
        "address": address,
        "n_tx": n_tx,
        "total_received": received,
        "total_sent": sent,
        "final_balance": received - sent,
    }


def add_routes(server: SimServer) -> None:
    """Register the /bci/ routes on ``server``."""
    chain = server.chain

    def parse(text: str) -> bytes:
        try:
            return Address.parse(text, chain.network).script
        except BtcwatchError:
            raise HttpError(400, "Invalid Bitcoin Address") from None

    def paging(r: Request, default: int, most: int) -> tuple[int, int]:
        try:
            limit = int(r.arg("limit", r.arg("n", str(default))) or default)
            offset = int(r.arg("offset", "0") or 0)
        except ValueError:
            raise HttpError(400, "Invalid limit or offset") from None
        return max(0, min(limit, most)), max(0, offset)

    def rawaddr(r: Request) -> Reply:
        address = r.params["address"]
        script = parse(address)
        rec = chain.address(script)
        limit, offset = paging(r, RAWADDR_LIMIT, RAWADDR_LIMIT)
        summary = _summary(chain, address, rec)
        txs = _history(chain, rec)[offset : offset + limit]
        summary["txs"] = [rawtx_json(chain, e, frozenset((script,))) for e in txs]
        return Reply.json(summary)

    def rawtx(r: Request) -> Reply:
        txid = r.params["txid"]
        entry = chain.tx(txid) if len(txid) == 64 else None
        if entry is None:
            raise HttpError(404, "Transaction not found")
        if r.arg("format") == "hex":
            return Reply.text(entry.raw.hex())
        return Reply.json(rawtx_json(chain, entry))

    def multiaddr(r: Request) -> Reply:
        active = [a for a in (r.arg("active", "") or "").split("|") if a]
        if not active:
            raise HttpError(400, "No addresses given")
        if len(active) > MULTIADDR_LIMIT:
            raise HttpError(400, f"Too many addresses (max {MULTIADDR_LIMIT})")
        scripts = {a: parse(a) for a in active}
        records = {a: chain.address(s) for a, s in scripts.items()}
        limit, offset = paging(r, RAWADDR_LIMIT, RAWADDR_LIMIT)
        seen: dict[str, TxEntry] = {}
        for rec in records.values():
            for e in _history(chain, rec):
                seen.setdefault(e.txid, e)
        ordered = sorted(seen.values(), key=lambda e: (e.block is not None, -e.seq, -e.order))
        wallet = frozenset(scripts.values())
        summaries = [_summary(chain, a, records[a]) for a in active]
        return Reply.json(
            {
                "addresses": summaries,
                "wallet": {
                    "n_tx": len(ordered),
                    "total_received": sum(s["total_received"] for s in summaries),
                    "total_sent": sum(s["total_sent"] for s in summaries),
                    "final_balance": sum(s["final_balance"] for s in summaries),
                },
                "txs": [rawtx_json(chain, e, wallet) for e in ordered[offset : offset + limit]],
                "info": {"latest_block": latest_block()},
            }
        )

    def latest_block() -> dict[str, Any]:
        tip = chain.tip
        return {
            "hash": tip.hash,
            "time": tip.time,
            "block_index": tip.height,
            "height": tip.height,
        }

    server.add_route("GET", "/bci/rawaddr/:address", rawaddr)
    server.add_route("GET", "/bci/rawtx/:txid", rawtx)
    server.add_route("GET", "/bci/multiaddr", multiaddr)
    server.add_route("GET", "/bci/latestblock", lambda r: Reply.json(latest_block()))
