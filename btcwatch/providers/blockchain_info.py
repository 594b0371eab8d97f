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
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from btcwatch.chain.address import Address
from btcwatch.chain.network import MAINNET, Network
from btcwatch.chain.tx import parse_tx as parse_raw_tx
from btcwatch.errors import (
    AddressError,
    BadResponse,
    ConfigError,
    NotFound,
    ParseError,
    ProviderError,
)
from btcwatch.model import (
    AddressStats,
    BlockInfo,
    BlockRef,
    Evidence,
    OutPoint,
    OutSpend,
    Tip,
    Tx,
    TxIn,
    TxOut,
)
from btcwatch.providers._http import (
    DEFAULT_TIMEOUT,
    DEFAULT_USER_AGENT,
    EvidenceSink,
    HttpClient,
    RetryPolicy,
    Sleep,
    utc_now,
)
from btcwatch.providers.base import (
    MAX_SATS,
    U32,
    Capability,
    Field,
    History,
    Provider,
    check_address,
    check_block_hash,
    check_height,
    check_txid,
    output_address,
    unique,
    with_url,
)

__all__ = [
    "BASE_URL",
    "MULTIADDR_MAX",
    "RAWADDR_PAGE_SIZE",
    "BlockchainInfoProvider",
    "RawaddrPage",
    "input_refs",
    "parse_block",
    "parse_latestblock",
    "parse_multiaddr",
    "parse_outspends",
    "parse_rawaddr_page",
    "parse_tx",
    "spender_refs",
    "stats_from_history",
    "tx_index_of",
]

BASE_URL = "https://blockchain.info"
NAME = "blockchain.info"
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


# --- pure parsers ------------------------------------------------------------------------


def tx_index_of(obj: object, *, provider: str = NAME) -> tuple[int, str]:
    """A tx object's own (tx_index, txid): what resolves other txs' inputs."""
    f = Field(obj, "tx", provider)
    return f["tx_index"].as_int(), f["hash"].as_txid()


def _prev_out(vin: Field) -> Field | None:
    """The spent output, or None for a coinbase input (no prev_out, or n = 0xffffffff)."""
    prev = vin.get("prev_out")
    if prev is None or prev["n"].as_int(0, U32) == U32:
        return None
    return prev


def input_refs(obj: object, *, provider: str = NAME) -> set[int]:
    """The tx_indexes whose txids ``parse_tx`` needs for this tx's inputs."""
    refs = set()
    for vin in Field(obj, "tx", provider)["inputs"].items():
        prev = _prev_out(vin)
        if prev is not None:
            refs.add(prev["tx_index"].as_int())
    return refs


def spender_refs(obj: object, *, provider: str = NAME) -> set[int]:
    """The tx_indexes of the txs that spend this tx's outputs (``spending_outpoints``)."""
    refs = set()
    for out in Field(obj, "tx", provider)["out"].items():
        for point in (out.get("spending_outpoints") or Field([], "", provider)).items():
            refs.add(point["tx_index"].as_int())
    return refs


def parse_block_ref(tx: Field) -> BlockRef | None:
    height = tx.get("block_height")
    if height is None:
        return None
    return BlockRef(height=height.as_int(), hash=None, time=tx["time"].as_int())


def _parse_out(out: Field, network: Network) -> TxOut:
    script = out["script"].as_hex()
    claimed = out.get("addr")
    address = output_address(script, None if claimed is None else claimed.as_str(), network, out)
    return TxOut(value=out["value"].as_int(0, MAX_SATS), script=script, address=address)


