"""The one interface every explorer backend implements, plus helpers their parsers share.

Callers (watch, trace) only see `Provider`: they ask `supports(Capability.X)` before using an
optional feature, and every method a backend cannot do raises `NotSupported` (a ProviderError)
that names the backend, so a pool can skip it and a user sees which explorer lacks what.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Container, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Self, TypeVar

from btcwatch.chain.address import Address, script_to_address
from btcwatch.chain.merkle import MerkleBranch
from btcwatch.chain.network import Network
from btcwatch.errors import BadResponse, InputError, ProviderError
from btcwatch.model import (
    AddressStats,
    BlockInfo,
    Evidence,
    OutSpend,
    Tip,
    Tx,
    is_txid,
)

__all__ = [
    "Capability",
    "Field",
    "History",
    "NotSupported",
    "Provider",
    "check_address",
    "check_block_hash",
    "check_txid",
    "gather_limited",
    "output_address",
]

T = TypeVar("T")
K = TypeVar("K")


class History(list[Tx]):
    """An address's transactions, newest first; ``complete`` is False when a page limit
    (``address_history(max_pages=N)``) stopped before the end: a hot wallet's 100,000 txs are
    never downloaded whole by a trace, and the caller records the cut."""

    __slots__ = ("complete", "pages")

    def __init__(self, txs: Iterable[Tx] = (), *, complete: bool = True, pages: int = 0) -> None:
        super().__init__(txs)
        self.complete = complete
        self.pages = pages


# Concurrent requests a provider starts for one fan-out call (outspends_many and friends). The
# throttle decides the real pace; this only keeps thousands of idle tasks from piling up.
FAN_OUT = 8


class Capability(StrEnum):
    """What a backend can answer; optional features are checked before use."""

    TIP = "tip"
    BLOCKS = "blocks"  # block_hash, block, block_txids
    BLOCK_RAW = "block_raw"
    TX = "tx"
    TX_RAW = "tx_raw"
    OUTSPENDS = "outspends"
    OUTSPENDS_BATCH = "outspends_batch"  # many txs' outspends in one request
    ADDRESS_STATS = "address_stats"
    ADDRESS_HISTORY = "address_history"
    MEMPOOL = "mempool"  # the full list of mempool txids
    ADDRESS_MEMPOOL = "address_mempool"  # one address's unconfirmed txs
    MULTIADDR = "multiaddr"  # many addresses' stats in one request
    MERKLE_PROOF = "merkle_proof"  # /tx/:txid/merkle-proof and /block/:hash/header


class NotSupported(ProviderError):
    """The backend cannot do this at all (no endpoint); another explorer might."""


class Provider(ABC):
    """An explorer behind one interface; values come back as `btcwatch.model` types.

    ``requests`` counts HTTP requests actually sent (retries included) so users can see what
    a run cost; ``last_evidence`` is the raw response the most recent value came from (see
    `btcwatch.providers.capture_evidence` for concurrent callers).
    """

    name: str
    network: Network
    capabilities: frozenset[Capability]

    @property
    @abstractmethod
    def requests(self) -> int:
        """HTTP requests sent so far, retries included."""

    @property
    @abstractmethod
    def last_evidence(self) -> Evidence | None:
        """The successful response the latest returned value was parsed from."""

    def learned_rates(self) -> dict[str, float | None]:
        """Base URL -> the request rate learned from 429s (None: the configured one is fine).

        The caller keeps these (the watch stores them) and passes them back as start rates.
        """
        return {}

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def not_supported(self, what: str) -> NotSupported:
        return NotSupported(f"{what} not supported by {self.name}", provider=self.name)

    async def tip(self) -> Tip:
        raise self.not_supported("tip")

    async def block_hash(self, height: int) -> str:
        raise self.not_supported("block_hash")

    async def block(self, block_hash: str) -> BlockInfo:
        raise self.not_supported("block")

    async def block_txids(self, block_hash: str) -> list[str]:
        raise self.not_supported("block_txids")

    async def block_raw(self, block_hash: str) -> bytes:
        raise self.not_supported("block_raw")

    async def tx(self, txid: str) -> Tx:
        raise self.not_supported("tx")

    async def tx_raw(self, txid: str) -> bytes:
        raise self.not_supported("tx_raw")

    async def outspends(self, txid: str) -> list[OutSpend]:
        raise self.not_supported("outspends")

    async def merkle_proof(self, txid: str) -> tuple[int, MerkleBranch]:
        """The confirmed tx's block height and Merkle branch (NotFound while unconfirmed)."""
        raise self.not_supported("merkle_proof")

    async def block_header(self, block_hash: str) -> bytes:
        """The 80-byte header of a block, checked to hash to ``block_hash``."""
        raise self.not_supported("block_header")

    async def outspends_many(self, txids: Sequence[str]) -> dict[str, list[OutSpend]]:
        """Outspends of many txs; this default asks one tx at a time, a few concurrently."""
        return await gather_limited(unique(txids), self.outspends)

    async def address_stats(self, address: str) -> AddressStats:
        raise self.not_supported("address_stats")

    async def address_stats_many(self, addresses: Sequence[str]) -> dict[str, AddressStats]:
        """Stats of many addresses; backends with MULTIADDR do this in few requests."""
        return await gather_limited(unique(addresses), self.address_stats)

    async def address_history(
        self, address: str, *, known: Container[str] = frozenset(), max_pages: int | None = None
    ) -> list[Tx]:
        """Newest first. With ``max_pages``, at most that many requests: a `History` whose
        ``complete`` says whether the end was reached."""
        raise self.not_supported("address_history")

    async def mempool_txids(self) -> list[str]:
        raise self.not_supported("mempool_txids")

    async def address_mempool(self, address: str) -> list[Tx]:
        """The address's unconfirmed txs, newest first (Esplora caps the list at 50)."""
        raise self.not_supported("address_mempool")

    def probed(self) -> dict[str, bool]:
        """What probing taught about optional endpoints, keyed by explorer, to remember."""
        return {}

    def assume(self, probed: dict[str, bool]) -> None:
        """Take back what an earlier run's probing learned (see `probed`)."""
        return None

    @abstractmethod
    async def aclose(self) -> None:
        """Release connections; the provider cannot be used afterwards."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.network.name}>"


def unique(items: Iterable[K]) -> list[K]:
    """Items in first-seen order without repeats (a caller's list may name a tx twice)."""
    return list(dict.fromkeys(items))


async def gather_limited(
    keys: Sequence[K], fetch: Callable[[K], Awaitable[T]], limit: int = FAN_OUT
) -> dict[K, T]:
    """Run ``fetch`` for every key with at most ``limit`` in flight; the first error wins."""
    gate = asyncio.Semaphore(limit)

    async def one(key: K) -> T:
        async with gate:
            return await fetch(key)

    values = await asyncio.gather(*(one(k) for k in keys))
    return dict(zip(keys, values, strict=True))


# --- request arguments: checked before they become URL path segments -------------------


def check_txid(txid: str) -> str:
    """A txid as lower-case hex; anything else never reaches a URL (no path tricks)."""
    if not isinstance(txid, str) or not is_txid(txid):
        raise InputError(f"not a txid (expected 64 hex digits): {txid!r}")
    return txid.lower()


def check_block_hash(block_hash: str) -> str:
    if not isinstance(block_hash, str) or not is_txid(block_hash):
        raise InputError(f"not a block hash (expected 64 hex digits): {block_hash!r}")
    return block_hash.lower()


def check_address(address: str, network: Network) -> str:
    """The canonical rendering of an address for ``network`` (AddressError names the problem)."""
    return str(Address.parse(address, network))


def check_height(height: int) -> int:
    if isinstance(height, bool) or not isinstance(height, int) or height < 0:
        raise InputError(f"not a block height: {height!r}")
    return height


# --- reading explorer JSON ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    """A value inside an explorer's JSON, with the path that names it in error messages.

    Parsers read ``Field(obj, "tx", provider)["vin"].items()`` and get a one-line BadResponse
    such as ``esplora: bad response: tx.vin[0].prevout.value is -5, expected an int >= 0``.
    """

    value: object
    path: str
    provider: str

    def fail(self, problem: str) -> BadResponse:
        return BadResponse(f"bad response: {self.path} {problem}", provider=self.provider)

    def _dict(self) -> dict[str, object]:
        if not isinstance(self.value, dict):
            raise self.fail(f"is {_kind(self.value)}, expected an object")
        return self.value

    def __getitem__(self, key: str) -> Field:
        obj = self._dict()
        if key not in obj:
            raise self.fail(f"has no {key!r}")
        return Field(obj[key], f"{self.path}.{key}", self.provider)

    def get(self, key: str) -> Field | None:
        """The member, or None when it is absent or null."""
        obj = self._dict()
        if obj.get(key) is None:
            return None
        return Field(obj[key], f"{self.path}.{key}", self.provider)

    def has(self, key: str) -> bool:
        return key in self._dict()

    def items(self) -> list[Field]:
        if not isinstance(self.value, list):
            raise self.fail(f"is {_kind(self.value)}, expected a list")
        return [Field(v, f"{self.path}[{i}]", self.provider) for i, v in enumerate(self.value)]

    def as_int(self, minimum: int | None = 0, maximum: int | None = None) -> int:
        v = self.value
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(f"is {_kind(v)}, expected an integer")
        if minimum is not None and v < minimum:
            raise self.fail(f"is {v}, expected an int >= {minimum}")
        if maximum is not None and v > maximum:
            raise self.fail(f"is {v}, expected an int <= {maximum}")
        return v

    def as_str(self) -> str:
        if not isinstance(self.value, str):
            raise self.fail(f"is {_kind(self.value)}, expected a string")
        return self.value

    def as_bool(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.fail(f"is {_kind(self.value)}, expected true or false")
        return self.value

    def as_hex(self) -> bytes:
        text = self.as_str()
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise self.fail(f"is not hex ({_short(text)})") from None

    def as_txid(self) -> str:
        text = self.as_str()
        if not is_txid(text):
            raise self.fail(f"is not a 64-digit hex hash ({_short(text)})")
        return text.lower()


MAX_SATS = 21_000_000 * 100_000_000
U32 = 0xFFFF_FFFF


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), "a list" if isinstance(value, list) else "an object"
    )


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def output_address(script: bytes, claimed: str | None, network: Network, at: Field) -> str | None:
    """The address btcwatch renders for ``script``; the explorer's claim is only checked.

    Explorers differ at the edges (blockchain.info names a P2PK output by its key's P2PKH
    address, Esplora names none), so the address is always our rendering of the script. A
    different address for a script that has one means the body is not what it claims.
    """
    ours = script_to_address(script, network)
    if ours is not None and claimed and claimed != ours and claimed.lower() != ours:
        raise at.fail(f"says address {claimed} but the script is {ours}")
    return ours


def with_url(exc: ProviderError, url: str) -> ProviderError:
    """The same error, now also naming the URL whose body it was about."""
    if exc.url:
        return exc
    detail = str(exc).removeprefix(f"{exc.provider}: ") if exc.provider else str(exc)
    return type(exc)(detail, provider=exc.provider, url=url)
