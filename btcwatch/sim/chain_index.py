"""ChainIndex: what an explorer indexes about a chain, and the answers it gives from it.

Every index (transactions, spends, per-address confirmed and mempool histories, the
scripthash lookup, cached address sums) is updated one transaction at a time as `SimChain`
(sim/chain.py) connects and disconnects blocks, so every answer is "as of the current tip".
This half of the chain only reads and indexes; moving the tip lives in sim/chain.py.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterator, Sequence

from btcwatch.chain.network import MAINNET, Network
from btcwatch.errors import InputError
from btcwatch.sim.records import (
    CONFIRMED,
    MEMPOOL,
    AddressRecord,
    BlockRecord,
    Stats,
    TxEntry,
    script_hash,
    spent_by,
)

__all__ = ["ChainIndex"]


class ChainIndex:
    """The indexes of a chain and the read-only answers (as of the current tip).

    Public methods that read several indexes take ``lock`` (re-entrant), shared with the
    `SimChain` subclass that moves the tip.
    """

    def __init__(self, *, network: Network = MAINNET) -> None:
        self.network = network
        self.lock = threading.RLock()
        self._txs: dict[str, TxEntry] = {}
        self._active: list[BlockRecord] = []
        self._by_hash: dict[str, BlockRecord] = {}
        # Per script (keys are the outputs' own bytes objects): confirmed and mempool history.
        self._hist: dict[bytes, list[TxEntry]] = {}
        self._mhist: dict[bytes, list[TxEntry]] = {}
        self._by_scripthash: dict[bytes, bytes] | None = None
        self._stats_cache: dict[bytes, tuple[int, Stats]] = {}
        self._version = 0  # bumped on every connect/disconnect
        self._mempool: dict[str, TxEntry] = {}
        self._mspends: dict[tuple[str, int], tuple[TxEntry, int]] = {}
        self.base_height = -1

    # -- indexes ------------------------------------------------------------------------------

    def prevout(self, txid: str, vout: int) -> tuple[bytes, int]:
        """(script, value) of an output of a known tx."""
        return self._txs[txid].outs[vout]

    def _scripts(self, e: TxEntry) -> list[bytes]:
        """The scripts a tx touches (outputs and spent outputs), each once, in order."""
        txs = self._txs
        found = [script for script, _ in e.outs]
        found += [txs[ptxid].outs[pvout][0] for ptxid, pvout in e.ins]
        return found if len(found) == 1 else list(dict.fromkeys(found))

    def _spender(self, op: tuple[str, int]) -> TxEntry | None:
        parent = self._txs.get(op[0])
        return None if parent is None else spent_by(parent, op[1])

    def _index(self, e: TxEntry) -> None:
        for op in e.ins:
            parent = self._txs[op[0]]
            spent = parent.spent
            if spent is None:
                spent = parent.spent = [None] * len(parent.outs)
            if spent[op[1]] is not None:
                raise InputError(f"double spend of {op[0]}:{op[1]} by {e.txid}")
            spent[op[1]] = e
        hist = self._hist
        for script in self._scripts(e):
            entries = hist.get(script)
            if entries is None:
                hist[script] = [e]
                if self._by_scripthash is not None:
                    self._by_scripthash[script_hash(script)] = script
            else:
                entries.append(e)
        self._version += 1

    def _unindex(self, e: TxEntry) -> None:
        for op in e.ins:
            spent = self._txs[op[0]].spent
            assert spent is not None
            spent[op[1]] = None
        for script in self._scripts(e):
            last = self._hist[script].pop()
            assert last is e, "blocks must be disconnected in reverse order"
        self._version += 1

    # -- queries ------------------------------------------------------------------------------

    def tx(self, txid: str) -> TxEntry | None:
        """A tx visible at the current tip (confirmed in the best chain or in the mempool)."""
        e = self._txs.get(txid.lower())
        return e if e is not None and e.state in (MEMPOOL, CONFIRMED) else None

    def any_tx(self, txid: str) -> TxEntry | None:
        """A tx in any state (future, replaced, vanished too): for tests and diagnostics."""
        return self._txs.get(txid.lower())

    def block_at(self, height: int) -> BlockRecord | None:
        """The best-chain block at ``height``, if the tip has reached it."""
        index = height - self.base_height
        with self.lock:
            return self._active[index] if 0 <= index < len(self._active) else None

    def block(self, block_hash: str) -> BlockRecord | None:
        """A block by hash, including orphaned ones (``best`` is False for those)."""
        return self._by_hash.get(block_hash.lower())

    def next_best(self, rec: BlockRecord) -> str | None:
        """The hash of the block after ``rec`` in the best chain (None at the tip)."""
        if not rec.best:
            return None
        after = self.block_at(rec.height + 1)
        return after.hash if after is not None else None

    def outspend(self, txid: str, vout: int) -> tuple[TxEntry, int] | None:
        """The tx and input index spending an output, confirmed or in the mempool."""
        op = (txid.lower(), vout)
        spender = self._spender(op)
        if spender is not None:
            return spender, spender.ins.index(op)
        return self._mspends.get(op)

    def address(self, script: bytes) -> AddressRecord | None:
        """The history of a scriptPubKey, None if nothing seen so far touched it."""
        history = self._hist.get(script, ())
        mempool = self._mhist.get(script, ())
        if not history and not mempool:
            return None
        return AddressRecord(script, history, mempool)

    def scripthash(self, digest: bytes) -> AddressRecord | None:
        """The history of the script whose sha256 is ``digest`` (index built on first use)."""
        with self.lock:
            if self._by_scripthash is None:
                scripts = {*self._hist, *self._mhist}
                self._by_scripthash = {script_hash(s): s for s in scripts}
            script = self._by_scripthash.get(digest)
            if script is None:
                for candidate in self._mhist:  # mempool-only scripts are not indexed above
                    if script_hash(candidate) == digest:
                        script = candidate
                        break
            return self.address(script) if script is not None else None

    def _sums(self, script: bytes, entries: Sequence[TxEntry]) -> Stats:
        funded = funded_sum = spent = spent_sum = 0
        txs = self._txs
        for e in entries:
            for out_script, value in e.outs:
                if out_script == script:
                    funded += 1
                    funded_sum += value
            for ptxid, pvout in e.ins:
                out_script, value = txs[ptxid].outs[pvout]
                if out_script == script:
                    spent += 1
                    spent_sum += value
        return Stats(funded, funded_sum, spent, spent_sum, len(entries))

    def chain_stats(self, rec: AddressRecord) -> Stats:
        """Funded/spent counts and sums in the best chain (cached for long histories)."""
        if len(rec.history) < 64:
            return self._sums(rec.script, rec.history)
        cached = self._stats_cache.get(rec.script)
        if cached is not None and cached[0] == self._version:
            return cached[1]
        stats = self._sums(rec.script, rec.history)
        self._stats_cache[rec.script] = (self._version, stats)
        return stats

    def mempool_stats(self, rec: AddressRecord) -> Stats:
        return self._sums(rec.script, rec.mempool)

    def history_page(
        self, rec: AddressRecord, last_seen: str | None = None, limit: int = 25
    ) -> list[TxEntry] | None:
        """Confirmed history newest first, after ``last_seen``; None if it is not in it."""
        history = rec.history
        end = len(history)
        if last_seen is not None:
            seen = self._txs.get(last_seen.lower())
            if seen is None or seen.state != CONFIRMED:
                return None
            end = bisect_left(history, seen.seq, key=lambda e: e.seq)
            if end >= len(history) or history[end] is not seen:
                return None
        return list(history[max(0, end - limit) : end][::-1])

    def utxos(self, rec: AddressRecord) -> list[tuple[TxEntry, int, int]]:
        """Unspent outputs of ``rec``'s script (confirmed and mempool), as (tx, vout, value)."""
        found = []
        for e in [*rec.history, *rec.mempool]:
            for vout, (script, value) in enumerate(e.outs):
                if script != rec.script or spent_by(e, vout) is not None:
                    continue
                if (e.txid, vout) not in self._mspends:
                    found.append((e, vout, value))
        return found

    def mempool(self) -> list[TxEntry]:
        """Mempool txs in arrival order."""
        with self.lock:
            return list(self._mempool.values())

    def best_blocks(self) -> Iterator[BlockRecord]:
        """The best chain, oldest first."""
        return iter(list(self._active))