def parse_tx(
    obj: object,
    network: Network = MAINNET,
    *,
    txids: Mapping[int, str] | None = None,
    provider: str = NAME,
) -> Tx:
    """A ``/rawtx`` (or ``/rawaddr`` ``txs[]``) object as a `Tx`.

    ``txids`` maps the tx_indexes of spent txs to their txids (see `input_refs`); an input
    whose tx_index is not in it raises BadResponse naming the tx_index. A ``fee`` that
    disagrees with the prev_out values is an inconsistent body.
    """
    tx = Field(obj, "tx", provider)
    known = txids or {}
    inputs = []
    for vin in tx["inputs"].items():
        sequence = vin["sequence"].as_int(0, U32)
        prev = _prev_out(vin)
        if prev is None:
            inputs.append(TxIn(prevout=None, sequence=sequence))
            continue
        index = prev["tx_index"].as_int()
        prev_txid = known.get(index)
        if prev_txid is None:
            raise prev.fail(
                f"spends tx_index {index}, whose txid is not known (see /rawtx/{index})"
            )
        spent = _parse_out(prev, network)
        inputs.append(
            TxIn(
                prevout=OutPoint(prev_txid, prev["n"].as_int(0, U32)),
                sequence=sequence,
                prev_value=spent.value,
                prev_script=spent.script,
                prev_address=spent.address,
            )
        )
    outputs = []
    for i, out in enumerate(tx["out"].items()):
        if out.has("n") and out["n"].as_int() != i:
            raise out["n"].fail(f"is {out['n'].value}, expected {i} (outputs out of order)")
        outputs.append(_parse_out(out, network))
    if not inputs or not outputs:
        raise tx.fail("has no inputs or no outputs")
    size, weight = tx.get("size"), tx.get("weight")
    parsed = Tx(
        txid=tx["hash"].as_txid(),
        version=tx["ver"].as_int(-(2**31), U32),
        locktime=tx["lock_time"].as_int(0, U32),
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        block=parse_block_ref(tx),
        size=None if size is None else size.as_int(1),
        weight=None if weight is None else weight.as_int(1),
    )
    fee = tx.get("fee")
    if fee is not None and parsed.fee is not None and fee.as_int(0) != parsed.fee:
        raise fee.fail(f"is {fee.value} but inputs minus outputs is {parsed.fee}")
    return parsed


def parse_outspends(
    obj: object,
    spenders: Mapping[int, tuple[str, BlockRef | None]],
    *,
    provider: str = NAME,
) -> list[OutSpend]:
    """Outspends from a ``/rawtx`` object's ``out[].spent`` and ``spending_outpoints``.

    ``spenders`` maps the spending txs' tx_indexes (see `spender_refs`) to (txid, block).
    """
    result = []
    for out in Field(obj, "tx", provider)["out"].items():
        points = out.get("spending_outpoints")
        spent = out["spent"].as_bool()
        if not spent:
            result.append(OutSpend(spent=False))
            continue
        if points is None or not points.items():
            raise out.fail("is spent but the body does not say by which tx")
        point = points.items()[0]
        index = point["tx_index"].as_int()
        if index not in spenders:
            raise point.fail(f"names tx_index {index}, whose txid is not known")
        txid, block = spenders[index]
        result.append(OutSpend(True, txid, point["n"].as_int(0, U32), block))
    return result


def parse_latestblock(obj: object, *, provider: str = NAME) -> Tip:
    f = Field(obj, "latestblock", provider)
    return Tip(height=f["height"].as_int(), hash=f["hash"].as_txid())


def parse_block(obj: object, *, provider: str = NAME) -> BlockInfo:
    """A ``/rawblock`` object or one entry of ``/block-height``'s ``blocks``."""
    f = Field(obj, "block", provider)
    prev = f["prev_block"].as_txid()
    return BlockInfo(
        height=f["height"].as_int(),
        hash=f["hash"].as_txid(),
        prev_hash=None if prev == "0" * 64 else prev,
        time=f["time"].as_int(),
        tx_count=f["n_tx"].as_int(1) if f.has("n_tx") else None,
    )


