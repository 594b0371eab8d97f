"""Esplora (blockstream.info, mempool.space, self-hosted electrs, btcwatch's simulator).

`EsploraProvider` only builds URLs, checks that the answer is about what was asked, and pages;
the pure JSON parsers are in `esplora_parse`, the client plumbing in `HttpProvider`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Container, Sequence
from urllib.parse import urlsplit

from btcwatch.chain.block import parse_header
from btcwatch.chain.merkle import MerkleBranch, parse_esplora_proof
from btcwatch.chain.network import MAINNET, Network
from btcwatch.chain.scan import scan_block
from btcwatch.chain.tx import parse_tx as parse_raw_tx
from btcwatch.errors import (
    BadResponse,
    InputError,
    ParseError,
    ProviderError,
    RateLimited,
    Unavailable,
)
from btcwatch.model import (
    AddressStats,
    BlockInfo,
    OutSpend,
    Tip,
    Tx,
    is_txid,
)
from btcwatch.providers._http import HttpOptions, decode_text
from btcwatch.providers.base import (
    Capability,
    Field,
    History,
    check_address,
    check_block_hash,
    check_height,
    check_txid,
    gather_limited,
    unique,
)
from btcwatch.providers.esplora_parse import (
    parse_address_stats,
    parse_block,
    parse_outspends,
    parse_outspends_batch,
    parse_tx,
    parse_txids,
)
from btcwatch.providers.http_provider import HttpProvider

__all__ = ["CHAIN_PAGE_SIZE", "OUTSPENDS_BATCH_SIZE", "EsploraProvider"]

CHAIN_PAGE_SIZE = 25  # confirmed txs per /address/:a/txs/chain page (Esplora's contract)
OUTSPENDS_BATCH_SIZE = 50  # txids per mempool.space /txs/outspends request
DEFAULT_RATE = 5.0  # requests per second when the caller does not say (see factory.py)
_TIP_CACHE = 64

# Size caps per endpoint (bytes), enforced while the body streams in: an explorer that sends
# more is giving a bad answer, not a big one. Generous against mainnet's worst cases.
KIB, MIB = 1024, 1024 * 1024
MAX_HASH = 1 * KIB  # a 64-character hash (plus whitespace)
MAX_BLOCK_JSON = 64 * KIB
MAX_BLOCK_TXIDS = 8 * MIB  # ~67 bytes per txid; mainnet blocks hold < 20000 txs
MAX_RAW_BLOCK = 8 * MIB  # consensus: at most 4 MB of block data
MAX_TX_JSON = 4 * MIB
MAX_TX_HEX = 8 * MIB + KIB  # a 4 MB transaction as hex
MAX_OUTSPENDS = 4 * MIB
MAX_OUTSPENDS_BATCH = 16 * MIB  # 50 txs' outspend lists
MAX_ADDRESS = 64 * KIB
MAX_HISTORY_PAGE = 5 * MIB  # 25 txs (or 50 unconfirmed ones)
MAX_MEMPOOL_TXIDS = 64 * MIB  # the whole mainnet mempool's txids in a backlog
MAX_MERKLE_PROOF = 16 * KIB  # ~14 hashes for a 10,000-tx block
MAX_HEADER = 1 * KIB  # 80 bytes as hex

# Decoders run inside the HTTP retry loop: a ValueError there (a body cut short, a hash of the
# wrong length) makes that attempt count as failed and retried, like a 5xx.


def _decode_hash(body: bytes) -> str:
    text = decode_text(body).lower()
    if not is_txid(text):
        raise ValueError(f"expected a 64-digit hex hash, got {len(text)} characters")
    return text


def _decode_tx_hex(body: bytes) -> bytes:
    raw = bytes.fromhex(decode_text(body))
    try:
        parse_raw_tx(raw)
    except ParseError as exc:
        raise ValueError(f"not a raw transaction: {exc}") from None
    return raw


def _decode_header(body: bytes) -> bytes:
    raw = bytes.fromhex(decode_text(body))
    if len(raw) != 80:
        raise ValueError(f"a block header is 80 bytes, got {len(raw)}")
    return raw


def _decode_block(body: bytes) -> bytes:
    try:
        scan_block(body, (), ())  # one pass: structure, merkle root and proof of work
    except ParseError as exc:
        raise ValueError(f"not a whole block: {exc}") from None
    return body


def _involves(tx: Tx, address: str) -> bool:
    return any(o.address == address for o in tx.outputs) or any(
        i.prev_address == address for i in tx.inputs
    )


# --- the provider ------------------------------------------------------------------------


class EsploraProvider(HttpProvider):
    """Any server speaking the Esplora HTTP API, given its base URL (…/api).

    ``batch_outspends`` None: try mempool.space's batch endpoint and stop using it if the
    server lacks it.
    """

    default_rate = DEFAULT_RATE

    def __init__(
        self,
        base_url: str,
        options: HttpOptions | None = None,
        *,
        name: str | None = None,
        network: Network = MAINNET,
        batch_outspends: bool | None = None,
    ) -> None:
        super().__init__(name or urlsplit(base_url).netloc or base_url, base_url, network, options)
        self._batch = batch_outspends
        self._heights: dict[str, int] = {}  # block hash -> height, to answer tip() in 1 request
        self.capabilities = self._capabilities()

    @property
    def _probe_key(self) -> str:
        return f"{self.base_url} outspends_batch"

    def probed(self) -> dict[str, bool]:
        """Whether this explorer has the batch outspends endpoint, once a request told."""
        return {} if self._batch is None else {self._probe_key: self._batch}

    def assume(self, probed: dict[str, bool]) -> None:
        known = probed.get(self._probe_key)
        if self._batch is None and isinstance(known, bool):
            self._batch = known
            self.capabilities = self._capabilities()

    def _capabilities(self) -> frozenset[Capability]:
        caps = set(Capability) - {Capability.MULTIADDR}
        if self._batch is False:
            caps.discard(Capability.OUTSPENDS_BATCH)
        return frozenset(caps)

    # blocks -----------------------------------------------------------------------------

    async def tip(self) -> Tip:
        """Tip hash, then its height from /block/:hash (skipped while the tip is unchanged).

        Two small requests that cannot straddle a new block, unlike /blocks/tip/height plus
        /blocks/tip/hash; steady-state polling costs one.
        """
        tip_hash = await self._http.get("/blocks/tip/hash", _decode_hash, max_bytes=MAX_HASH)
        height = self._heights.get(tip_hash)
        if height is None:
            height = (await self.block(tip_hash)).height
            if len(self._heights) >= _TIP_CACHE:
                self._heights.clear()
            self._heights[tip_hash] = height
        return Tip(height=height, hash=tip_hash)

    async def block_hash(self, height: int) -> str:
        path = f"/block-height/{check_height(height)}"
        hash_text: str = await self._http.get(path, _decode_hash, max_bytes=MAX_HASH)
        return hash_text

    async def block(self, block_hash: str) -> BlockInfo:
        wanted = check_block_hash(block_hash)
        path = f"/block/{wanted}"
        info: BlockInfo = await self._json(
            path, lambda o: parse_block(o, provider=self.name), MAX_BLOCK_JSON
        )
        if info.hash != wanted:
            raise self._mismatch(path, f"block {info.hash}")
        return info

    async def block_txids(self, block_hash: str) -> list[str]:
        path = f"/block/{check_block_hash(block_hash)}/txids"
        txids: list[str] = await self._json(
            path, lambda o: parse_txids(o, provider=self.name), MAX_BLOCK_TXIDS
        )
        return txids

    async def block_raw(self, block_hash: str) -> bytes:
        wanted = check_block_hash(block_hash)
        path = f"/block/{wanted}/raw"
        raw: bytes = await self._http.get(path, _decode_block, max_bytes=MAX_RAW_BLOCK)
        got = hashlib.sha256(hashlib.sha256(raw[:80]).digest()).digest()[::-1].hex()
        if got != wanted:
            raise self._mismatch(path, f"{len(raw)} bytes whose header hashes to {got}")
        return raw

    # transactions -----------------------------------------------------------------------

    async def tx(self, txid: str) -> Tx:
        wanted = check_txid(txid)
        path = f"/tx/{wanted}"
        tx: Tx = await self._json(
            path, lambda o: parse_tx(o, self.network, provider=self.name), MAX_TX_JSON
        )
        if tx.txid != wanted:
            raise self._mismatch(path, f"tx {tx.txid}")
        return tx

    async def _hashed_bytes(
        self,
        path: str,
        decode: Callable[[bytes], bytes],
        max_bytes: int,
        wanted: str,
        hash_of: Callable[[bytes], str],
        what: str,
    ) -> bytes:
        """Bytes that must hash to ``wanted`` (a raw tx, a header): anything else is refused."""
        raw: bytes = await self._http.get(path, decode, max_bytes=max_bytes)
        got = hash_of(raw)
        if got != wanted:
            raise self._mismatch(path, f"{what} {got}")
        return raw

    async def tx_raw(self, txid: str) -> bytes:
        wanted = check_txid(txid)
        return await self._hashed_bytes(
            f"/tx/{wanted}/hex",
            _decode_tx_hex,
            MAX_TX_HEX,
            wanted,
            lambda raw: parse_raw_tx(raw).txid,
            "raw tx",
        )

    async def merkle_proof(self, txid: str) -> tuple[int, MerkleBranch]:
        path = f"/tx/{check_txid(txid)}/merkle-proof"

        def parse(obj: object) -> tuple[int, MerkleBranch]:
            try:
                return parse_esplora_proof(obj)
            except InputError as exc:
                raise BadResponse(f"bad response: {exc}", provider=self.name) from None

        proof: tuple[int, MerkleBranch] = await self._json(path, parse, MAX_MERKLE_PROOF)
        return proof

    async def block_header(self, block_hash: str) -> bytes:
        wanted = check_block_hash(block_hash)
        return await self._hashed_bytes(
            f"/block/{wanted}/header",
            _decode_header,
            MAX_HEADER,
            wanted,
            lambda raw: parse_header(raw).hash,
            "a header hashing to",
        )

    async def outspends(self, txid: str) -> list[OutSpend]:
        path = f"/tx/{check_txid(txid)}/outspends"
        spends: list[OutSpend] = await self._json(
            path, lambda o: parse_outspends(o, provider=self.name), MAX_OUTSPENDS
        )
        return spends

    async def outspends_many(self, txids: Sequence[str]) -> dict[str, list[OutSpend]]:
        """mempool.space's /txs/outspends (50 per request) when available, else one by one."""
        ids = unique(check_txid(t) for t in txids)
        if not ids:
            return {}
        if self._batch is not False:
            try:
                found = await self._outspends_batched(ids)
            except ProviderError as exc:
                if self._batch or isinstance(exc, (Unavailable, RateLimited)):
                    raise
                # Unprobed: the same txs one by one. If that works, the server lacks the batch
                # endpoint (never ask again); a NotFound here says the 404 was about a tx.
                found = await gather_limited(ids, self.outspends)
                self._batch = False
                self.capabilities = self._capabilities()
                return found
            self._batch = True  # probed: `probed()` lets the next run skip the probe
            return found
        return await gather_limited(ids, self.outspends)

    async def _outspends_batched(self, ids: list[str]) -> dict[str, list[OutSpend]]:
        chunks = [
            tuple(ids[i : i + OUTSPENDS_BATCH_SIZE])
            for i in range(0, len(ids), OUTSPENDS_BATCH_SIZE)
        ]

        async def fetch(chunk: tuple[str, ...]) -> dict[str, list[OutSpend]]:
            found: dict[str, list[OutSpend]] = await self._json(
                "/txs/outspends",
                lambda o: parse_outspends_batch(o, chunk, provider=self.name),
                MAX_OUTSPENDS_BATCH,
                txids=",".join(chunk),
            )
            return found

        result: dict[str, list[OutSpend]] = {}
        for part in (await gather_limited(chunks, fetch)).values():
            result.update(part)
        return result

    # addresses --------------------------------------------------------------------------

    async def address_stats(self, address: str) -> AddressStats:
        addr = check_address(address, self.network)
        path = f"/address/{addr}"
        stats: AddressStats = await self._json(
            path, lambda o: parse_address_stats(o, provider=self.name), MAX_ADDRESS
        )
        if stats.address != addr:
            raise self._mismatch(path, f"address {stats.address}")
        return stats

    async def _tx_list(self, path: str, address: str) -> list[Tx]:
        txs: list[Tx] = await self._json(
            path,
            lambda o: [
                parse_tx(item.value, self.network, provider=self.name)
                for item in Field(o, "txs", self.name).items()
            ],
            MAX_HISTORY_PAGE,
        )
        for tx in txs:
            if not _involves(tx, address):
                raise self._mismatch(path, f"tx {tx.txid}, which does not involve {address}")
        return txs

    async def address_history(
        self, address: str, *, known: Container[str] = frozenset(), max_pages: int | None = None
    ) -> History:
        """Newest first: mempool txs, then confirmed pages of 25 until the end.

        Stops after a confirmed page whose txs are all in ``known`` (so a poll fetches only
        new pages), or after ``max_pages`` requests (``complete`` False if more were left).
        Returns every tx fetched, known ones included (their status may have
        changed). A server that answers a page with nothing new (it ignored the
        last_seen_txid) raises BadResponse instead of looping or silently truncating.
        """
        addr = check_address(address, self.network)
        found: dict[str, Tx] = {}

        def add(txs: list[Tx]) -> None:
            for tx in txs:
                old = found.get(tx.txid)
                if old is None or (tx.confirmed and not old.confirmed):
                    found[tx.txid] = tx

        first = await self._tx_list(f"/address/{addr}/txs", addr)
        add(first)
        pages = 1
        page = [tx for tx in first if tx.confirmed]
        while len(page) >= CHAIN_PAGE_SIZE and not all(tx.txid in known for tx in page):
            if max_pages is not None and pages >= max_pages:
                return History(found.values(), complete=False, pages=pages)
            pages += 1
            path = f"/address/{addr}/txs/chain/{page[-1].txid}"
            before = len(found)
            page = await self._tx_list(path, addr)
            add(page)
            if page and len(found) == before:
                raise self._bad(
                    path,
                    "the next history page repeats txs already seen"
                    " (server ignored last_seen_txid); history is incomplete",
                )
        return History(found.values(), pages=pages)

    async def address_mempool(self, address: str) -> list[Tx]:
        """``/address/:a/txs/mempool``: one request, whatever the size of the mempool."""
        addr = check_address(address, self.network)
        return await self._tx_list(f"/address/{addr}/txs/mempool", addr)

    async def mempool_txids(self) -> list[str]:
        txids: list[str] = await self._json(
            "/mempool/txids", lambda o: parse_txids(o, provider=self.name), MAX_MEMPOOL_TXIDS
        )
        return txids

    def _mismatch(self, path: str, got: str) -> BadResponse:
        return self._bad(path, f"asked for {path} but got {got}")
