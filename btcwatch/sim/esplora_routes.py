"""The simulator's Esplora REST routes: blocks, transactions, addresses, mempool and fees.

Answers mirror electrs/Esplora: the JSON shapes are built in sim/esplora.py, paging and
limits (25 per page, 50 mempool entries, 50 txids per bulk outspends) are Esplora's, unknown
things answer 404 with a text body and malformed input 400. Registered by `SimServer`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from btcwatch.chain.address import Address
from btcwatch.errors import BtcwatchError
from btcwatch.sim import esplora
from btcwatch.sim.chain import SimChain
from btcwatch.sim.records import AddressRecord, BlockRecord, TxEntry
from btcwatch.sim.routing import HEX64, Handler, HttpError, Reply, Request, int_arg, txid_arg

if TYPE_CHECKING:
    from btcwatch.sim.server import SimServer

__all__ = ["MEMPOOL_LIMIT", "OUTSPENDS_LIMIT", "PAGE", "add_routes", "block_of", "tx_of"]

PAGE = 25
MEMPOOL_LIMIT = 50
OUTSPENDS_LIMIT = 50


def block_of(chain: SimChain, r: Request) -> BlockRecord:
    """The block named by the ``:hash`` parameter (orphaned ones too); 404 if unknown."""
    rec = chain.block(txid_arg(r.params["hash"]))
    if rec is None:
        raise HttpError(404, "Block not found")
    return rec


def tx_of(chain: SimChain, r: Request) -> TxEntry:
    """The transaction named by the ``:txid`` parameter, visible at the tip; 404 if not."""
    entry = chain.tx(txid_arg(r.params["txid"]))
    if entry is None:
        raise HttpError(404, "Transaction not found")
    return entry


def add_routes(server: SimServer) -> None:
    """Register the Esplora routes on ``server``."""
    _EsploraRoutes(server).register()


class _EsploraRoutes:
    """The handlers, reading the server's chain and its ``unknown_last_seen`` policy."""

    def __init__(self, server: SimServer) -> None:
        self.server = server

    @property
    def chain(self) -> SimChain:
        return self.server.chain

    def register(self) -> None:
        server = self.server

        def get(path: str, handler: Handler) -> None:
            server.add_route("GET", path, handler)

        get("/blocks/tip/height", lambda r: Reply.text(str(self.chain.tip_height)))
        get("/blocks/tip/hash", lambda r: Reply.text(self.chain.tip_hash))
        get("/block-height/:height", self._block_height)
        get("/block/:hash", lambda r: Reply.json(esplora.block_json(self.chain, self._block(r))))
        get("/block/:hash/status", self._block_status)
        get("/block/:hash/header", lambda r: Reply.text(self._block(r).header.serialize().hex()))
        get("/block/:hash/txids", lambda r: Reply.json([e.txid for e in self._block(r).entries]))
        get("/block/:hash/txid/:index", self._block_txid)
        get("/block/:hash/txs", self._block_txs)
        get("/block/:hash/txs/:start", self._block_txs)
        get("/block/:hash/raw", lambda r: Reply.binary(self._block(r).serialize()))
        get("/blocks", self._blocks)
        get("/blocks/:start", self._blocks)
        get("/tx/:txid", lambda r: Reply.json(esplora.tx_json(self.chain, self._tx(r))))
        get("/tx/:txid/hex", lambda r: Reply.text(self._tx(r).raw.hex()))
        get("/tx/:txid/raw", lambda r: Reply.binary(self._tx(r).raw))
        get("/tx/:txid/status", lambda r: Reply.json(esplora.status_json(self.chain, self._tx(r))))
        get("/tx/:txid/outspends", self._outspends)
        get("/tx/:txid/outspend/:vout", self._outspend)
        get("/txs/outspends", self._bulk_outspends)
        server.add_route("POST", "/tx", self._broadcast)
        for prefix in ("/:kind=address/:id", "/:kind=scripthash/:id"):
            get(prefix, self._address)
            get(f"{prefix}/txs", self._address_txs)
            get(f"{prefix}/txs/chain", self._address_chain)
            get(f"{prefix}/txs/chain/:last_seen", self._address_chain)
            get(f"{prefix}/txs/mempool", self._address_mempool)
            get(f"{prefix}/utxo", self._address_utxo)
        get("/mempool", lambda r: Reply.json(esplora.mempool_json(self.chain)))
        get("/mempool/txids", lambda r: Reply.json([e.txid for e in self.chain.mempool()]))
        get("/mempool/recent", self._mempool_recent)
        get("/fee-estimates", self._fee_estimates)

    # blocks

    def _block(self, r: Request) -> BlockRecord:
        return block_of(self.chain, r)

    def _block_height(self, r: Request) -> Reply:
        rec = self.chain.block_at(int_arg(r.params["height"], "height"))
        if rec is None:
            raise HttpError(404, "Block not found")
        return Reply.text(rec.hash)

    def _block_status(self, r: Request) -> Reply:
        rec = self._block(r)
        if not rec.best:
            return Reply.json({"in_best_chain": False})
        return Reply.json(
            {"in_best_chain": True, "height": rec.height, "next_best": self.chain.next_best(rec)}
        )

    def _block_txid(self, r: Request) -> Reply:
        rec = self._block(r)
        index = int_arg(r.params["index"], "index")
        if index >= len(rec.entries):
            raise HttpError(404, "Transaction not found")
        return Reply.text(rec.entries[index].txid)

    def _block_txs(self, r: Request) -> Reply:
        rec = self._block(r)
        start = int_arg(r.params.get("start", "0"), "start index")
        if start % PAGE:
            raise HttpError(400, f"start index must be a multiple of {PAGE}")
        if start and start >= len(rec.entries):
            raise HttpError(404, "start index out of range")
        page = rec.entries[start : start + PAGE]
        return Reply.json([esplora.tx_json(self.chain, e) for e in page])

    def _blocks(self, r: Request) -> Reply:
        tip = self.chain.tip_height
        start = min(tip, int_arg(r.params["start"], "height")) if "start" in r.params else tip
        out = []
        for height in range(start, max(start - 10, self.chain.base_height - 1), -1):
            rec = self.chain.block_at(height)
            if rec is not None:
                out.append(esplora.block_json(self.chain, rec))
        return Reply.json(out)

    # transactions

    def _tx(self, r: Request) -> TxEntry:
        return tx_of(self.chain, r)

    def _outspends(self, r: Request) -> Reply:
        entry = self._tx(r)
        spends = [esplora.outspend_json(self.chain, entry, v) for v in range(len(entry.outs))]
        return Reply.json(spends)

    def _outspend(self, r: Request) -> Reply:
        entry = self._tx(r)
        vout = int_arg(r.params["vout"], "vout")
        if vout >= len(entry.outs):
            raise HttpError(404, "Output not found")
        return Reply.json(esplora.outspend_json(self.chain, entry, vout))

    def _bulk_outspends(self, r: Request) -> Reply:
        text = r.arg("txids", "") or ""
        txids = [t for t in text.split(",") if t]
        if not txids:
            raise HttpError(400, "No txids specified")
        if len(txids) > OUTSPENDS_LIMIT:
            raise HttpError(400, f"Too many txids requested (max {OUTSPENDS_LIMIT})")
        out = []
        for txid in txids:
            entry = self.chain.tx(txid_arg(txid))
            if entry is None:
                raise HttpError(404, "Transaction not found")
            out.append(
                [esplora.outspend_json(self.chain, entry, v) for v in range(len(entry.outs))]
            )
        return Reply.json(out)

    def _broadcast(self, r: Request) -> Reply:
        try:
            return Reply.text(self.chain.broadcast(r.body.decode().strip()))
        except (BtcwatchError, UnicodeDecodeError) as exc:
            raise HttpError(400, f"sendrawtransaction RPC error: {exc}") from None

    # addresses

    def _record(self, r: Request) -> tuple[str, AddressRecord | None, bytes]:
        """(identifier as given, its record if it has any history, its script)."""
        ident = r.params["id"]
        if r.params["kind"] == "scripthash":
            if not HEX64.match(ident):
                raise HttpError(400, "Invalid scripthash")
            rec = self.chain.scripthash(bytes.fromhex(ident))  # Esplora: not reversed
            return ident.lower(), rec, rec.script if rec is not None else b""
        try:
            script = Address.parse(ident, self.chain.network).script
        except BtcwatchError:
            raise HttpError(400, "Invalid Bitcoin address") from None
        return ident, self.chain.address(script), script

    def _address(self, r: Request) -> Reply:
        ident, rec, _ = self._record(r)
        key = r.params["kind"]
        return Reply.json(esplora.address_json(self.chain, key, ident, rec))

    def _address_txs(self, r: Request) -> Reply:
        _, rec, _ = self._record(r)
        if rec is None:
            return Reply.json([])
        mempool = rec.mempool[::-1][:MEMPOOL_LIMIT]
        chain = self.chain.history_page(rec) or []
        return Reply.json([esplora.tx_json(self.chain, e) for e in [*mempool, *chain]])

    def _address_chain(self, r: Request) -> Reply:
        _, rec, _ = self._record(r)
        last_seen = r.params.get("last_seen")
        if last_seen is not None:
            last_seen = txid_arg(last_seen)
        if rec is None:
            return Reply.json([])
        page = self.chain.history_page(rec, last_seen)
        if page is None:
            page = (
                []
                if self.server.unknown_last_seen == "empty"
                else self.chain.history_page(rec) or []
            )
        return Reply.json([esplora.tx_json(self.chain, e) for e in page])

    def _address_mempool(self, r: Request) -> Reply:
        _, rec, _ = self._record(r)
        entries = rec.mempool[::-1][:MEMPOOL_LIMIT] if rec is not None else []
        return Reply.json([esplora.tx_json(self.chain, e) for e in entries])

    def _address_utxo(self, r: Request) -> Reply:
        _, rec, _ = self._record(r)
        if rec is None:
            return Reply.json([])
        found = self.chain.utxos(rec)
        return Reply.json([esplora.utxo_json(self.chain, e, v, value) for e, v, value in found])

    # mempool and fees

    def _mempool_recent(self, r: Request) -> Reply:
        recent = self.chain.mempool()[-10:][::-1]
        return Reply.json(
            [
                {"txid": e.txid, "fee": e.fee, "vsize": e.vsize, "value": sum(v for _, v in e.outs)}
                for e in recent
            ]
        )

    def _fee_estimates(self, r: Request) -> Reply:
        entries = self.chain.mempool()
        rates = sorted((e.fee / e.vsize for e in entries), reverse=True) or [1.0]
        targets = [*range(1, 26), 144, 504, 1008]
        out = {}
        for target in targets:
            index = min(len(rates) - 1, (target - 1) * max(1, len(rates) // 25))
            out[str(target)] = round(max(1.0, rates[index]), 3)
        return Reply.json(out)