def parse_multiaddr(obj: object, *, provider: str = NAME) -> dict[str, AddressStats]:
    """``/multiaddr``: totals only (txo counts 0, unconfirmed folded in; see module doc)."""
    result = {}
    for entry in Field(obj, "multiaddr", provider)["addresses"].items():
        received = entry["total_received"].as_int()
        sent = entry["total_sent"].as_int()
        if entry["final_balance"].as_int() != received - sent:
            raise entry.fail("has final_balance != total_received - total_sent")
        address = entry["address"].as_str()
        result[address] = AddressStats(
            address=address,
            funded_txo_count=0,
            funded_txo_sum=received,
            spent_txo_count=0,
            spent_txo_sum=sent,
            tx_count=entry["n_tx"].as_int(),
        )
    return result


@dataclass(frozen=True, slots=True)
class RawaddrPage:
    """One ``/rawaddr`` page: the address's totals and up to 50 raw tx objects."""

    address: str
    n_tx: int
    total_received: int
    total_sent: int
    final_balance: int
    txs: tuple[object, ...]
    txids: tuple[str, ...]


def parse_rawaddr_page(obj: object, *, provider: str = NAME) -> RawaddrPage:
    f = Field(obj, "rawaddr", provider)
    items = f["txs"].items()
    return RawaddrPage(
        address=f["address"].as_str(),
        n_tx=f["n_tx"].as_int(),
        total_received=f["total_received"].as_int(),
        total_sent=f["total_sent"].as_int(),
        final_balance=f["final_balance"].as_int(),
        txs=tuple(item.value for item in items),
        txids=tuple(item["hash"].as_txid() for item in items),
    )


def stats_from_history(
    address: str,
    script: bytes,
    txs: Sequence[object],
    totals: RawaddrPage | None = None,
    *,
    provider: str = NAME,
) -> AddressStats:
    """Esplora-style stats counted from a complete rawaddr history (raw tx objects).

    Outputs paying ``script`` are funded txos, inputs spending it are spent txos; txs
    without ``block_height`` go to the mempool fields. With ``totals`` the counts must add up
    to blockchain.info's own totals (with or without unconfirmed amounts), else BadResponse.
    """
    sums = {"chain": [0, 0, 0, 0, 0], "mempool": [0, 0, 0, 0, 0]}
    hex_script = script.hex()
    for obj in txs:
        tx = Field(obj, "tx", provider)
        row = sums["chain" if tx.get("block_height") is not None else "mempool"]
        touched = False
        for out in tx["out"].items():
            if out["script"].as_str().lower() == hex_script:
                row[0] += 1
                row[1] += out["value"].as_int(0, MAX_SATS)
                touched = True
        for vin in tx["inputs"].items():
            prev = _prev_out(vin)
            if prev is not None and prev["script"].as_str().lower() == hex_script:
                row[2] += 1
                row[3] += prev["value"].as_int(0, MAX_SATS)
                touched = True
        if not touched:
            raise tx.fail(f"is in the history of {address} but does not involve it")
        row[4] += 1
    c, m = sums["chain"], sums["mempool"]
    stats = AddressStats(address, *c, *m)
    if totals is not None:
        if totals.n_tx != c[4] + m[4]:
            raise BadResponse(
                f"bad response: {address} has n_tx {totals.n_tx} but {c[4] + m[4]} txs were"
                " listed (history changed while paging?)",
                provider=provider,
            )
        options = [(c[1] + m[1], c[3] + m[3]), (c[1], c[3])]
        reported = (totals.total_received, totals.total_sent)
        if reported not in options or totals.final_balance != reported[0] - reported[1]:
            raise BadResponse(
                f"bad response: totals of {address} (received {reported[0]}, sent"
                f" {reported[1]}, balance {totals.final_balance}) do not match its history",
                provider=provider,
            )
    return stats


def _same_address(a: str, b: str, network: Network) -> bool:
    try:
        return Address.parse(a, network) == Address.parse(b, network)
    except AddressError:
        return False


# --- the provider ------------------------------------------------------------------------


