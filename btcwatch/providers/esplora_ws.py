"""The explorer's push channel: mempool.space's WebSocket (``/api/v1/ws``) read as notices.

The socket work (TLS, proxy, ping/pong heartbeat, the 4 MiB message cap) is the `websockets`
library's; this module says what to send (`subscription`), turns each message into a
`PushNotice` (`parse_push`, pure) and every way the channel can fail into a ProviderError whose
message says what happened, so the watch can log it once and keep polling. Only explorers
with a push channel get a URL (`push_url`): mempool.space and loopback simulators;
blockstream.info and blockchain.info have none.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from btcwatch.chain.network import MAINNET, Network
from btcwatch.errors import BadResponse, ConfigError, ProviderError, Unavailable
from btcwatch.providers._http import DEFAULT_USER_AGENT, check_proxy
from btcwatch.providers.factory import EXPLORERS, LOOPBACK, parse_explorer_list

__all__ = [
    "HEARTBEAT",
    "MAX_MESSAGE",
    "PushChannel",
    "PushNotice",
    "open_push",
    "parse_push",
    "push_url",
    "subscription",
]

MAX_MESSAGE = 4 * 1024 * 1024  # a push bigger than this is a broken or hostile server
HEARTBEAT = 30.0  # seconds between pings, and to wait for the pong
OPEN_TIMEOUT = 15.0
_LIMIT = re.compile(r"maximum of (\d+)")
PUSH_EXPLORERS = ("mempool",)  # named explorers with mempool's WebSocket


@dataclass(frozen=True, slots=True)
class PushNotice:
    """What one pushed message says, reduced to what decides "poll now"."""

    addresses: frozenset[str] = frozenset()  # tracked addresses a transaction touched
    txids: frozenset[str] = frozenset()  # those transactions (mempool, confirmed, removed)
    block: str | None = None  # hash of a new block
    limit_error: str | None = None  # the text of a track-addresses-error
    limit: int | None = None  # the per-connection maximum that error states
    # From the whole-mempool stream (track-mempool): addresses paid and outpoints spent by
    # the new transactions, to be matched against everything watched.
    paid: frozenset[str] = frozenset()
    spends: frozenset[tuple[str, int]] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.addresses or self.block or self.limit_error or self.paid or self.spends)


def push_url(specs: Sequence[str], network: Network = MAINNET, mode: str = "auto") -> str | None:
    """The WebSocket URL for the first explorer in ``specs`` that has one, or None.

    ``auto``: mempool.space, and Esplora URLs on loopback (the simulator); ``on``: also any
    other Esplora URL (a self-hosted mempool); ``off``: never.
    """
    if mode not in ("auto", "on", "off"):
        raise ConfigError(f"unknown push mode {mode!r} (use auto, on or off)")
    if mode == "off":
        return None
    for text in specs:
        for spec in parse_explorer_list(text):
            if spec in PUSH_EXPLORERS:
                base = EXPLORERS[spec].urls.get(network.name)
                if base is not None:
                    return _ws(base)
                continue
            if spec in EXPLORERS:
                continue  # a named explorer without a WebSocket
            host = (urlsplit(spec).hostname or "").lower()
            if mode == "on" or host in LOOPBACK:
                return _ws(spec)
    return None


def _ws(base_url: str) -> str:
    """``https://mempool.space/api`` -> ``wss://mempool.space/api/v1/ws``."""
    parts = urlsplit(base_url.rstrip("/"))
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path + "/v1/ws", "", ""))


def subscription(
    addresses: Sequence[str], *, blocks: bool = True, mempool: bool = False
) -> list[dict[str, Any]]:
    """The messages that subscribe to ``addresses`` (and new blocks, and the whole mempool
    where the server allows it: a server that does not simply ignores the request)."""
    messages: list[dict[str, Any]] = []
    if blocks:
        messages.append({"action": "want", "data": ["blocks"]})
    if mempool:
        messages.append({"track-mempool": True})
    messages.append({"track-addresses": list(addresses)})
    return messages


def parse_push(text: str | bytes) -> PushNotice:
    """One pushed message -> PushNotice; BadResponse when it is not mempool's JSON."""
    try:
        value = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        raise BadResponse(f"push message is not JSON: {_snippet(text)}") from None
    if not isinstance(value, dict):
        raise BadResponse(f"push message is not a JSON object: {_snippet(text)}")
    addresses: set[str] = set()
    txids: set[str] = set()
    multi = value.get("multi-address-transactions")
    if multi is not None:
        if not isinstance(multi, dict):
            raise BadResponse("multi-address-transactions is not an object")
        for address, lists in multi.items():
            if not isinstance(lists, dict):
                raise BadResponse(f"multi-address-transactions[{address}] is not an object")
            for key in ("mempool", "confirmed", "removed"):
                txs = lists.get(key, [])
                if not isinstance(txs, list):
                    raise BadResponse(f"multi-address-transactions[{address}].{key} is no list")
                for tx in txs:
                    txid = tx.get("txid") if isinstance(tx, dict) else None
                    if isinstance(txid, str):
                        txids.add(txid)
                if txs:
                    addresses.add(address)
    paid, spends = _mempool_delta(value.get("mempool-transactions"))
    block = value.get("block")
    block_hash = block.get("id") if isinstance(block, dict) else None
    error = value.get("track-addresses-error")
    limit = None
    if error is not None:
        error = str(error)
        found = _LIMIT.search(error)
        limit = int(found.group(1)) if found else None
    return PushNotice(
        frozenset(addresses),
        frozenset(txids),
        block_hash if isinstance(block_hash, str) else None,
        error,
        limit,
        paid,
        spends,
    )


