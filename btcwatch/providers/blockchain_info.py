"""blockchain.info (blockchain.com's Data API): mainnet only, slow, but independent of Esplora.

What it can and cannot do, and what that costs:

- Inputs name the output they spend by blockchain.info's internal ``tx_index`` and ``n``,
  not by txid. A tx's own ``tx_index`` and ``hash`` are in every tx object, so the provider
  learns the mapping from every response (a bounded cache) and resolves the rest with one
  ``/rawtx/<tx_index>`` request each. In an address history the inputs that spend the
  address's own coins always resolve from the history itself (true for all three WannaCry
  histories); the payers' inputs cost one request each, at the documented 1 request per 10 s
  (so a 100-payment history takes a quarter of an hour the first time, nothing afterwards).
- No block hash on txs: ``BlockRef(height, None, time)``, and ``time`` is when
  blockchain.info first saw the tx, not the block's timestamp.
- Outspends come from ``spending_outpoints`` (again tx_index + input number): one extra
  request per spent output the first time. No batch endpoint, no mempool txid list.
- Address stats from ``/rawaddr`` pages (50 txs by ``offset``) are exact (counted from the
  history and checked against the reported totals). ``/multiaddr`` (100 addresses per
  request) gives only totals: ``address_stats_many`` reports funded/spent txo counts as 0 and
  folds unconfirmed amounts into the chain fields; use it to notice change, not to report.
- Blocks: ``/rawblock`` and ``/block-height`` return whole blocks with every tx (megabytes).

The pure parsers are in `blockchain_info_parse`, the client plumbing in `HttpProvider`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container, Sequence
from typing import Any

from btcwatch.chain.address import Address
from btcwatch.chain.network import MAINNET, Network
from btcwatch.chain.tx import parse_tx as parse_raw_tx
from btcwatch.errors import (
    AddressError,
    BadResponse,
    ConfigError,
    NotFound,
    ParseError,
)
from btcwatch.model import (
    AddressStats,
    BlockInfo,
    BlockRef,
    OutSpend,
    Tip,
    Tx,
)
from btcwatch.providers._http import HttpOptions
from btcwatch.providers.base import (
    Capability,
    Field,
    History,
    check_address,
    check_block_hash,
    check_height,
    check_txid,
    unique,
    with_url,
)
from btcwatch.providers.blockchain_info_parse import (
    NAME,
    RawaddrPage,
    input_refs,
    parse_block,
    parse_block_ref,
    parse_latestblock,
    parse_multiaddr,
    parse_outspends,
    parse_rawaddr_page,
    parse_tx,
    spender_refs,
    stats_from_history,
    tx_index_of,
)
from btcwatch.providers.http_provider import HttpProvider

__all__ = ["BASE_URL", "MULTIADDR_MAX", "RAWADDR_PAGE_SIZE", "BlockchainInfoProvider"]

BASE_URL = "https://blockchain.info"
RAWADDR_PAGE_SIZE = 50
MULTIADDR_MAX = 100
DEFAULT_RATE = 0.1  # blockchain.info documents about one request per 10 seconds
# Size caps per endpoint (bytes), enforced while the body streams in (see providers/_http.py).
KIB, MIB = 1024, 1024 * 1024
MAX_LATEST = 64 * KIB
MAX_BLOCK_JSON = 64 * MIB  # /rawblock and /block-height send every tx of the block as JSON
MAX_RAW_BLOCK_HEX = 16 * MIB + KIB  # a 4 MB block as hex
MAX_TX_JSON = 8 * MIB
MAX_TX_HEX = 8 * MIB + KIB
MAX_RAWADDR_PAGE = 16 * MIB  # 50 txs with their inputs and outputs
MAX_MULTIADDR = 4 * MIB  # 100 addresses' totals (n=0: no txs)
INDEX_CACHE = 200_000  # tx_index -> txid entries kept (about 30 MB at most)


def _same_address(a: str, b: str, network: Network) -> bool:
    try:
        return Address.parse(a, network) == Address.parse(b, network)
    except AddressError:
        return False


# --- the provider ------------------------------------------------------------------------


class BlockchainInfoProvider(HttpProvider):
    """blockchain.info's JSON API (mainnet only); see the module docstring for its costs."""

    default_rate = DEFAULT_RATE

    def __init__(
        self,
        base_url: str = BASE_URL,
        options: HttpOptions | None = None,
        *,
        name: str = NAME,
        network: Network = MAINNET,
    ) -> None:
        if network != MAINNET:
            raise ConfigError(f"blockchain.info serves mainnet only, not {network.name}")
        super().__init__(name, base_url, network, options)
        self.capabilities = frozenset(
            set(Capability)
            - {
                Capability.OUTSPENDS_BATCH,
                Capability.MEMPOOL,
                Capability.ADDRESS_MEMPOOL,
                Capability.MERKLE_PROOF,
            }
        )
        self._txids: dict[int, str] = {}  # tx_index -> txid (immutable facts)
        self._blocks: dict[int, BlockRef] = {}  # tx_index -> block, only once confirmed

    # tx_index resolution ----------------------------------------------------------------

    def _learn(self, obj: object) -> None:
        index, txid = tx_index_of(obj, provider=self.name)
        if len(self._txids) >= INDEX_CACHE:
            self._txids.clear()
            self._blocks.clear()
        self._txids[index] = txid
        block = parse_block_ref(Field(obj, "tx", self.name))
        if block is not None:
            self._blocks[index] = block

    async def _fetch_index(self, index: int) -> None:
        path = f"/rawtx/{index}"
        obj = await self._http.get_json(path, max_bytes=MAX_TX_JSON)
        try:
            got, _ = tx_index_of(obj, provider=self.name)
        except BadResponse as exc:
            raise with_url(exc, self._http.url(path)) from None
        if got != index:
            raise self._bad(path, f"asked for tx_index {index} but got {got}")
        self._learn(obj)

    async def _resolve(self, refs: set[int], *, need_block: bool = False) -> None:
        """Fetch /rawtx/<tx_index> for every ref whose txid (or block) is not known yet."""
        for index in sorted(refs):
            if index not in self._txids or (need_block and index not in self._blocks):
                await self._fetch_index(index)

    async def _parse_many(self, objs: Sequence[object]) -> list[Tx]:
        for obj in objs:
            self._learn(obj)
        refs: set[int] = set()
        for obj in objs:
            refs |= input_refs(obj, provider=self.name)
        await self._resolve(refs)
        return [parse_tx(o, self.network, txids=self._txids, provider=self.name) for o in objs]

    # blocks -----------------------------------------------------------------------------

    async def tip(self) -> Tip:
        tip: Tip = await self._json(
            "/latestblock", lambda o: parse_latestblock(o, provider=self.name), MAX_LATEST
        )
        return tip

    async def block_hash(self, height: int) -> str:
        """The main-chain block at ``height`` (blockchain.info sends every tx along)."""
        path = f"/block-height/{check_height(height)}"

        def pick(obj: Any) -> str:
            blocks = Field(obj, "block-height", self.name)["blocks"].items()
            main = [b for b in blocks if b.get("main_chain") is None or b["main_chain"].as_bool()]
            if not main:
                raise NotFound(f"no main-chain block at height {height}", provider=self.name)
            if len(main) > 1:
                raise Field(obj, "block-height", self.name).fail("has two main-chain blocks")
            return main[0]["hash"].as_txid()

        found: str = await self._json(path, pick, MAX_BLOCK_JSON, format="json")
        return found

    async def _rawblock(self, block_hash: str) -> tuple[BlockInfo, list[str]]:
        wanted = check_block_hash(block_hash)
        path = f"/rawblock/{wanted}"

        def parse(obj: Any) -> tuple[BlockInfo, list[str]]:
            txids = [t["hash"].as_txid() for t in Field(obj, "block", self.name)["tx"].items()]
            return parse_block(obj, provider=self.name), txids

        info, txids = await self._json(path, parse, MAX_BLOCK_JSON)
        if info.hash != wanted:
            raise self._bad(path, f"asked for block {wanted} but got {info.hash}")
        return info, txids

    async def block(self, block_hash: str) -> BlockInfo:
        return (await self._rawblock(block_hash))[0]

    async def block_txids(self, block_hash: str) -> list[str]:
        return (await self._rawblock(block_hash))[1]

    async def block_raw(self, block_hash: str) -> bytes:
        wanted = check_block_hash(block_hash)
        path = f"/rawblock/{wanted}"
        text = await self._http.get_text(path, {"format": "hex"}, max_bytes=MAX_RAW_BLOCK_HEX)
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        got = hashlib.sha256(hashlib.sha256(raw[:80]).digest()).digest()[::-1].hex()
        if len(raw) < 81 or got != wanted:
            raise self._bad(
                path, f"asked for block {wanted} but got {len(raw)} bytes hashing to {got}"
            )
        return raw

    # transactions -----------------------------------------------------------------------

    async def _rawtx(self, txid: str) -> object:
        wanted = check_txid(txid)
        path = f"/rawtx/{wanted}"
        obj = await self._http.get_json(path, max_bytes=MAX_TX_JSON)
        try:
            _, got = tx_index_of(obj, provider=self.name)
        except BadResponse as exc:
            raise with_url(exc, self._http.url(path)) from None
        if got != wanted:
            raise self._bad(path, f"asked for tx {wanted} but got {got}")
        return obj

    async def tx(self, txid: str) -> Tx:
        """The tx; its inputs cost one more request each whose tx_index is not cached."""
        obj = await self._rawtx(txid)
        path = self._http.url(f"/rawtx/{txid.lower()}")
        try:
            return (await self._parse_many([obj]))[0]
        except BadResponse as exc:
            raise with_url(exc, path) from None

    async def tx_raw(self, txid: str) -> bytes:
        wanted = check_txid(txid)
        path = f"/rawtx/{wanted}"
        text = await self._http.get_text(path, {"format": "hex"}, max_bytes=MAX_TX_HEX)
        try:
            raw = bytes.fromhex(text)
            got = parse_raw_tx(raw).txid
        except (ValueError, ParseError) as exc:
            raise self._bad(path, f"not a raw transaction ({exc})") from None
        if got != wanted:
            raise self._bad(path, f"asked for tx {wanted} but got raw tx {got}")
        return raw

    async def outspends(self, txid: str) -> list[OutSpend]:
        """Spends from ``spending_outpoints``; each spender is looked up once by tx_index."""
        obj = await self._rawtx(txid)
        url = self._http.url(f"/rawtx/{txid.lower()}")
        try:
            refs = spender_refs(obj, provider=self.name)
            await self._resolve(refs, need_block=True)
            spenders = {i: (self._txids[i], self._blocks.get(i)) for i in refs}
            return parse_outspends(obj, spenders, provider=self.name)
        except BadResponse as exc:
            raise with_url(exc, url) from None

    # addresses --------------------------------------------------------------------------

    async def _rawaddr(
        self, address: str, known: Container[str] | None, max_pages: int | None = None
    ) -> tuple[RawaddrPage, list[object], int, bool]:
        """Pages of 50 by offset until the end (or a page of only ``known`` txs, or
        ``max_pages`` pages, at least one): (first page, txs, pages read, end reached)."""
        found: dict[str, object] = {}
        path = f"/rawaddr/{address}"
        offset = 0
        pages = 0
        first: RawaddrPage | None = None
        while True:
            if first is not None and max_pages is not None and pages >= max_pages:
                return first, list(found.values()), pages, False
            pages += 1
            page: RawaddrPage = await self._json(
                path,
                lambda o: parse_rawaddr_page(o, provider=self.name),
                MAX_RAWADDR_PAGE,
                limit=str(RAWADDR_PAGE_SIZE),
                offset=str(offset),
            )
            if first is None:
                first = page
                if not _same_address(page.address, address, self.network):
                    raise self._bad(path, f"asked for {address} but got {page.address}")
            new = [(t, o) for t, o in zip(page.txids, page.txs, strict=True) if t not in found]
            if page.txids and not new:
                raise self._bad(
                    path,
                    f"the page at offset {offset} repeats txs already seen"
                    " (server ignored offset); history is incomplete",
                )
            found.update(new)
            offset += len(page.txids)
            if not page.txids or offset >= page.n_tx:
                break
            if known is not None and all(t in known for t in page.txids):
                break
        return first, list(found.values()), pages, True

    async def address_stats(self, address: str) -> AddressStats:
        """Exact stats counted from the whole /rawaddr history (one request per 50 txs)."""
        addr = check_address(address, self.network)
        totals, objs, _, _ = await self._rawaddr(addr, None)
        script = Address.parse(addr, self.network).script
        try:
            return stats_from_history(addr, script, objs, totals, provider=self.name)
        except BadResponse as exc:
            raise with_url(exc, self._http.url(f"/rawaddr/{addr}")) from None

    async def address_stats_many(self, addresses: Sequence[str]) -> dict[str, AddressStats]:
        """Totals of up to 100 addresses per /multiaddr request (txo counts 0: module doc)."""
        wanted = unique(addresses)
        canon = {a: check_address(a, self.network) for a in wanted}
        ids = unique(canon.values())
        got: dict[str, AddressStats] = {}
        for start in range(0, len(ids), MULTIADDR_MAX):
            chunk = ids[start : start + MULTIADDR_MAX]
            part: dict[str, AddressStats] = await self._json(
                "/multiaddr",
                lambda o: parse_multiaddr(o, provider=self.name),
                MAX_MULTIADDR,
                active="|".join(chunk),
                n="0",
            )
            by_canon = {check_address(k, self.network): v for k, v in part.items()}
            for a in chunk:
                if a not in by_canon:
                    raise self._bad("/multiaddr", f"/multiaddr left out {a}")
                got[a] = by_canon[a]
        return {a: got[canon[a]] for a in wanted}

    async def address_history(
        self, address: str, *, known: Container[str] = frozenset(), max_pages: int | None = None
    ) -> History:
        """Newest first, pages of 50; stops after a page of only ``known`` txs (or after
        ``max_pages`` pages, ``complete`` False).

        Inputs from other addresses cost one /rawtx/<tx_index> request each the first time.
        """
        addr = check_address(address, self.network)
        _, objs, pages, complete = await self._rawaddr(addr, known, max_pages)
        try:
            txs = await self._parse_many(objs)
            return History(txs, complete=complete, pages=pages)
        except BadResponse as exc:
            raise with_url(exc, self._http.url(f"/rawaddr/{addr}")) from None
