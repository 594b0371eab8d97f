"""Virtual histories of 100,000+ transactions for exchange hot wallets, made only when read.

A hot wallet on mainnet has a history far older than any simulated chain. `AncientHistory`
gives one script ``n`` transactions confirmed before the chain's first block: pairs of a
deposit sweep (3-6 deposits of outputs older still, into the hot wallet) and a withdrawal
spending that sweep in full to 1-3 users. Pair ``p`` is generated from ``(seed, p)`` alone,
so any page deep in the history costs a few pairs, never the history before it; every sweep
output is spent by its withdrawal, so the address's UTXO set is the simulated chain's alone.

Esplora semantics hold across the seam: `HistoryView` is the address's history oldest first
(ancient, then the live chain's), chain_stats come from closed-form sums, and the entries are
ordinary confirmed `TxEntry` objects registered with the chain once made, so the usual routes
(`/tx/:txid`, outspends, paging by ``last_seen``) serve them. Their blocks lie before the
simulated chain and, like its first block's parent, are unknown to the server (404).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator, Sequence
from typing import overload

from btcwatch.chain.tx import BlockHeader
from btcwatch.sim.blocks import BLOCK_INTERVAL, BLOCK_VERSION, REGTEST_BITS
from btcwatch.sim.records import CONFIRMED, BlockRecord, Stats, TxEntry
from btcwatch.sim.traffic import der_sig, encode_tx
from btcwatch.sim.wallet import Key, unlock

__all__ = ["AncientHistory", "HistoryView"]

_TXS_PER_BLOCK = 20


def _h(*parts: object) -> bytes:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=32).digest()


class AncientHistory:
    """``n`` (rounded up to even) transactions of ``key``'s script before height ``base_height``."""

    def __init__(
        self,
        key: Key,
        n: int,
        *,
        seed: int,
        base_height: int,
        base_time: int,
        register: Callable[[TxEntry], None],
    ) -> None:
        self.key = key
        self.script = key.script
        self.n = n + (n % 2)
        self.seed = seed
        self.base_height = base_height
        self.base_time = base_time
        self._register = register
        self._entries: dict[int, TxEntry] = {}
        self.prevouts: dict[str, tuple[bytes, int]] = {}
        self._blocks: dict[int, BlockRecord] = {}
        self._sum: int | None = None

    def value(self, pair: int) -> int:
        """What sweep ``pair`` brings into the hot wallet (closed form, for the sums)."""
        return 2_000_000 + int.from_bytes(_h(self.seed, self.script.hex(), pair)[:4]) % 300_000_000

    def stats(self) -> Stats:
        """chain_stats of the ancient part: every sweep output funded, then spent."""
        if self._sum is None:
            self._sum = sum(self.value(p) for p in range(self.n // 2))
        pairs = self.n // 2
        return Stats(pairs, self._sum, pairs, self._sum, self.n)

    def _block(self, index: int) -> BlockRecord:
        height = self.base_height - 1 - (self.n - 1 - index) // _TXS_PER_BLOCK
        rec = self._blocks.get(height)
        if rec is None:
            time = self.base_time - (self.base_height - height) * BLOCK_INTERVAL
            root = _h("root", self.seed, height).hex()
            prev = _h("block", self.seed, height - 1).hex()
            rec = BlockRecord(
                height, BlockHeader(BLOCK_VERSION, prev, root, time, REGTEST_BITS, 0), []
            )
            rec.best = True
            self._blocks[height] = rec
        return rec

    def entry(self, index: int) -> TxEntry:
        """Transaction ``index`` (0 is the oldest), made with its pair on first use."""
        found = self._entries.get(index)
        if found is None:
            self._make_pair(index // 2)
            found = self._entries[index]
        return found

    def _make_pair(self, pair: int) -> None:
        rng = random.Random(_h(self.seed, self.script.hex(), "pair", pair))
        value = self.value(pair)
        # The sweep: 3-6 deposits (outputs of transactions older than the history) in.
        n_dep = rng.randint(3, 6)
        total = value + 120 * n_dep + 200
        parts = [rng.randint(1, 100) for _ in range(n_dep)]
        amounts = [total * w // sum(parts) for w in parts]
        amounts[0] += total - sum(amounts)
        ins: list[tuple[str, int]] = []
        unlocks: list[tuple[bytes, tuple[bytes, ...]]] = []
        for j, amount in enumerate(amounts):
            txid = _h("deposit", self.seed, self.script.hex(), pair, j).hex()
            key = _h("key", txid)
            ins.append((txid, j % 3))
            unlocks.append((b"", (der_sig(rng), b"\x02" + key)))
            self.prevouts[txid] = (b"\x00\x14" + key[:20], amount)
        sweep = _entry(ins, unlocks, [(self.script, value)], total)
        # The withdrawal: the whole sweep output to 1-3 users, no change.
        n_out = rng.randint(1, 3)
        left = value - 150 - 40 * n_out
        outs: list[tuple[bytes, int]] = []
        for k in range(n_out):
            amount = left if k == n_out - 1 else left * rng.randint(20, 60) // 100
            left -= amount
            outs.append((b"\x00\x14" + rng.randbytes(20), amount))
        withdrawal = _entry([(sweep.txid, 0)], [unlock(self.key, rng)], outs, value)
        for offset, e in enumerate((sweep, withdrawal)):
            index = 2 * pair + offset
            e.state = CONFIRMED
            e.block = self._block(index)
            e.seq = index - self.n - 1  # before every live entry (they start at 1)
            self._entries[index] = e
        sweep.spent = [withdrawal]
        withdrawal.spent = [None] * len(outs)
        self._register(sweep)
        self._register(withdrawal)


def _entry(
    ins: list[tuple[str, int]],
    unlocks: list[tuple[bytes, tuple[bytes, ...]]],
    outs: list[tuple[bytes, int]],
    spent: int,
) -> TxEntry:
    txid, raw, weight = encode_tx(ins, unlocks, outs)
    fee = spent - sum(v for _, v in outs)
    return TxEntry(txid, raw, tuple(ins), tuple(outs), fee, weight, 0)


class HistoryView(Sequence[TxEntry]):
    """An address's confirmed history, oldest first: ancient entries, then the live list."""

    def __init__(self, ancient: AncientHistory, live: Sequence[TxEntry]) -> None:
        self.ancient = ancient
        self.live = live

    def __len__(self) -> int:
        return self.ancient.n + len(self.live)

    @overload
    def __getitem__(self, index: int) -> TxEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[TxEntry]: ...

    def __getitem__(self, index: int | slice) -> TxEntry | list[TxEntry]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = self.ancient.n
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.ancient.entry(index) if index < n else self.live[index - n]

    def __iter__(self) -> Iterator[TxEntry]:
        for i in range(len(self)):
            yield self[i]
