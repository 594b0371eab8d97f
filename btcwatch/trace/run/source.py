"""The chain as the tracer sees it: the store's cache first, the explorer for what is missing.

`CachedChain` is the production `btcwatch.trace.txsource.TxSource` that `follow()` walks.

Confirmed transactions are immutable: fetched once per database, then read back. Spends are
fresh data: an output whose spender is not stored (or is still unconfirmed) is asked again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from btcwatch.errors import ProviderError
from btcwatch.model import OutPoint, OutSpend, Tx
from btcwatch.providers.base import Capability, Provider, gather_limited
from btcwatch.store import Store
from btcwatch.store.chaindata import load_txs, stored_spender
from btcwatch.store.evidence import EvidenceLog, store_with_evidence


class CachedChain:
    """Transactions and spends, from the store when known, else from the provider
    (a `TxSource`)."""

    def __init__(self, provider: Provider, store: Store, log: EvidenceLog | None = None) -> None:
        self.provider = provider
        self.store = store
        self.log = log
        self.fetched = 0
        self.cached = 0

    async def txs(self, txids: Iterable[str]) -> dict[str, Tx]:
        wanted = list(dict.fromkeys(txids))
        found = {
            t: tx
            for t, tx in load_txs(self.store, wanted).items()
            if tx.confirmed and tx.input_value is not None
        }
        self.cached += len(found)
        missing = [t for t in wanted if t not in found]
        if missing:
            fresh = await gather_limited(missing, self.provider.tx)
            store_with_evidence(self.store, fresh.values(), self.log)
            self.fetched += len(fresh)
            found.update(fresh)
        return found

    def keep(self, txs: Iterable[Tx]) -> None:
        """Store txs fetched another way (an address's history), so the search reads them
        back instead of asking again."""
        store_with_evidence(self.store, txs, self.log)

    async def spenders(
        self, outpoints: Sequence[OutPoint]
    ) -> dict[OutPoint, str | ProviderError | None]:
        """outpoint -> spending txid (None while unspent, the error when the explorer failed)."""
        result: dict[OutPoint, str | ProviderError | None] = {}
        ask: list[OutPoint] = []
        for op in outpoints:
            spender = self._stored_spender(op)
            if spender is None:
                ask.append(op)
            else:
                result[op] = spender
        if ask:
            answers = await self._outspends(sorted({op.txid for op in ask}))
            store_with_evidence(self.store, (), self.log)
            for op in ask:
                spends = answers[op.txid]
                if isinstance(spends, ProviderError):
                    result[op] = spends
                    continue
                spend = spends[op.vout] if op.vout < len(spends) else None
                result[op] = spend.txid if spend is not None and spend.spent else None
        return result

    async def _outspends(self, txids: list[str]) -> dict[str, list[OutSpend] | ProviderError]:
        """Batched when the explorer allows; on failure, tx by tx so one bad answer stays local."""
        if self.provider.supports(Capability.OUTSPENDS_BATCH):
            try:
                return dict(await self.provider.outspends_many(txids))
            except ProviderError:
                pass

        async def one(txid: str) -> list[OutSpend] | ProviderError:
            try:
                return await self.provider.outspends(txid)
            except ProviderError as exc:
                return exc

        return await gather_limited(txids, one)

    def _stored_spender(self, op: OutPoint) -> str | None:
        return stored_spender(self.store, op)