def _mempool_delta(delta: Any) -> tuple[frozenset[str], frozenset[tuple[str, int]]]:
    """(addresses paid, outpoints spent) by the ``added`` txs of a mempool-transactions."""
    if delta is None:
        return frozenset(), frozenset()
    added = delta.get("added") if isinstance(delta, dict) else None
    if not isinstance(added, list):
        raise BadResponse("mempool-transactions.added is not a list")
    paid: set[str] = set()
    spends: set[tuple[str, int]] = set()
    for tx in added:
        if not isinstance(tx, dict):
            raise BadResponse("mempool-transactions.added holds a non-object")
        for vin in tx.get("vin") or []:
            txid, vout = (vin.get("txid"), vin.get("vout")) if isinstance(vin, dict) else (0, 0)
            if isinstance(txid, str) and isinstance(vout, int):
                spends.add((txid, vout))
        for out in tx.get("vout") or []:
            address = out.get("scriptpubkey_address") if isinstance(out, dict) else None
            if isinstance(address, str):
                paid.add(address)
    return frozenset(paid), frozenset(spends)


def _snippet(text: str | bytes) -> str:
    shown = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return repr(shown[:60])


class PushChannel:
    """One open WebSocket to an explorer."""

    def __init__(self, url: str, conn: ClientConnection) -> None:
        self.url = url
        self.messages = 0  # well-formed messages received: the channel works
        self._conn = conn

    async def subscribe(
        self, addresses: Sequence[str], *, blocks: bool = True, mempool: bool = False
    ) -> None:
        try:
            for message in subscription(addresses, blocks=blocks, mempool=mempool):
                await self._conn.send(json.dumps(message))
        except (WebSocketException, OSError) as exc:
            raise _problem(self.url, exc) from None

    async def notices(self) -> AsyncIterator[PushNotice]:
        """Notices until the connection ends; raises ProviderError saying why it ended."""
        while True:
            try:
                message = await self._conn.recv()
            except (WebSocketException, OSError) as exc:
                raise _problem(self.url, exc) from None
            try:
                notice = parse_push(message)
            except BadResponse as exc:
                raise BadResponse(str(exc), url=self.url) from None
            self.messages += 1
            if not notice.empty:
                yield notice


@asynccontextmanager
async def open_push(
    url: str,
    *,
    proxy: str | None = None,
    user_agent: str = DEFAULT_USER_AGENT,
    max_size: int = MAX_MESSAGE,
    heartbeat: float = HEARTBEAT,
    open_timeout: float = OPEN_TIMEOUT,
) -> AsyncIterator[PushChannel]:
    """Connect (through ``proxy`` only, never directly when one is given) and yield a channel.

    A ``socks5://`` proxy is used as ``socks5h://``: the proxy resolves the explorer's name,
    as it does for the REST requests, so no DNS query leaves the machine around Tor.
    """
    if proxy is not None:
        proxy = check_proxy(proxy)
        if proxy.startswith("socks5://"):
            proxy = "socks5h://" + proxy[len("socks5://") :]
    try:
        conn = await connect(
            url,
            proxy=proxy,
            user_agent_header=user_agent,
            open_timeout=open_timeout,
            ping_interval=heartbeat,
            ping_timeout=heartbeat,
            close_timeout=2.0,
            max_size=max_size,
        )
    except (WebSocketException, OSError, TimeoutError, ImportError) as exc:
        raise _problem(url, exc) from None
    try:
        yield PushChannel(url, conn)
    finally:
        await conn.close()


def _problem(url: str, exc: BaseException) -> ProviderError:
    """Name what went wrong in words a log reader understands."""
    if isinstance(exc, ConnectionClosed):
        frame = exc.rcvd or exc.sent
        code = frame.code if frame is not None else None
        if code == 1009:
            return BadResponse(f"a push message was larger than {MAX_MESSAGE} bytes", url=url)
        if code == 1011 and exc.sent is not None and "ping" in exc.sent.reason:
            return Unavailable("no heartbeat (the server stopped answering pings)", url=url)
        if code is None:
            return Unavailable("the connection was cut", url=url)
        reason = frame.reason if frame is not None else ""
        return Unavailable(f"connection closed ({code}{': ' + reason if reason else ''})", url=url)
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        return Unavailable(f"no WebSocket here (HTTP {status} to the upgrade)", url=url)
    if isinstance(exc, TimeoutError):
        return Unavailable("timed out opening the WebSocket", url=url)
    if isinstance(exc, ImportError):
        return Unavailable(f"the proxy needs a package that is not installed: {exc}", url=url)
    if isinstance(exc, websockets.exceptions.InvalidProxy):
        return Unavailable(f"unusable proxy: {exc}", url=url)
    return Unavailable(f"{type(exc).__name__}: {exc}", url=url)
