"""A loopback HTTP server speaking the Esplora REST API for a SimChain.

Stdlib only (ThreadingHTTPServer, HTTP/1.1 keep-alive, Content-Length on every answer), so
tests talk to it over real sockets exactly as the product talks to blockstream.info or
mempool.space. Routes live under ``/api`` (``SimServer.url``); control routes under ``/_sim``
(also reachable as ``/api/_sim``) move the tip, reorganise, replace and set faults, and are
never subject to faults or the rate limit. Unknown things answer 404 with a text body and
malformed input 400, as Esplora does.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from btcwatch.chain.address import Address
from btcwatch.errors import BtcwatchError
from btcwatch.sim import esplora, proofs
from btcwatch.sim.chain import AddressRecord, SimChain, TxEntry
from btcwatch.sim.faults import FaultKind, Faults, RateLimiter, parse_kinds
from btcwatch.sim.noise import add_unrelated_mempool
from btcwatch.sim.ws import upgradable

__all__ = ["Reply", "SimServer"]

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
PAGE = 25
MEMPOOL_LIMIT = 50
OUTSPENDS_LIMIT = 50
_TOO_MANY = (
    b"<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
    b"<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_GATEWAY = {
    502: b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad "
    b"Gateway</h1></center><hr><center>nginx</center></body></html>\n",
    503: b"<html><head><title>503 Service Temporarily Unavailable</title></head><body><center>"
    b"<h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body>"
    b"</html>\n",
}


class Reply:
    """An HTTP answer before it is written."""

    __slots__ = ("body", "content_type", "status")

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type

    @classmethod
    def json(cls, value: Any) -> Reply:
        body = json.dumps(value, separators=(",", ":")).encode()
        return cls(200, body, "application/json")

    @classmethod
    def text(cls, text: str, status: int = 200) -> Reply:
        return cls(status, text.encode(), "text/plain")

    @classmethod
    def binary(cls, data: bytes) -> Reply:
        return cls(200, data, "application/octet-stream")


class HttpError(Exception):
    """Raised by a route to answer with a status and a text body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _txid(text: str) -> str:
    if not _HEX64.match(text):
        raise HttpError(400, "Invalid hex string")
    return text.lower()


def _int(text: str, what: str) -> int:
    if not text.isdigit():
        raise HttpError(400, f"Invalid {what}")
    return int(text)


Handler = Callable[["_Request"], Reply]


class _Request:
    """What a route sees: path parameters and the query string."""

    __slots__ = ("body", "params", "query")

    def __init__(self, params: dict[str, str], query: dict[str, list[str]], body: bytes) -> None:
        self.params = params
        self.query = query
        self.body = body

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


class _Server(ThreadingHTTPServer):
    # A watcher opens many connections at once; the default backlog of 5 makes some wait
    # a second in the kernel before they are even accepted.
    request_queue_size = 128


