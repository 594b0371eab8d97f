"""The sim's mempool.space WebSocket over real loopback sockets: messages, limits, RFC 6455, faults.

Message shapes are checked against mempool.space's own recorded WebSocket payloads
(tests/data/recorded/mempool-space, see PROVENANCE.md).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from btcwatch.chain.address import Address
from btcwatch.chain.tx import RawTx, RawTxIn, RawTxOut
from btcwatch.sim.chain import SimChain
from btcwatch.sim.server import SimServer
from btcwatch.sim.ws import GARBAGE, WsFault, hub_of
from btcwatch.sim.ws_frames import accept_key

RECORDED = Path(__file__).parent.parent / "data" / "recorded" / "mempool-space"
WAIT = 10.0


def ws_url(server: SimServer) -> str:
    return f"ws://{server.host}:{server.port}/api/v1/ws"


@pytest.fixture
def ws(server: SimServer) -> Iterator[ClientConnection]:
    with connect(ws_url(server), open_timeout=WAIT, max_size=4 << 20) as conn:
        yield conn


def recv(conn: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(conn.recv(timeout=WAIT))
    return message


def pay(chain: SimChain, address: str, value: int = 123_456, back: int = 0) -> str:
    """Broadcast a payment to ``address`` (change back, 2,000 sat fee) from the tip block's
    unspent coinbase output (``back`` blocks below the tip)."""
    block = chain.block_at(chain.tip_height - back)
    assert block is not None
    coinbase = block.entries[0]
    script, have = coinbase.outs[0]
    txin = RawTxIn(coinbase.txid, 0, b"", 0xFFFFFFFD, (bytes(71), bytes(33)))
    out = RawTxOut(value, Address.parse(address, chain.network).script)
    change = RawTxOut(have - value - 2_000, script)
    return chain.broadcast(RawTx(2, (txin,), (out, change), 0).serialize().hex())


def track(conn: ClientConnection, server: SimServer, addresses: list[str]) -> None:
    conn.send(json.dumps({"track-addresses": addresses}))
    conn.send(json.dumps({"action": "ping"}))  # answered after the subscription is stored
    assert recv(conn) == {"pong": True}


def addresses_of(truth: dict[str, Any], n: int) -> list[str]:
    return [r["address"] for r in truth["ransom_addresses"][:n]]


def test_a_mempool_payment_and_its_confirmation_are_pushed_in_mempools_shape(
    server: SimServer, chain: SimChain, truth: dict[str, Any], ws: ClientConnection
) -> None:
    [address] = addresses_of(truth, 1)
    ws.send(json.dumps({"action": "want", "data": ["blocks"]}))
    initial = recv(ws)
    assert [b["height"] for b in initial["blocks"]][-1] == chain.tip_height
    track(ws, server, [address])
    txid = pay(chain, address)
    pushed = recv(ws)
    assert list(pushed) == ["multi-address-transactions"]
    lists = pushed["multi-address-transactions"][address]
    assert sorted(lists) == ["confirmed", "mempool", "removed"]
    assert [t["txid"] for t in lists["mempool"]] == [txid]
    tx = lists["mempool"][0]
    recorded_tx = json.loads((RECORDED / "details_rbf_tx02_api_tx.json").read_text())
    assert set(tx) <= set(recorded_tx)  # Esplora fields, as mempool.space sends them
    assert tx["status"] == {"confirmed": False}
    assert tx["vout"][0]["scriptpubkey_address"] == address
    height = chain.advance()
    pushed = recv(ws)
    recorded_block = json.loads((RECORDED / "details_rbf_tx02_ws_block.json").read_text())
    assert set(pushed["block"]) <= set(recorded_block["block"])
    assert pushed["block"]["height"] == height
    confirmed = pushed["multi-address-transactions"][address]["confirmed"]
    assert [t["txid"] for t in confirmed] == [txid]
    assert confirmed[0]["status"]["block_height"] == height


def test_replacement_and_reorg_removals_are_pushed(
    server: SimServer, chain: SimChain, truth: dict[str, Any], ws: ClientConnection
) -> None:
    [address] = addresses_of(truth, 1)
    track(ws, server, [address])
    txid = pay(chain, address, 500_000)
    assert recv(ws)["multi-address-transactions"][address]["mempool"][0]["txid"] == txid
    replacement = chain.replace(txid)
    lists = recv(ws)["multi-address-transactions"][address]
    assert [t["txid"] for t in lists["mempool"]] == [replacement]
    assert [t["txid"] for t in lists["removed"]] == [txid]
    chain.advance()
    assert recv(ws)["multi-address-transactions"][address]["confirmed"][0]["txid"] == replacement
    chain.reorg(1, [replacement], dropped="vanish")
    removed = recv(ws)["multi-address-transactions"][address]["removed"]
    assert [t["txid"] for t in removed] == [replacement]


def test_more_addresses_than_the_limit_answer_track_addresses_error(
    server: SimServer, truth: dict[str, Any], ws: ClientConnection
) -> None:
    hub_of(server).max_addresses = 3
    ws.send(json.dumps({"track-addresses": addresses_of(truth, 4)}))
    assert recv(ws) == {
        "track-addresses-error": "too many addresses requested, this connection supports "
        "tracking a maximum of 3 addresses"
    }
    assert hub_of(server).tracked() == [[]]
    track(ws, server, addresses_of(truth, 3))  # within the limit: accepted, nothing to say
    ws.send(json.dumps({"track-addresses": ["not-an-address", *addresses_of(truth, 3)]}))
    ws.send(json.dumps({"action": "ping"}))
    assert recv(ws) == {"pong": True}  # invalid addresses are skipped, not counted


def test_track_mempool_only_where_the_server_allows_it(
    server: SimServer, chain: SimChain, truth: dict[str, Any], ws: ClientConnection
) -> None:
    [address] = addresses_of(truth, 1)
    ws.send(json.dumps({"track-mempool": True}))
    track(ws, server, [address])
    pay(chain, address)
    assert "mempool-transactions" not in recv(ws)  # not allowed: ignored
    hub_of(server).track_mempool = True
    ws.send(json.dumps({"track-mempool": True}))
    ws.send(json.dumps({"action": "ping"}))
    assert recv(ws) == {"pong": True}
    txid = pay(chain, addresses_of(truth, 2)[1], 99_000, back=1)  # an address nobody tracks
    delta = recv(ws)["mempool-transactions"]
    assert [t["txid"] for t in delta["added"]] == [txid]
    assert delta["removed"] == [] and delta["sequence"] >= 1


# -- RFC 6455 details, with a raw socket ----------------------------------------------------


def handshake(
    server: SimServer, headers: dict[str, str] | None = None
) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection((server.host, server.port), timeout=WAIT)
    key = base64.b64encode(os.urandom(16)).decode()
    fields = {
        "Host": f"{server.host}:{server.port}",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": "13",
        **(headers or {}),
    }
    request = "GET /api/v1/ws HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    sock.sendall(request.encode() + b"\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    if b" 101 " in answer.split(b"\r\n")[0]:
        assert f"Sec-WebSocket-Accept: {accept_key(key)}".encode() in answer
    return sock, answer


def client_frame(
    opcode: int, payload: bytes, *, masked: bool = True, length: int | None = None, fin: bool = True
) -> bytes:
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | opcode])
    bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    def exactly(n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = sock.recv(n - len(out))
            if not chunk:
                raise EOFError
            out += chunk
        return out

    b0, b1 = exactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", exactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", exactly(8))
    return b0 & 0x0F, exactly(n)


def test_ping_is_answered_with_pong_and_close_is_echoed(server: SimServer) -> None:
    sock, answer = handshake(server)
    assert answer.startswith(b"HTTP/1.1 101 ")
    sock.sendall(client_frame(0x9, b"hello"))
    assert read_frame(sock) == (0xA, b"hello")
    fragmented = b'{"action":"ping"}'
    sock.sendall(client_frame(0x1, fragmented[:5], fin=False))
    sock.sendall(client_frame(0x9, b"in between"))  # control frames may interleave
    assert read_frame(sock) == (0xA, b"in between")
    sock.sendall(client_frame(0x0, fragmented[5:]))
    assert read_frame(sock) == (0x1, b'{"pong":true}')
    sock.sendall(client_frame(0x8, struct.pack("!H", 1000)))
    assert read_frame(sock) == (0x8, struct.pack("!H", 1000))
    sock.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (client_frame(0x1, b"{}", masked=False), 1002),  # clients must mask
        (client_frame(0x1, b"", length=2 << 20), 1009),  # over the 1 MiB frame cap: not read
        (client_frame(0x2, b"\x00\x01"), 1003),  # binary is not understood
        (client_frame(0x1, b"not json"), 1007),  # mempool closes on unparseable input
    ],
    ids=["unmasked", "oversized", "binary", "garbage"],
)
def test_protocol_violations_close_with_the_right_code(
    server: SimServer, frame: bytes, code: int
) -> None:
    sock, _ = handshake(server)
    sock.sendall(frame)
    opcode, payload = read_frame(sock)
    assert opcode == 0x8
    assert struct.unpack("!H", payload[:2])[0] == code
    sock.close()


def test_a_plain_get_or_old_version_is_refused(server: SimServer) -> None:
    answer = httpx.get(ws_url(server).replace("ws://", "http://"), timeout=WAIT)
    assert answer.status_code == 400
    sock, head = handshake(server, {"Sec-WebSocket-Version": "8"})
    assert head.startswith(b"HTTP/1.1 426 ")
    sock.close()


# -- fault knobs ------------------------------------------------------------------------------


def test_fault_knobs_misbehave_as_described(server: SimServer) -> None:
    hub = hub_of(server)
    hub.set_fault(WsFault.REFUSE)
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(server), open_timeout=WAIT)
    assert refused.value.response.status_code == 503
    hub.set_fault(WsFault.GARBAGE)
    with connect(ws_url(server), open_timeout=WAIT) as conn:
        assert conn.recv(timeout=WAIT) == GARBAGE.decode()
    hub.set_fault(WsFault.OVERSIZED)
    with connect(ws_url(server), open_timeout=WAIT, max_size=4 << 20) as conn:
        with pytest.raises(ConnectionClosed) as closed:
            conn.recv(timeout=WAIT)
        assert closed.value.sent is not None and closed.value.sent.code == 1009
    hub.set_fault(WsFault.DROP)
    with connect(ws_url(server), open_timeout=WAIT) as conn:
        with pytest.raises(ConnectionClosed) as cut:
            conn.recv(timeout=WAIT)
        assert cut.value.rcvd is None
    hub.set_fault(WsFault.SILENT)
    with connect(ws_url(server), open_timeout=WAIT) as conn:
        assert not conn.ping().wait(0.5)  # no pong: only a heartbeat timeout notices
    assert hub.refused == 1 and hub.opened == 4


def test_the_control_route_sets_faults_limits_and_cuts_connections(
    server: SimServer, ws: ClientConnection
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=WAIT) as ctl:
        state = ctl.post("/_sim/ws", params={"max_addresses": "5", "track_mempool": "1"}).json()
        assert state["max_addresses"] == 5 and state["track_mempool"] is True
        assert ctl.post("/_sim/ws", params={"fault": "silent"}).json()["fault"] == "silent"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT)  # a new fault cuts the open connections
        bad = ctl.post("/_sim/ws", params={"fault": "nonsense"})
        assert bad.status_code == 400 and "unknown WebSocket fault" in bad.text
        assert ctl.post("/_sim/ws", params={"fault": "none"}).json()["fault"] is None
        assert ctl.get("/_sim/ws").json()["opened"] == 1
