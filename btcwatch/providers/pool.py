"""Several explorers as one: fail over in order, and optionally cross-check two of them.

Failover: a member that raises any ProviderError (Unavailable, RateLimited, BadResponse,
NotSupported, and NotFound too) hands the call to the next member that has the capability.
NotFound is not final because explorers lag each other: a tx broadcast seconds ago, or a
block one explorer has not indexed yet, may be known next door. Only when every member
says NotFound is the answer NotFound; if any failed otherwise, the pool raises that error
class (the tx may well exist), with every member's reason in one line.

Cross-checking (``cross_check=True``): tx, outspends and address stats are fetched from the
first two capable members at once; a difference is reported to ``on_disagreement`` and the
first member's answer is returned. Fields one explorer cannot know are not compared
(blockchain.info gives no block hash and its tx time is first-seen time, not block time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Container, Sequence
from dataclasses import dataclass, fields
from typing import TypeVar

from btcwatch.chain.merkle import MerkleBranch
from btcwatch.errors import ConfigError, NotFound, ProviderError
from btcwatch.model import (
    AddressStats,
    BlockInfo,
    BlockRef,
    Evidence,
    OutSpend,
    Tip,
    Tx,
)
from btcwatch.providers.base import Capability, NotSupported, Provider

__all__ = [
    "Disagreement",
    "ProviderPool",
    "outspend_differences",
    "stats_differences",
    "tx_differences",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Disagreement:
    """Two explorers gave different answers about the same thing; neither is trusted blindly."""

    what: str  # "tx", "outspends" or "address_stats"
    key: str  # the txid or address asked about
    first: str  # provider names, in pool order
    second: str
    fields: tuple[str, ...]  # what differs, e.g. ("outputs[1].value", "block.height")
    first_value: object
    second_value: object

    def __str__(self) -> str:
        return (
            f"{self.first} and {self.second} disagree on {self.what} {self.key}:"
            f" {', '.join(self.fields)}"
        )


def _block_differences(a: BlockRef | None, b: BlockRef | None, at: str) -> list[str]:
    if a is None or b is None:
        return [] if a is b else [f"{at}.confirmed"]
    diffs = [f"{at}.height"] if a.height != b.height else []
    if a.hash is not None and b.hash is not None and a.hash != b.hash:
        diffs.append(f"{at}.hash")
    return diffs


def _row_differences(side: str, xs: Sequence[object], ys: Sequence[object]) -> list[str]:
    if len(xs) != len(ys):
        return [side]
    return [
        f"{side}[{i}].{f.name}"
        for i, (x, y) in enumerate(zip(xs, ys, strict=True))
        for f in fields(x)  # type: ignore[arg-type]
        if getattr(x, f.name) != getattr(y, f.name)
    ]


def tx_differences(a: Tx, b: Tx) -> tuple[str, ...]:
    """Where two explorers' versions of a tx differ (size, weight and block time ignored)."""
    diffs = [n for n in ("txid", "version", "locktime") if getattr(a, n) != getattr(b, n)]
    for side, xs, ys in (("inputs", a.inputs, b.inputs), ("outputs", a.outputs, b.outputs)):
        diffs += _row_differences(side, xs, ys)
    diffs += _block_differences(a.block, b.block, "block")
    return tuple(diffs)


def outspend_differences(a: Sequence[OutSpend], b: Sequence[OutSpend]) -> tuple[str, ...]:
    if len(a) != len(b):
        return ("outputs",)
    diffs: list[str] = []
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        diffs += [f"[{i}].{n}" for n in ("spent", "txid", "vin") if getattr(x, n) != getattr(y, n)]
        diffs += _block_differences(x.block, y.block, f"[{i}].block")
    return tuple(diffs)


def stats_differences(a: AddressStats, b: AddressStats) -> tuple[str, ...]:
    return tuple(f.name for f in fields(a) if getattr(a, f.name) != getattr(b, f.name))


