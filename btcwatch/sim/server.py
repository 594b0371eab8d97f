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
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from btcwatch.errors import BtcwatchError
from btcwatch.sim import bci, control, esplora_routes, mainnet, prices, proofs
from btcwatch.sim.chain import SimChain
from btcwatch.sim.faults import FaultKind, Faults, RateLimiter
from btcwatch.sim.noise import add_unrelated_mempool
from btcwatch.sim.routing import Handler, HttpError, Reply, Request, Routes
from btcwatch.sim.ws import upgradable

# Reply, HttpError and the request type live in sim/routing.py; tests and route modules have
# imported them from here, so they stay importable under their old names.
_Request = Request

__all__ = ["ROUTE_FAMILIES", "HttpError", "Reply", "SimServer"]

#: Every family of routes a server answers, registered in this order (the first match wins).
#: A new API is a module with ``add_routes(server)`` and one more entry here.
ROUTE_FAMILIES: list[Callable[[SimServer], None]] = [
    esplora_routes.add_routes,
    proofs.add_routes,  # /tx/:txid/merkle-proof
    control.add_routes,  # /_sim/advance, reorg, replace, faults, state
    bci.add_routes,  # /bci/...
    mainnet.add_routes,  # /_sim/mempool (both profiles), /_sim/time (mainnet)
    prices.add_routes,  # /v1/historical-price, /v1/prices
]

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
        self._routes = Routes()
        for add_routes in ROUTE_FAMILIES:
            add_routes(self)
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
        if isinstance(self.chain, mainnet.MainnetChain) and self.chain.traffic is not None:
            return self.chain.add_mempool(count)
        return len(add_unrelated_mempool(self.chain, count, seed=seed))

    def advance_time(self, seconds: float) -> float:
        """Move simulated time: traffic arrives at its rate (mainnet profile)."""
        if not isinstance(self.chain, mainnet.MainnetChain):
            raise BtcwatchError("advance_time needs the mainnet profile")
        return self.chain.advance_time(seconds)

    # -- dispatch -----------------------------------------------------------------------------

    def handle(self, method: str, target: str, body: bytes) -> tuple[Reply | None, str]:
        """Answer one request; None means "close the connection without answering"."""
        split = urlsplit(target)
        path = split.path
        control = path.startswith(("/_sim/", "/api/_sim/")) or path in ("/_sim", "/api/_sim")
        if path.startswith("/api/"):
            path = path[4:]
        elif path == "/api":
            path = "/"
        name, handler, params = self._routes.match(method, path)
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
                    reply = handler(Request(params, parse_qs(split.query), body))
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

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        """Register a route (each family in `ROUTE_FAMILIES` calls this)."""
        self._routes.add(method, path, handler)


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