class SimServer:
    """Serve ``chain`` over HTTP on a loopback port (0 picks a free one).

    ``unknown_last_seen`` is what `/address/:a/txs/chain/:last_seen` does with a txid that is
    not in the address's history: "empty" (electrs: an empty page) or "ignore" (the first page
    again, as some servers do: a naive pager then loops).
    """

    def __init__(
        self,
        chain: SimChain,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        rate_limit: float | None = None,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        unknown_last_seen: str = "empty",
    ) -> None:
        if unknown_last_seen not in ("empty", "ignore"):
            raise BtcwatchError(f"unknown_last_seen must be empty or ignore: {unknown_last_seen}")
        self.chain = chain
        self.faults = faults
        self.limiter = RateLimiter(rate_limit, burst=burst, clock=clock) if rate_limit else None
        self._clock = clock
        self._sleep = sleep
        self.unknown_last_seen = unknown_last_seen
        self.requests: Counter[str] = Counter()
        self._counter_lock = threading.Lock()
        self._routes: list[tuple[str, tuple[str, ...], Handler]] = []
        self._add_routes()
        self._httpd = _Server((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        bound = self._httpd.server_address
        self.host: str = str(bound[0])
        self.port: int = int(bound[1])

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The Esplora API root, e.g. http://127.0.0.1:40123/api."""
        return f"{self.base_url}/api"

    def start(self) -> SimServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},  # stop() waits at most this long
                name="btcwatch-sim",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the same controls as Python methods --------------------------------------------------

    def advance(self, blocks: int = 1) -> int:
        return self.chain.advance(blocks)

    def reorg(
        self, depth: int = 1, drop: Sequence[str] = (), dropped: str = "mempool"
    ) -> list[str]:
        if dropped not in ("mempool", "vanish"):
            raise HttpError(400, f"dropped must be mempool or vanish, got {dropped!r}")
        mode: Literal["mempool", "vanish"] = "vanish" if dropped == "vanish" else "mempool"
        return self.chain.reorg(depth, drop, dropped=mode)

    def replace(self, txid: str, fee: int | None = None) -> str:
        return self.chain.replace(txid, fee=fee)

    def set_faults(self, faults: Faults | None) -> None:
        self.faults = faults

    def add_mempool(self, count: int, seed: int = 0) -> int:
        """Inject ``count`` unrelated transactions into the mempool: the mainnet profile's
        traffic stream, or on the small profile a fan-out of fresh transactions (sim/noise.py)."""
        from btcwatch.sim.mainnet import MainnetChain

        if isinstance(self.chain, MainnetChain) and self.chain.traffic is not None:
            return self.chain.add_mempool(count)
        return len(add_unrelated_mempool(self.chain, count, seed=seed))

    def advance_time(self, seconds: float) -> float:
        """Move simulated time: traffic arrives at its rate (mainnet profile)."""
        from btcwatch.sim.mainnet import MainnetChain

        if not isinstance(self.chain, MainnetChain):
            raise BtcwatchError("advance_time needs the mainnet profile")
        return self.chain.advance_time(seconds)

    # -- dispatch -----------------------------------------------------------------------------

    def _route(self, method: str, path: str) -> tuple[str, Handler | None, dict[str, str]]:
        parts = tuple(p for p in path.split("/") if p)
        for verb, pattern, handler in self._routes:
            if verb != method or len(pattern) != len(parts):
                continue
            params: dict[str, str] = {}
            for want, got in zip(pattern, parts, strict=True):
                if want.startswith(":"):
                    name, _, literal = want[1:].partition("=")
                    if literal and literal != got:
                        break
                    params[name] = got
                elif want != got:
                    break
            else:
                shown = "/".join(p.partition("=")[2] or p for p in pattern)
                return f"{verb} /{shown}", handler, params
        return f"{method} (unknown)", None, {}

    def handle(self, method: str, target: str, body: bytes) -> tuple[Reply | None, str]:
        """Answer one request; None means "close the connection without answering"."""
        split = urlsplit(target)
        path = split.path
        control = path.startswith(("/_sim/", "/api/_sim/")) or path in ("/_sim", "/api/_sim")
        if path.startswith("/api/"):
            path = path[4:]
        elif path == "/api":
            path = "/"
        name, handler, params = self._route(method, path)
        with self._counter_lock:
            self.requests[name] += 1
        if not control:
            if self.limiter is not None and not self.limiter.allow():
                return Reply(429, _TOO_MANY, "text/html"), name
            fault = self.faults.next() if self.faults is not None else None
            if fault is not None:
                early = self._fault(fault)
                if early is not None or fault is FaultKind.DROP:
                    return early, name
        else:
            fault = None
        if handler is None:
            reply = Reply.text("Not Found", 404)
        else:
            try:
                with self.chain.lock:
                    reply = handler(_Request(params, parse_qs(split.query), body))
            except HttpError as exc:
                reply = Reply.text(exc.message, exc.status)
            except BtcwatchError as exc:
                reply = Reply.text(str(exc), 400)
            except Exception as exc:  # a bug in a route: answer 500 rather than hang up
                reply = Reply.text(f"Internal Server Error: {type(exc).__name__}: {exc}", 500)
        if fault is FaultKind.TRUNCATE and reply.status == 200 and len(reply.body) > 1:
            reply = Reply(200, reply.body[: len(reply.body) // 2], reply.content_type)
        return reply, name

    def _fault(self, fault: FaultKind) -> Reply | None:
        if fault is FaultKind.HTTP_500:
            return Reply.text("Internal Server Error", 500)
        if fault in (FaultKind.HTTP_502, FaultKind.HTTP_503):
            status = 502 if fault is FaultKind.HTTP_502 else 503
            return Reply(status, _GATEWAY[status], "text/html")
        if fault is FaultKind.SLOW and self.faults is not None:
            self._sleep(self.faults.delay)
        return None  # slow and truncate answer (later); drop answers nothing

    # -- routes -------------------------------------------------------------------------------

    def _add(self, method: str, path: str, handler: Handler) -> None:
        self._routes.append((method, tuple(p for p in path.split("/") if p), handler))

    def _add_routes(self) -> None:
        def get(path: str, handler: Handler) -> None:
            self._add("GET", path, handler)

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
        proofs.add_routes(self)
        get("/tx/:txid/outspend/:vout", self._outspend)
        get("/txs/outspends", self._bulk_outspends)
        self._add("POST", "/tx", self._broadcast)
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
        self._add("POST", "/_sim/advance", self._ctl_advance)
        self._add("POST", "/_sim/reorg", self._ctl_reorg)
        self._add("POST", "/_sim/replace", self._ctl_replace)
        self._add("POST", "/_sim/faults", self._ctl_faults)
        get("/_sim/state", self._ctl_state)
        from btcwatch.sim.bci import add_routes

        add_routes(self)
        from btcwatch.sim.mainnet import add_routes as add_mainnet_routes

        add_mainnet_routes(self)  # /_sim/mempool (both profiles), /_sim/time (mainnet)

        from btcwatch.sim.prices import add_routes as add_price_routes  # /v1/historical-price

        add_price_routes(self)

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        """Register an extra route (the blockchain.info-style ones use this)."""
        self._add(method, path, handler)

    # blocks

    def _block(self, r: _Request) -> Any:
        rec = self.chain.block(_txid(r.params["hash"]))
        if rec is None:
            raise HttpError(404, "Block not found")
        return rec

    def _block_height(self, r: _Request) -> Reply:
        rec = self.chain.block_at(_int(r.params["height"], "height"))
        if rec is None:
            raise HttpError(404, "Block not found")
        return Reply.text(rec.hash)

    def _block_status(self, r: _Request) -> Reply:
        rec = self._block(r)
        if not rec.best:
            return Reply.json({"in_best_chain": False})
        return Reply.json(
            {"in_best_chain": True, "height": rec.height, "next_best": self.chain.next_best(rec)}
        )

    def _block_txid(self, r: _Request) -> Reply:
        rec = self._block(r)
        index = _int(r.params["index"], "index")
        if index >= len(rec.entries):
            raise HttpError(404, "Transaction not found")
        return Reply.text(rec.entries[index].txid)

    def _block_txs(self, r: _Request) -> Reply:
        rec = self._block(r)
        start = _int(r.params.get("start", "0"), "start index")
        if start % PAGE:
            raise HttpError(400, f"start index must be a multiple of {PAGE}")
        if start and start >= len(rec.entries):
            raise HttpError(404, "start index out of range")
        page = rec.entries[start : start + PAGE]
        return Reply.json([esplora.tx_json(self.chain, e) for e in page])

    def _blocks(self, r: _Request) -> Reply:
        tip = self.chain.tip_height
        start = min(tip, _int(r.params["start"], "height")) if "start" in r.params else tip
        out = []
        for height in range(start, max(start - 10, self.chain.base_height - 1), -1):
            rec = self.chain.block_at(height)
            if rec is not None:
                out.append(esplora.block_json(self.chain, rec))
        return Reply.json(out)

    # transactions

    def _tx(self, r: _Request) -> TxEntry:
        entry = self.chain.tx(_txid(r.params["txid"]))
        if entry is None:
            raise HttpError(404, "Transaction not found")
        return entry

    def _outspends(self, r: _Request) -> Reply:
        entry = self._tx(r)
        spends = [esplora.outspend_json(self.chain, entry, v) for v in range(len(entry.outs))]
        return Reply.json(spends)

    def _outspend(self, r: _Request) -> Reply:
        entry = self._tx(r)
        vout = _int(r.params["vout"], "vout")
        if vout >= len(entry.outs):
            raise HttpError(404, "Output not found")
        return Reply.json(esplora.outspend_json(self.chain, entry, vout))

    def _bulk_outspends(self, r: _Request) -> Reply:
        text = r.arg("txids", "") or ""
        txids = [t for t in text.split(",") if t]
        if not txids:
            raise HttpError(400, "No txids specified")
        if len(txids) > OUTSPENDS_LIMIT:
            raise HttpError(400, f"Too many txids requested (max {OUTSPENDS_LIMIT})")
        out = []
        for txid in txids:
            entry = self.chain.tx(_txid(txid))
            if entry is None:
                raise HttpError(404, "Transaction not found")
            out.append(
                [esplora.outspend_json(self.chain, entry, v) for v in range(len(entry.outs))]
            )
        return Reply.json(out)

    def _broadcast(self, r: _Request) -> Reply:
        try:
            return Reply.text(self.chain.broadcast(r.body.decode().strip()))
        except (BtcwatchError, UnicodeDecodeError) as exc:
            raise HttpError(400, f"sendrawtransaction RPC error: {exc}") from None

    # addresses

    def _record(self, r: _Request) -> tuple[str, AddressRecord | None, bytes]:
        """(identifier as given, its record if it has any history, its script)."""
        ident = r.params["id"]
        if r.params["kind"] == "scripthash":
            if not _HEX64.match(ident):
                raise HttpError(400, "Invalid scripthash")
            rec = self.chain.scripthash(bytes.fromhex(ident))  # Esplora: not reversed
            return ident.lower(), rec, rec.script if rec is not None else b""
        try:
            script = Address.parse(ident, self.chain.network).script
        except BtcwatchError:
            raise HttpError(400, "Invalid Bitcoin address") from None
        return ident, self.chain.address(script), script

    def _address(self, r: _Request) -> Reply:
        ident, rec, _ = self._record(r)
        key = r.params["kind"]
        return Reply.json(esplora.address_json(self.chain, key, ident, rec))

    def _address_txs(self, r: _Request) -> Reply:
        _, rec, _ = self._record(r)
        if rec is None:
            return Reply.json([])
        mempool = rec.mempool[::-1][:MEMPOOL_LIMIT]
        chain = self.chain.history_page(rec) or []
        return Reply.json([esplora.tx_json(self.chain, e) for e in [*mempool, *chain]])

    def _address_chain(self, r: _Request) -> Reply:
        _, rec, _ = self._record(r)
        last_seen = r.params.get("last_seen")
        if last_seen is not None:
            last_seen = _txid(last_seen)
        if rec is None:
            return Reply.json([])
        page = self.chain.history_page(rec, last_seen)
        if page is None:
            page = [] if self.unknown_last_seen == "empty" else self.chain.history_page(rec) or []
        return Reply.json([esplora.tx_json(self.chain, e) for e in page])

    def _address_mempool(self, r: _Request) -> Reply:
        _, rec, _ = self._record(r)
        entries = rec.mempool[::-1][:MEMPOOL_LIMIT] if rec is not None else []
        return Reply.json([esplora.tx_json(self.chain, e) for e in entries])

    def _address_utxo(self, r: _Request) -> Reply:
        _, rec, _ = self._record(r)
        if rec is None:
            return Reply.json([])
        found = self.chain.utxos(rec)
        return Reply.json([esplora.utxo_json(self.chain, e, v, value) for e, v, value in found])

    # mempool and fees

    def _mempool_recent(self, r: _Request) -> Reply:
        recent = self.chain.mempool()[-10:][::-1]
        return Reply.json(
            [
                {"txid": e.txid, "fee": e.fee, "vsize": e.vsize, "value": sum(v for _, v in e.outs)}
                for e in recent
            ]
        )

    def _fee_estimates(self, r: _Request) -> Reply:
        entries = self.chain.mempool()
        rates = sorted((e.fee / e.vsize for e in entries), reverse=True) or [1.0]
        targets = [*range(1, 26), 144, 504, 1008]
        out = {}
        for target in targets:
            index = min(len(rates) - 1, (target - 1) * max(1, len(rates) // 25))
            out[str(target)] = round(max(1.0, rates[index]), 3)
        return Reply.json(out)

    # control

    def _ctl_advance(self, r: _Request) -> Reply:
        blocks = _int(r.arg("blocks", "1") or "1", "blocks")
        height = self.chain.advance(blocks)
        return Reply.json({"tip_height": height, "tip_hash": self.chain.tip_hash})

    def _ctl_reorg(self, r: _Request) -> Reply:
        depth = _int(r.arg("depth", "1") or "1", "depth")
        drop = tuple(t for v in r.query.get("drop", []) for t in v.split(",") if t)
        dropped = r.arg("dropped", "mempool") or "mempool"
        hashes = self.reorg(depth, tuple(_txid(t) for t in drop), dropped)
        return Reply.json({"tip_height": self.chain.tip_height, "new_hashes": hashes})

    def _ctl_replace(self, r: _Request) -> Reply:
        txid = _txid(r.arg("txid", "") or "")
        fee_text = r.arg("fee")
        fee = _int(fee_text, "fee") if fee_text is not None else None
        return Reply.json({"replaced": txid, "replacement": self.replace(txid, fee)})

    def _ctl_faults(self, r: _Request) -> Reply:
        rate = float(r.arg("rate", "0") or "0")
        seed = _int(r.arg("seed", "0") or "0", "seed")
        delay = float(r.arg("delay", "2") or "2")
        kinds_text = r.arg("kinds")
        kinds = parse_kinds(kinds_text) if kinds_text else None
        if rate <= 0:
            self.faults = None
            return Reply.json({"faults": None})
        faults = Faults(rate, seed=seed, delay=delay, **({"kinds": kinds} if kinds else {}))
        self.faults = faults
        return Reply.json({"faults": faults.describe()})

    def _ctl_state(self, r: _Request) -> Reply:
        state = dict(self.chain.state())
        state["requests"] = dict(self.requests)
        state["faults"] = self.faults.describe() if self.faults is not None else None
        return Reply.json(state)


def _make_handler(server: SimServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes: without TCP_NODELAY a keep-alive client
        # waits ~40 ms for each answer (Nagle's algorithm meets delayed ACKs).
        disable_nagle_algorithm = True
        server_version = "btcwatch-sim"
        sys_version = ""
        timeout = 60

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            reply, _ = server.handle(method, self.path, body)
            if reply is None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return upgradable(server, Handler)  # WebSocket /api/v1/ws: sim/ws.py
