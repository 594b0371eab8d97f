"""What changed on the SimChain since the last look, as mempool.space's pushed messages.

mempool's backend polls its node and diffs; so does this: the mempool's txids and the last
200 blocks of the best chain are compared with the previous look, and each subscriber gets
``block`` (new blocks, if it wants them), ``multi-address-transactions`` (its tracked addresses'
transactions that entered the mempool, confirmed, or left unconfirmed: RBF, eviction, reorg) and
``mempool-transactions`` (the whole delta, if it asked and the server allows it). Every
transaction is rendered as Esplora JSON at most once per look.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar

from btcwatch.sim import esplora
from btcwatch.sim.chain import SimChain
from btcwatch.sim.records import TxEntry

__all__ = ["ChainNews", "Subscriber"]

WINDOW = 200  # heights of the best chain remembered to spot a reorg
Snapshot = tuple[dict[str, None], dict[int, str]]  # (mempool txids, height -> best block hash)


class Subscriber(Protocol):
    tracked: dict[bytes, str]  # script -> the address as the client wrote it
    want_blocks: bool
    track_mempool: bool


S = TypeVar("S", bound=Subscriber)


class ChainNews:
    """The previous look at the chain, and the messages the next look brings."""

    def __init__(self, chain: SimChain) -> None:
        self.chain = chain
        self._mempool: dict[str, None] = {}
        self._best: dict[int, str] = {}
        self._sequence = 0

    def snapshot(self) -> Snapshot:
        with self.chain.lock:
            return dict.fromkeys(e.txid for e in self.chain.mempool()), self._window()

    def reset(self, baseline: Snapshot) -> None:
        """Start comparing from ``baseline`` (taken when the first subscriber came)."""
        self._mempool, self._best = baseline

    def _window(self) -> dict[int, str]:
        tip = self.chain.tip_height
        out: dict[int, str] = {}
        for height in range(tip, max(self.chain.base_height, tip - WINDOW) - 1, -1):
            rec = self.chain.block_at(height)
            if rec is not None:
                out[height] = rec.hash
        return out

    def step(self, subscribers: Sequence[S]) -> list[tuple[S, dict[str, Any]]]:
        """Look again; the messages to send, in order (blocks first, then the mempool)."""
        chain = self.chain
        with chain.lock:
            new_blocks, lost_entries = self._blocks()
            now = {e.txid: e for e in chain.mempool()}
            added = [e for txid, e in now.items() if txid not in self._mempool]
            left = [txid for txid in self._mempool if txid not in now]
            self._mempool = dict.fromkeys(now)
            confirmed = {e.txid for rec in new_blocks for e in rec.entries}
            removed: dict[str, TxEntry] = {}
            for txid in left:
                entry = chain.any_tx(txid)
                if entry is not None and txid not in confirmed:
                    removed[txid] = entry
            for entry in lost_entries:
                if entry.txid not in now and not _confirmed(entry):
                    removed[entry.txid] = entry
            render = _Render(chain)
            out: list[tuple[S, dict[str, Any]]] = []
            for rec in new_blocks:
                block = esplora.block_json(chain, rec)
                txs = [e for e in rec.entries if not e.is_coinbase]
                for sub in subscribers:
                    msg: dict[str, Any] = {}
                    if sub.want_blocks:
                        msg["block"] = block
                    found = render.per_address(sub, confirmed=txs)
                    if found:
                        msg["multi-address-transactions"] = found
                    if msg:
                        out.append((sub, msg))
            if added or removed:
                self._sequence += 1
                gone = list(removed.values())
                for sub in subscribers:
                    msg = {}
                    found = render.per_address(sub, mempool=added, removed=gone)
                    if found:
                        msg["multi-address-transactions"] = found
                    if sub.track_mempool:
                        msg["mempool-transactions"] = render.delta(
                            self._sequence, added, left, confirmed
                        )
                    if msg:
                        out.append((sub, msg))
            return out

    def _blocks(self) -> tuple[list[Any], list[TxEntry]]:
        """(blocks new to the best chain, oldest first; txs of the blocks that left it)."""
        chain = self.chain
        if self._best.get(chain.tip_height) == chain.tip_hash:
            return [], []
        window = self._window()
        new_blocks = []
        for height in sorted(window):
            if self._best.get(height) != window[height]:
                rec = chain.block_at(height)
                if rec is not None:
                    new_blocks.append(rec)
        lost = [h for h, bh in self._best.items() if window.get(h) != bh]
        lost_entries = [
            e for h in lost for e in _entries(chain, self._best[h]) if not e.is_coinbase
        ]
        self._best = window
        return new_blocks, lost_entries


class _Render:
    """Per-look rendering cache: each transaction is turned into Esplora JSON at most once."""

    def __init__(self, chain: SimChain) -> None:
        self.chain = chain
        self._json: dict[str, dict[str, Any]] = {}
        self._scripts: dict[str, set[bytes]] = {}

    def tx(self, entry: TxEntry) -> dict[str, Any]:
        found = self._json.get(entry.txid)
        if found is None:
            found = self._json[entry.txid] = esplora.tx_json(self.chain, entry)
        return found

    def scripts(self, entry: TxEntry) -> set[bytes]:
        found = self._scripts.get(entry.txid)
        if found is None:
            found = {script for script, _ in entry.outs}
            for txid, vout in entry.ins:
                with contextlib.suppress(KeyError, IndexError):
                    found.add(self.chain.prevout(txid, vout)[0])
            self._scripts[entry.txid] = found
        return found

    def per_address(
        self,
        sub: Subscriber,
        *,
        mempool: Iterable[TxEntry] = (),
        confirmed: Iterable[TxEntry] = (),
        removed: Iterable[TxEntry] = (),
    ) -> dict[str, dict[str, list[dict[str, Any]]]]:
        tracked = sub.tracked
        out: dict[str, dict[str, list[dict[str, Any]]]] = {}
        if not tracked:
            return out
        for key, entries in (("mempool", mempool), ("confirmed", confirmed), ("removed", removed)):
            for entry in entries:
                for script in self.scripts(entry) & tracked.keys():
                    lists = out.setdefault(
                        tracked[script], {"mempool": [], "confirmed": [], "removed": []}
                    )
                    lists[key].append(self.tx(entry))
        return out

    def delta(
        self, sequence: int, added: list[TxEntry], left: list[str], mined: set[str]
    ) -> dict[str, Any]:
        replaced = []
        for txid in left:
            entry = self.chain.any_tx(txid)
            if entry is not None and entry.replaced_by:
                by = self.chain.any_tx(entry.replaced_by)
                if by is not None:
                    replaced.append({"replaced": txid, "by": self.tx(by)})
        return {
            "sequence": sequence,
            "added": [self.tx(e) for e in added],
            "removed": [t for t in left if t not in mined],
            "mined": [t for t in left if t in mined],
            "replaced": replaced,
        }


def _entries(chain: SimChain, block_hash: str) -> list[TxEntry]:
    rec = chain.block(block_hash)
    return list(rec.entries) if rec is not None else []


def _confirmed(entry: TxEntry) -> bool:
    return entry.block is not None and entry.block.best
