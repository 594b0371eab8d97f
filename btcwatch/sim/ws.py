"""mempool.space's WebSocket (``/api/v1/ws``) on the simulator: address tracking and blocks.

The subset of mempool's backend (``websocket-handler.ts``) a watcher needs, same messages:

- client ``{"track-addresses": [..]}``: tracked until the next such message; more than
  ``max_addresses`` valid addresses answer ``{"track-addresses-error": "too many addresses
  requested, this connection supports tracking a maximum of N addresses"}`` and track none;
- client ``{"action": "want", "data": ["blocks", ...]}``: the last blocks at once, then
  ``{"block": {...}}`` for every new block; ``{"action": "ping"}`` answers ``{"pong": true}``;
- client ``{"track-mempool": true}``: ``{"mempool-transactions": {sequence, added, removed,
  mined, replaced}}`` after every change, only where the server allows it (``track_mempool``;
  an operator's choice, as the full mempool stream is heavy), otherwise ignored;
- server ``{"multi-address-transactions": {ADDR: {"mempool": [tx], "confirmed": [tx],
  "removed": [tx]}}}`` when a tracked address's transaction enters the mempool, confirms, or
  leaves it unconfirmed (RBF, eviction, reorg), with Esplora transactions (`esplora.tx_json`).
  A message that is not JSON closes the connection, as mempool does.

Changes are found as mempool's backend finds them, by polling the node: every ``poll`` seconds
the hub diffs the SimChain's mempool and best chain (`ws_news`; no hook in the chain). The
framing is stdlib (`ws_frames`) on the HTTP server's own port; the fault knobs (`WsFault`) put
on the wire what a broken or hostile explorer would: garbage, an oversized frame, silence (no
pongs either), a cut connection, or no WebSocket at all.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import weakref
from collections.abc import Iterable
from enum import StrEnum
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from btcwatch.chain.address import Address
from btcwatch.errors import BtcwatchError, ConfigError
from btcwatch.sim import esplora
from btcwatch.sim.chain import SimChain
from btcwatch.sim.routing import Reply, Request
from btcwatch.sim.ws_frames import (
    CLOSE,
    PING,
    PONG,
    TEXT,
    FrameReader,
    ProtocolViolation,
    SocketGone,
    accept_key,
    frame,
    frame_header,
)
from btcwatch.sim.ws_news import ChainNews

if TYPE_CHECKING:
    from btcwatch.sim.server import SimServer

__all__ = ["MAX_ADDRESSES", "WS_PATH", "WsFault", "WsHub", "hub_of", "upgradable"]

WS_PATH = "/api/v1/ws"
MAX_ADDRESSES = 100  # mempool's MEMPOOL.MAX_TRACKED_ADDRESSES as configured here
OVERSIZE = 8 * 1024 * 1024  # what the "oversized" fault announces
GARBAGE = b"\x00<html>502 Bad Gateway</html>{not json"
INITIAL_BLOCKS = 6


class WsFault(StrEnum):
    """How new connections misbehave (existing ones keep the fault they started with)."""

    GARBAGE = "garbage"  # every message the server sends is not JSON
    OVERSIZED = "oversized"  # one frame announcing 8 MiB, streamed until the client hangs up
    SILENT = "silent"  # says nothing, answers no ping: only a heartbeat timeout notices
    DROP = "drop"  # the TCP connection is cut right after the upgrade
    REFUSE = "refuse"  # no WebSocket here: the upgrade answers 503


class _Conn:
    """One client connection: what it asked for, and a lock so pushes and replies interleave
    whole frames."""

    def __init__(self, sock: socket.socket, fault: WsFault | None) -> None:
        self.sock = sock
        self.fault = fault
        self.tracked: dict[bytes, str] = {}  # script -> the address as the client wrote it
        self.want_blocks = False
        self.track_mempool = False
        self.lock = threading.Lock()
        self.open = True

    def send(self, opcode: int, payload: bytes) -> None:
        with self.lock:
            if not self.open:
                return
            try:
                self.sock.sendall(frame(opcode, payload))
            except OSError:
                self.open = False

    def send_json(self, value: Any) -> None:
        if self.fault is WsFault.SILENT:
            return
        if self.fault is WsFault.GARBAGE:
            self.send(TEXT, GARBAGE)
            return
        self.send(TEXT, json.dumps(value, separators=(",", ":")).encode())

    def cut(self) -> None:
        """Close the TCP connection without a closing handshake."""
        with self.lock:
            self.open = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


class WsHub:
    """The WebSocket side of one SimServer: connections, subscriptions, change polling."""

    def __init__(self, server: SimServer) -> None:
        self.chain: SimChain = server.chain
        self.max_addresses = MAX_ADDRESSES
        self.track_mempool = False
        self.poll = 0.1
        self.max_frame = 1024 * 1024
        self.fault: WsFault | None = None
        self.opened = 0  # connections upgraded so far
        self.refused = 0  # upgrades answered 503 (fault "refuse")
        self.pushed = 0  # push messages sent (address or block news)
        self.last_error: str | None = None
        self._conns: set[_Conn] = set()
        self._lock = threading.Lock()
        self._poller: threading.Thread | None = None
        self._news = ChainNews(self.chain)

    # -- controls -----------------------------------------------------------------------------

    def set_fault(self, fault: WsFault | str | None, *, disconnect: bool = True) -> None:
        """Make new connections misbehave (None: behave); by default drop the open ones."""
        self.fault = WsFault(fault) if fault else None
        if disconnect:
            self.disconnect()

    def disconnect(self) -> int:
        """Cut every open connection (a network gap); returns how many there were."""
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            conn.cut()
        return len(conns)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._conns)

    def tracked(self) -> list[list[str]]:
        """The addresses each open connection tracks (for tests and /_sim/ws)."""
        with self._lock:
            return [sorted(c.tracked.values()) for c in self._conns]

    def state(self) -> dict[str, Any]:
        return {
            "fault": self.fault.value if self.fault else None,
            "max_addresses": self.max_addresses,
            "track_mempool": self.track_mempool,
            "connections": self.connections,
            "opened": self.opened,
            "refused": self.refused,
            "pushed": self.pushed,
            "tracked": self.tracked(),
        }

    # -- a connection -------------------------------------------------------------------------

    def serve(self, h: BaseHTTPRequestHandler) -> None:
        """Answer an upgrade request on ``h`` and run the session until it ends."""
        h.close_connection = True
        if self.fault is WsFault.REFUSE:
            self.refused += 1
            _plain(h, 503, "Service Unavailable")
            return
        key = h.headers.get("Sec-WebSocket-Key")
        upgrade = (h.headers.get("Upgrade") or "").lower()
        if upgrade != "websocket" or not key:
            _plain(h, 400, "Bad Request: this route wants a WebSocket upgrade")
            return
        if h.headers.get("Sec-WebSocket-Version") != "13":
            _plain(h, 426, "Upgrade Required", {"Sec-WebSocket-Version": "13"})
            return
        h.send_response(101, "Switching Protocols")
        h.send_header("Upgrade", "websocket")
        h.send_header("Connection", "Upgrade")
        h.send_header("Sec-WebSocket-Accept", accept_key(key))
        h.end_headers()
        h.wfile.flush()
        sock = h.connection
        sock.settimeout(0.2)
        conn = _Conn(sock, self.fault)
        alive = _alive(h)
        baseline = self._news.snapshot()  # before our lock: routes hold the chain's first
        with self._lock:
            self.opened += 1
            self._conns.add(conn)
            if self._poller is None:
                self._news.reset(baseline)
                self._poller = threading.Thread(target=self._poll_loop, daemon=True)
                self._poller.name = "btcwatch-sim-ws"
                self._poller.start()
        try:
            self._session(conn, FrameReader(sock, lambda: alive() and conn.open, self.max_frame))
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.cut()

    def _session(self, conn: _Conn, reader: FrameReader) -> None:
        if conn.fault is WsFault.DROP:
            return
        if conn.fault is WsFault.GARBAGE:
            conn.send(TEXT, GARBAGE)
        if conn.fault is WsFault.OVERSIZED:
            _stream_oversized(conn)
            return

        def control(opcode: int, payload: bytes) -> bool:
            if opcode == CLOSE:
                if conn.fault is not WsFault.SILENT:
                    conn.send(CLOSE, payload[:2])
                return False
            if opcode == PING and conn.fault is not WsFault.SILENT:
                conn.send(PONG, payload)
            return True

        try:
            while conn.open:
                kind, data = reader.message(control)
                if kind != TEXT:
                    raise ProtocolViolation(1003, "only text messages are understood")
                try:
                    message = json.loads(data.decode())
                except (UnicodeDecodeError, ValueError):
                    raise ProtocolViolation(1007, "not JSON") from None
                if conn.fault is not WsFault.SILENT and isinstance(message, dict):
                    self._handle(conn, message)
        except ProtocolViolation as exc:
            conn.send(CLOSE, exc.code.to_bytes(2, "big") + exc.reason.encode()[:100])
        except SocketGone:
            pass

    def _handle(self, conn: _Conn, message: dict[str, Any]) -> None:
        response: dict[str, Any] = {}
        if message.get("action") == "want" and isinstance(message.get("data"), list):
            wants = "blocks" in message["data"]
            if wants and not conn.want_blocks:
                response["blocks"] = self._recent_blocks()
            conn.want_blocks = wants
        if message.get("action") == "init":
            response["blocks"] = self._recent_blocks()
        if message.get("action") == "ping":
            response["pong"] = True
        wanted = message.get("track-addresses")
        if isinstance(wanted, list):
            valid = self._valid(wanted)
            if len(valid) > self.max_addresses:
                response["track-addresses-error"] = (
                    "too many addresses requested, this connection supports tracking a "
                    f"maximum of {self.max_addresses} addresses"
                )
                valid = {}
            with conn.lock:
                conn.tracked = valid
        if message.get("track-mempool") is True and self.track_mempool:
            conn.track_mempool = True
        elif message.get("track-mempool") is False:
            conn.track_mempool = False
        if response:
            conn.send_json(response)

    def _valid(self, addresses: Iterable[Any]) -> dict[bytes, str]:
        out: dict[bytes, str] = {}
        for text in addresses:
            if not isinstance(text, str):
                continue
            try:
                out[Address.parse(text, self.chain.network).script] = text
            except BtcwatchError:
                continue
        return out

    def _recent_blocks(self) -> list[dict[str, Any]]:
        with self.chain.lock:
            tip = self.chain.tip_height
            low = max(self.chain.base_height, tip - INITIAL_BLOCKS + 1)
            recs = [self.chain.block_at(h) for h in range(low, tip + 1)]
            return [esplora.block_json(self.chain, r) for r in recs if r is not None]

    # -- change polling -----------------------------------------------------------------------

    def _poll_loop(self) -> None:
        while True:
            time.sleep(self.poll)
            with self._lock:
                conns = [c for c in self._conns if c.open]
                if not conns:
                    self._poller = None
                    return
            try:
                found = self._news.step(conns)
            except Exception as exc:  # a bug here must not kill the poller: keep it to look at
                self.last_error = f"{type(exc).__name__}: {exc}"
                continue
            for conn, msg in found:
                conn.send_json(msg)
                self.pushed += 1


def _stream_oversized(conn: _Conn) -> None:
    """Announce an 8 MiB text frame and send it until the client hangs up."""
    chunk = b" " * 65536
    with conn.lock:
        try:
            conn.sock.settimeout(5.0)
            conn.sock.sendall(frame_header(TEXT, OVERSIZE))
            for _ in range(OVERSIZE // len(chunk)):
                conn.sock.sendall(chunk)
        except OSError:
            pass


def _plain(
    h: BaseHTTPRequestHandler, status: int, text: str, headers: dict[str, str] | None = None
) -> None:
    body = text.encode()
    h.send_response(status)
    for name, value in (headers or {}).items():
        h.send_header(name, value)
    h.send_header("Content-Type", "text/plain")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def _alive(h: BaseHTTPRequestHandler) -> Any:
    """True while the HTTP server still listens (a stopped SimServer ends its sessions)."""
    listener = getattr(h.server, "socket", None)
    return lambda: listener is not None and listener.fileno() != -1


# -- the hook in sim/server.py ----------------------------------------------------------------

_HUBS: weakref.WeakKeyDictionary[SimServer, WsHub] = weakref.WeakKeyDictionary()


def hub_of(server: SimServer) -> WsHub:
    """The WebSocket hub of ``server`` (tests and the control route set its knobs here)."""
    return _HUBS[server]


def upgradable(
    server: SimServer, handler: type[BaseHTTPRequestHandler]
) -> type[BaseHTTPRequestHandler]:
    """``handler`` with `WS_PATH` answered by a new hub; adds the ``/_sim/ws`` control route."""
    hub = WsHub(server)
    _HUBS[server] = hub
    server.add_route("GET", "/_sim/ws", lambda r: _reply(hub.state()))
    server.add_route("POST", "/_sim/ws", lambda r: _control(hub, r))

    class Upgradable(handler):  # type: ignore[valid-type,misc]
        def do_GET(self) -> None:
            if urlsplit(self.path).path.rstrip("/") == WS_PATH:
                hub.serve(self)
            else:
                super().do_GET()

    return Upgradable


def _reply(value: Any) -> Reply:
    return Reply.json(value)


def _control(hub: WsHub, r: Request) -> Reply:
    """POST /_sim/ws?fault=garbage|oversized|silent|drop|refuse|none&max_addresses=N
    &track_mempool=0|1&disconnect=1."""
    fault = r.arg("fault")
    if fault is not None:
        if fault not in ("none", "", *[f.value for f in WsFault]):
            known = ", ".join(f.value for f in WsFault)
            raise ConfigError(f"unknown WebSocket fault {fault!r} (use {known} or none)")
        hub.set_fault(None if fault in ("none", "") else WsFault(fault))
    limit = r.arg("max_addresses")
    if limit is not None:
        if not limit.isdigit() or int(limit) < 1:
            raise ConfigError(f"max_addresses must be a positive integer, not {limit!r}")
        hub.max_addresses = int(limit)
    mempool = r.arg("track_mempool")
    if mempool is not None:
        hub.track_mempool = mempool in ("1", "true", "yes")
    if r.arg("disconnect") in ("1", "true", "yes"):
        hub.disconnect()
    return _reply(hub.state())
