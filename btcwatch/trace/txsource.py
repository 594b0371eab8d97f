"""What the search over spends reads: the `TxSource` protocol, and a source held in memory.

`follow()` is typed against the protocol, so the pure core never sees the store or a
provider: the store-backed `btcwatch.trace.run.source.CachedChain` satisfies it in
production, `MemorySource` in tests, benchmarks and anything replayed from memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from btcwatch.errors import ProviderError
from btcwatch.model import OutPoint, Tx


class TxSource(Protocol):
    """What a search over spends needs: txs by id, and who spent an outpoint.

    ``spenders`` maps each outpoint to the spending txid, None while unspent, or the
    explorer's error for that outpoint.
    """

    async def txs(self, txids: Iterable[str]) -> dict[str, Tx]: ...

    async def spenders(
        self, outpoints: Sequence[OutPoint]
    ) -> Mapping[OutPoint, str | ProviderError | None]: ...


class MemorySource:
    """A `TxSource` over txs held in memory (tests, benchmarks, a flow reopened offline):
    the spender of an outpoint is whichever of these txs spends it."""

    def __init__(self, txs: Mapping[str, Tx]) -> None:
        self.all = txs
        self.spender = {
            txin.prevout: tx.txid
            for tx in txs.values()
            for txin in tx.inputs
            if txin.prevout is not None
        }
        self.fetched = 0

    async def txs(self, txids: Iterable[str]) -> dict[str, Tx]:
        found = {t: self.all[t] for t in txids if t in self.all}
        self.fetched += len(found)
        return found

    async def spenders(self, outpoints: Sequence[OutPoint]) -> dict[OutPoint, str | None]:
        return {op: self.spender.get(op) for op in outpoints}