class ProviderPool(Provider):
    """Members in order of preference, behind the Provider interface."""

    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        cross_check: bool = False,
        on_disagreement: Callable[[Disagreement], None] | None = None,
        name: str | None = None,
    ) -> None:
        if not providers:
            raise ConfigError("an explorer pool needs at least one explorer")
        networks = {p.network for p in providers}
        if len(networks) > 1:
            raise ConfigError(
                "explorers in one pool must serve one network, not "
                + ", ".join(sorted(n.name for n in networks))
            )
        self.providers = tuple(providers)
        self.name = name or "+".join(p.name for p in providers)
        self.network = providers[0].network
        self.cross_check = cross_check
        self.on_disagreement = on_disagreement
        self._last: Provider | None = None

    @property
    def capabilities(self) -> frozenset[Capability]:  # type: ignore[override]
        return frozenset().union(*(p.capabilities for p in self.providers))

    @property
    def requests(self) -> int:
        return sum(p.requests for p in self.providers)

    @property
    def last_evidence(self) -> Evidence | None:
        return None if self._last is None else self._last.last_evidence

    def learned_rates(self) -> dict[str, float | None]:
        rates: dict[str, float | None] = {}
        for p in self.providers:
            rates.update(p.learned_rates())
        return rates

    async def aclose(self) -> None:
        for p in self.providers:
            await p.aclose()

    def _members(self, capability: Capability, what: str) -> list[Provider]:
        members = [p for p in self.providers if p.supports(capability)]
        if not members:
            raise NotSupported(
                f"{what} not supported by any explorer in the pool", provider=self.name
            )
        return members

    async def _route(
        self,
        capability: Capability,
        what: str,
        call: Callable[[Provider], Awaitable[T]],
        members: Sequence[Provider] | None = None,
        errors: list[ProviderError] | None = None,
    ) -> T:
        """The first member's answer that is not a ProviderError (see module doc)."""
        failed = errors if errors is not None else []
        for member in self._members(capability, what) if members is None else members:
            try:
                value = await call(member)
            except ProviderError as exc:
                failed.append(exc)
                continue
            self._last = member
            return value
        raise self._combined(what, failed)

    def _combined(self, what: str, errors: list[ProviderError]) -> ProviderError:
        if len(errors) == 1:
            return errors[0]
        reasons = "; ".join(str(e) for e in errors)
        if all(isinstance(e, NotFound) for e in errors):
            return NotFound(f"{what}: not found by any explorer ({reasons})", provider=self.name)
        worst = next(e for e in errors if not isinstance(e, NotFound))
        return type(worst)(f"{what}: every explorer failed ({reasons})", provider=self.name)

    async def _checked(
        self,
        capability: Capability,
        what: str,
        key: str,
        call: Callable[[Provider], Awaitable[T]],
        compare: Callable[[T, T], tuple[str, ...]],
    ) -> T:
        members = self._members(capability, what)
        if not self.cross_check or len(members) < 2:
            return await self._route(capability, what, call, members)
        first, second = members[0], members[1]
        results = await asyncio.gather(call(first), call(second), return_exceptions=True)
        errors: list[ProviderError] = []
        answers: list[tuple[Provider, T]] = []
        for member, result in zip((first, second), results, strict=True):
            if isinstance(result, ProviderError):
                errors.append(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                answers.append((member, result))
        if len(answers) == 2:
            (pa, a), (pb, b) = answers
            diffs = compare(a, b)
            if diffs and self.on_disagreement is not None:
                self.on_disagreement(Disagreement(what, key, pa.name, pb.name, diffs, a, b))
        if answers:
            self._last = answers[0][0]
            return answers[0][1]
        return await self._route(capability, what, call, members[2:], errors)

    # the Provider interface -------------------------------------------------------------

    async def tip(self) -> Tip:
        return await self._route(Capability.TIP, "tip", lambda p: p.tip())

    async def block_hash(self, height: int) -> str:
        return await self._route(Capability.BLOCKS, "block_hash", lambda p: p.block_hash(height))

    async def block(self, block_hash: str) -> BlockInfo:
        return await self._route(Capability.BLOCKS, "block", lambda p: p.block(block_hash))

    async def block_txids(self, block_hash: str) -> list[str]:
        return await self._route(
            Capability.BLOCKS, "block_txids", lambda p: p.block_txids(block_hash)
        )

    async def block_raw(self, block_hash: str) -> bytes:
        return await self._route(
            Capability.BLOCK_RAW, "block_raw", lambda p: p.block_raw(block_hash)
        )

    async def tx(self, txid: str) -> Tx:
        return await self._checked(Capability.TX, "tx", txid, lambda p: p.tx(txid), tx_differences)

    async def tx_raw(self, txid: str) -> bytes:
        return await self._route(Capability.TX_RAW, "tx_raw", lambda p: p.tx_raw(txid))

    async def merkle_proof(self, txid: str) -> tuple[int, MerkleBranch]:
        return await self._route(
            Capability.MERKLE_PROOF, "merkle_proof", lambda p: p.merkle_proof(txid)
        )

    async def block_header(self, block_hash: str) -> bytes:
        return await self._route(
            Capability.MERKLE_PROOF, "block_header", lambda p: p.block_header(block_hash)
        )

    async def outspends(self, txid: str) -> list[OutSpend]:
        return await self._checked(
            Capability.OUTSPENDS,
            "outspends",
            txid,
            lambda p: p.outspends(txid),
            outspend_differences,
        )

    async def outspends_many(self, txids: Sequence[str]) -> dict[str, list[OutSpend]]:
        def compare(a: dict[str, list[OutSpend]], b: dict[str, list[OutSpend]]) -> tuple[str, ...]:
            diffs: list[str] = []
            for txid in a.keys() | b.keys():
                diffs += [
                    f"{txid}:{d}" for d in outspend_differences(a.get(txid, []), b.get(txid, []))
                ]
            return tuple(sorted(diffs))

        key = f"{len(txids)} txs"
        return await self._checked(
            Capability.OUTSPENDS, "outspends", key, lambda p: p.outspends_many(txids), compare
        )

    async def address_stats(self, address: str) -> AddressStats:
        return await self._checked(
            Capability.ADDRESS_STATS,
            "address_stats",
            address,
            lambda p: p.address_stats(address),
            stats_differences,
        )

    async def address_stats_many(self, addresses: Sequence[str]) -> dict[str, AddressStats]:
        return await self._route(
            Capability.ADDRESS_STATS,
            "address_stats_many",
            lambda p: p.address_stats_many(addresses),
        )

    async def address_history(
        self, address: str, *, known: Container[str] = frozenset(), max_pages: int | None = None
    ) -> list[Tx]:
        return await self._route(
            Capability.ADDRESS_HISTORY,
            "address_history",
            lambda p: p.address_history(address, known=known, max_pages=max_pages),
        )

    async def mempool_txids(self) -> list[str]:
        return await self._route(Capability.MEMPOOL, "mempool_txids", lambda p: p.mempool_txids())

    async def address_mempool(self, address: str) -> list[Tx]:
        return await self._route(
            Capability.ADDRESS_MEMPOOL, "address_mempool", lambda p: p.address_mempool(address)
        )

    def probed(self) -> dict[str, bool]:
        found: dict[str, bool] = {}
        for p in self.providers:
            found.update(p.probed())
        return found

    def assume(self, probed: dict[str, bool]) -> None:
        for p in self.providers:
            p.assume(probed)
