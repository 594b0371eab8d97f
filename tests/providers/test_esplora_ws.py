"""The push channel: which explorers have one, parsing mempool's messages, and how it fails.

Parsing runs on mempool.space's recorded WebSocket payloads (tests/data/recorded/mempool-space,
see PROVENANCE.md); failures run against the simulator's WebSocket fault knobs over loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from btcwatch.chain.network import MAINNET, REGTEST, TESTNET
from btcwatch.errors import BadResponse, ConfigError, ProviderError, Unavailable
from btcwatch.providers.esplora_ws import PushNotice, open_push, parse_push, push_url
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.sim.ws import WsFault, hub_of

RECORDED = Path(__file__).parent.parent / "data" / "recorded" / "mempool-space"


@pytest.mark.parametrize(
    ("specs", "network", "mode", "url"),
    [
        (["mempool"], MAINNET, "auto", "wss://mempool.space/api/v1/ws"),
        (["mempool.space"], TESTNET, "auto", "wss://mempool.space/testnet/api/v1/ws"),
        (["blockstream"], MAINNET, "auto", None),  # blockstream.info has no WebSocket
        (["blockchain.info"], MAINNET, "on", None),
        (["blockstream, mempool"], MAINNET, "auto", "wss://mempool.space/api/v1/ws"),
        (["http://127.0.0.1:4000/api"], REGTEST, "auto", "ws://127.0.0.1:4000/api/v1/ws"),
        (["https://esplora.example/api"], MAINNET, "auto", None),  # unknown: maybe electrs
        (["https://mempool.example/api/"], MAINNET, "on", "wss://mempool.example/api/v1/ws"),
        (["mempool"], REGTEST, "auto", None),  # mempool.space serves no regtest
        (["mempool"], MAINNET, "off", None),
    ],
)
def test_push_url(specs: list[str], network: object, mode: str, url: str | None) -> None:
    assert push_url(specs, network, mode) == url  # type: ignore[arg-type]


def test_push_url_refuses_an_unknown_mode() -> None:
    with pytest.raises(ConfigError, match="unknown push mode 'sometimes'"):
        push_url(["mempool"], MAINNET, "sometimes")


def test_recorded_block_messages() -> None:
    block = (RECORDED / "details_rbf_tx02_ws_block.json").read_text()
    assert parse_push(block) == PushNotice(
        block="000000000000000000019bfe551da67e0d93dda4b355d16f1fdb4031ba7e5d61"
    )
    initial = (RECORDED / "details_rbf_tx01_ws_blocks_01.json").read_text()
    assert parse_push(initial).empty  # the initial "blocks" list is no news


def test_multi_address_transactions_name_the_addresses_and_txids() -> None:
    tx = json.loads((RECORDED / "details_rbf_tx02_api_tx.json").read_text())
    message = {
        "multi-address-transactions": {
            "bc1qa": {"mempool": [tx], "confirmed": [], "removed": []},
            "bc1qb": {"mempool": [], "confirmed": [], "removed": [tx]},
            "bc1qc": {"mempool": [], "confirmed": [], "removed": []},
        }
    }
    notice = parse_push(json.dumps(message).encode())
    assert notice.addresses == {"bc1qa", "bc1qb"}
    assert notice.txids == {tx["txid"]}
    assert notice.block is None and not notice.empty


def test_the_whole_mempool_stream_names_payees_and_spent_outpoints() -> None:
    tx = json.loads((RECORDED / "details_rbf_tx02_api_tx.json").read_text())
    message = {"mempool-transactions": {"sequence": 3, "added": [tx], "removed": []}}
    notice = parse_push(json.dumps(message))
    assert notice.spends == {(vin["txid"], vin["vout"]) for vin in tx["vin"]}
    assert notice.paid == {o["scriptpubkey_address"] for o in tx["vout"]}
    assert notice.addresses == frozenset() and not notice.empty
    with pytest.raises(BadResponse, match="added is not a list"):
        parse_push('{"mempool-transactions": {"added": 1}}')


def test_track_addresses_error_states_the_limit() -> None:
    text = (
        '{"track-addresses-error": "too many addresses requested, this connection supports '
        'tracking a maximum of 10 addresses"}'
    )
    notice = parse_push(text)
    assert notice.limit == 10 and notice.limit_error is not None and "maximum of 10" in text
    assert parse_push('{"track-addresses-error": "nope"}').limit is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("\x00<html>502</html>", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"multi-address-transactions": []}', "is not an object"),
        ('{"multi-address-transactions": {"a": {"mempool": 5}}}', "no list"),
    ],
)
def test_garbage_is_a_bad_response(text: str, problem: str) -> None:
    with pytest.raises(BadResponse, match=problem):
        parse_push(text)


# -- failures against the simulator -----------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    chain = SimChain.from_scenario(vastaamo(victims=3, seed=7, background=1))
    with SimServer(chain) as srv:
        yield srv


def ws(server: SimServer) -> str:
    return f"ws://{server.host}:{server.port}/api/v1/ws"


async def first_failure(url: str, heartbeat: float = 30.0) -> ProviderError:
    with pytest.raises(ProviderError) as failed:
        async with open_push(url, heartbeat=heartbeat, open_timeout=5) as channel:
            await channel.subscribe([])
            async for _ in channel.notices():
                pass
    return failed.value


@pytest.mark.parametrize(
    ("fault", "kind", "words"),
    [
        (WsFault.REFUSE, Unavailable, "no WebSocket here (HTTP 503 to the upgrade)"),
        (WsFault.GARBAGE, BadResponse, "push message is not JSON"),
        (WsFault.OVERSIZED, BadResponse, "larger than 4194304 bytes"),
        (WsFault.DROP, Unavailable, "the connection was cut"),
        (WsFault.SILENT, Unavailable, "no heartbeat"),
    ],
    ids=str,
)
def test_each_fault_fails_with_a_message_that_says_what_happened(
    server: SimServer, fault: WsFault, kind: type[ProviderError], words: str
) -> None:
    hub_of(server).set_fault(fault)
    try:
        problem = asyncio.run(first_failure(ws(server), heartbeat=0.3))
    finally:
        hub_of(server).set_fault(None)
    assert type(problem) is kind
    assert words in str(problem)
    assert str(problem).endswith(f"({ws(server)})")


def test_nothing_listening_and_a_proxy_that_is_not_there_are_unavailable(
    server: SimServer,
) -> None:
    closed = "ws://127.0.0.1:9/api/v1/ws"  # discard port: nothing listens there
    assert isinstance(asyncio.run(first_failure(closed)), Unavailable)
    opened = hub_of(server).opened
    with pytest.raises(Unavailable):
        asyncio.run(_via_proxy(ws(server)))
    assert hub_of(server).opened == opened  # never a direct connection around the proxy


async def _via_proxy(url: str) -> None:
    async with open_push(url, proxy="http://127.0.0.1:9", open_timeout=5):
        pass


class Socks5:
    """A minimal SOCKS5 proxy on loopback (no auth, CONNECT): records what it was asked for."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, str, int]] = []  # (address type, host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            greeting = client.recv(2)
            client.recv(greeting[1])
            client.sendall(b"\x05\x00")  # no authentication
            _, _, _, kind = client.recv(4)
            if kind == 3:  # a name: the proxy resolves it
                host = client.recv(client.recv(1)[0]).decode()
            else:
                host = socket.inet_ntoa(client.recv(4))
            (port,) = struct.unpack("!H", client.recv(2))
            self.asked.append((kind, host, port))
            upstream = socket.create_connection(("127.0.0.1", port))
            client.sendall(b"\x05\x00\x00\x01" + bytes(4) + b"\x00\x00")
            with upstream:
                pump = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
                pump.start()
                _pump(client, upstream)
                pump.join(5)

    def close(self) -> None:
        self.listener.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def test_a_socks5_proxy_carries_the_websocket_and_resolves_the_name(server: SimServer) -> None:
    proxy = Socks5()
    url = f"ws://localhost:{server.port}/api/v1/ws"
    opened = hub_of(server).opened

    async def go() -> None:
        async with open_push(url, proxy=f"socks5://127.0.0.1:{proxy.port}", open_timeout=5) as ch:
            await ch.subscribe([])

    try:
        asyncio.run(go())
    finally:
        proxy.close()
    assert proxy.asked == [(3, "localhost", server.port)]  # the name went to the proxy (no DNS)
    assert hub_of(server).opened == opened + 1