class BlockchainInfoProvider(Provider):
    """blockchain.info's JSON API (mainnet only); see the module docstring for its costs."""

    def __init__(
        self,
        base_url: str = BASE_URL,
        *,
        name: str = NAME,
        network: Network = MAINNET,
        transport: httpx.AsyncBaseTransport | None = None,
        rate: float | None = DEFAULT_RATE,
        max_tries: int = 5,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], datetime] = utc_now,
        random: Callable[[], float] | None = None,
        proxy: str | None = None,
        on_evidence: EvidenceSink | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        timeout: float = DEFAULT_TIMEOUT,
        start_rate: float | None = None,
    ) -> None:
        if network != MAINNET:
            raise ConfigError(f"blockchain.info serves mainnet only, not {network.name}")
        self.name = name
        self.network = network
        self.capabilities = frozenset(
            set(Capability)
            - {
                Capability.OUTSPENDS_BATCH,
                Capability.MEMPOOL,
                Capability.ADDRESS_MEMPOOL,
                Capability.MERKLE_PROOF,
            }
        )
        self._http = HttpClient(
            name,
            base_url,
            transport=transport,
            proxy=proxy,
            rate=rate,
            retry=retry or RetryPolicy(max_tries=max_tries),
            sleep=sleep,
            clock=clock,
            random=random,
            on_evidence=on_evidence,
            user_agent=user_agent,
            timeout=timeout,
            start_rate=start_rate,
        )
        self._txids: dict[int, str] = {}  # tx_index -> txid (immutable facts)
        self._blocks: dict[int, BlockRef] = {}  # tx_index -> block, only once confirmed

    @property
    def requests(self) -> int:
        return self._http.requests

    @property
    def last_evidence(self) -> Evidence | None:
        return self._http.last_evidence

    def learned_rates(self) -> dict[str, float | None]:
        return {self._http.base_url: self._http.learned_rate}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _json(
        self, path: str, parse: Callable[[Any], Any], max_bytes: int, **params: str
    ) -> Any:
        value = await self._http.get_json(path, params or None, max_bytes=max_bytes)
        try:
            return parse(value)
        except ProviderError as exc:  # BadResponse, or NotFound decided from the body
            raise with_url(exc, self._http.url(path)) from None

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
            raise BadResponse(
                f"bad response: asked for tx_index {index} but got {got}",
                provider=self.name,
                url=self._http.url(path),
            )
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
            raise BadResponse(
                f"bad response: asked for block {wanted} but got {info.hash}",
                provider=self.name,
                url=self._http.url(path),
            )
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
            raise BadResponse(
                f"bad response: asked for block {wanted} but got {len(raw)} bytes hashing to {got}",
                provider=self.name,
                url=self._http.url(path),
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
            raise BadResponse(
                f"bad response: asked for tx {wanted} but got {got}",
                provider=self.name,
                url=self._http.url(path),
            )
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
            raise BadResponse(
                f"bad response: not a raw transaction ({exc})",
                provider=self.name,
                url=self._http.url(path),
            ) from None
        if got != wanted:
            raise BadResponse(
                f"bad response: asked for tx {wanted} but got raw tx {got}",
                provider=self.name,
                url=self._http.url(path),
            )
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
                    raise BadResponse(
                        f"bad response: asked for {address} but got {page.address}",
                        provider=self.name,
                        url=self._http.url(path),
                    )
            new = [(t, o) for t, o in zip(page.txids, page.txs, strict=True) if t not in found]
            if page.txids and not new:
                raise BadResponse(
                    f"bad response: the page at offset {offset} repeats txs already seen"
                    " (server ignored offset); history is incomplete",
                    provider=self.name,
                    url=self._http.url(path),
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
                    raise BadResponse(
                        f"bad response: /multiaddr left out {a}",
                        provider=self.name,
                        url=self._http.url("/multiaddr"),
                    )
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
