"""The block factory that scenarios drive: drafts, coinbases, funding, background users, exchanges.

All money in a simulated chain comes from its own coinbases, so every input spends an output
that exists: the first blocks pay a funding pool, whose coins mature after 100 blocks (the
consensus rule) and are then paid out to whoever the scenario registered with `fund()`.
Coinbases of later blocks are never spent, which keeps reorgs of those blocks harmless.

Coins received in a block become spendable from the next block on (`receive` defers them), so
no transaction depends on another of its own block and any subset of a block stays valid.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from btcwatch.chain.script import ScriptType
from btcwatch.chain.tx import RawTx
from btcwatch.errors import InputError
from btcwatch.sim.blocks import (
    BLOCK_INTERVAL,
    PlannedBlock,
    assemble,
    block_wtxids,
    coinbase_tx,
    subsidy,
)
from btcwatch.sim.wallet import (
    ADDRESS_KINDS,
    DUST,
    Built,
    Coin,
    Key,
    KeyFactory,
    estimate_vsize,
    pay,
)

__all__ = ["COINBASE_MATURITY", "Engine", "Exchange"]

COINBASE_MATURITY = 100
_PAYOUT_OUTPUTS = 250
_PAYOUT_FEERATE = 4.0
_MIN_BACKGROUND_COIN = 20_000
# What unrelated users' wallets receive on (2020-ish mix).
_USER_KINDS = ADDRESS_KINDS
_USER_WEIGHTS = (25, 25, 40, 5, 5)
_POOL_TAGS = (b"/Lumen Pool/", b"/Northern Hash/", b"/KettleMine/", b"/Ovi Pool/")


@dataclass(slots=True)
class Exchange:
    """A custodial exchange: tagged hot wallet addresses and many user deposit addresses."""

    name: str
    kind: ScriptType
    hot: list[Key]
    hot_coins: list[Coin] = field(default_factory=list)
    deposits: list[Key] = field(default_factory=list)
    deposit_coins: list[Coin] = field(default_factory=list)
    reserved: int = 0  # sats the scenario still needs from the hot wallet

    @property
    def hot_balance(self) -> int:
        return sum(c.value for c in self.hot_coins)


class Engine:
    """Builds one block at a time: open, add transactions, close (coinbase + proof of work)."""

    def __init__(
        self,
        rng: random.Random,
        *,
        first_height: int,
        first_time: int,
        background: int,
    ) -> None:
        self.rng = rng
        self.keys = KeyFactory(rng)
        self.index = 0
        self.height = first_height
        self.time = first_time
        self.prev_hash = rng.randbytes(32).hex()
        self.background_per_block = background
        self.txs: list[RawTx] = []
        self.fees = 0
        self.seen_at: dict[str, int] = {}
        self.last_fees = 0
        self.tx_count = 0
        self._deferred: list[tuple[list[Coin], Coin]] = []
        self._funding_key = self.keys.new(ScriptType.P2WPKH)
        self._pools = [(tag, self.keys.new(ScriptType.P2WPKH)) for tag in _POOL_TAGS]
        self._funding_blocks = 0
        self._immature: deque[tuple[int, Coin]] = deque()
        self._funds: list[Coin] = []
        self._targets: deque[tuple[Key, int, list[Coin]]] = deque()
        self.funding_total = 0
        self.pool: list[Coin] = []
        self.exchanges: list[Exchange] = []
        self._base_feerate = 8.0

    # -- block lifecycle ----------------------------------------------------------------------

    def add(self, built: Built, *, seen_at: int | None = None) -> None:
        """Put a transaction into the block being built."""
        self.txs.append(built.tx)
        self.fees += built.fee
        if seen_at is not None:
            self.seen_at[built.txid] = seen_at

    def receive(self, sink: list[Coin], coin: Coin) -> None:
        """Hand ``coin`` to ``sink`` once the current block is closed."""
        self._deferred.append((sink, coin))

    def close_block(self) -> PlannedBlock:
        """Finish the block: coinbase, merkle root, proof of work; start the next one."""
        if self.index < self._funding_blocks:
            payee, tag = self._funding_key, b"/btcwatch-sim/"
        else:
            tag, payee = self._pools[self.index % len(self._pools)]
        value = subsidy(self.height) + self.fees
        coinbase = coinbase_tx(self.height, payee.script, value, block_wtxids(self.txs), tag=tag)
        header = assemble(self.prev_hash, self.time, [coinbase.txid, *(t.txid for t in self.txs)])
        block = PlannedBlock(self.height, header, (coinbase, *self.txs), dict(self.seen_at))
        if self.index < self._funding_blocks:
            self._immature.append((self.height, Coin(coinbase.txid, 0, value, payee)))
        for sink, coin in self._deferred:
            sink.append(coin)
        self._deferred.clear()
        self.tx_count += len(block.txs)
        self.prev_hash = header.hash
        self.index += 1
        self.height += 1
        self.time += BLOCK_INTERVAL
        self.last_fees = self.fees
        self.txs = []
        self.fees = 0
        self.seen_at = {}
        self._base_feerate = min(60.0, max(1.0, self._base_feerate * self.rng.uniform(0.85, 1.18)))
        return block

    def stale_variant(self, block: PlannedBlock, extra: Sequence[Built]) -> PlannedBlock:
        """A competing block at the same height: other miner, same txs plus ``extra``.

        It is the one the network sees first and orphans one block later (a 1-block reorg).
        """
        txs = (*block.txs[1:], *(b.tx for b in extra))
        fees = self.last_fees + sum(b.fee for b in extra)
        tag, payee = self._pools[(self.index + 1) % len(self._pools)]
        value = subsidy(block.height) + fees
        coinbase = coinbase_tx(
            block.height, payee.script, value, block_wtxids(txs), tag=tag, extranonce=1
        )
        txids = [coinbase.txid, *(t.txid for t in txs)]
        header = assemble(block.header.prev_hash, block.time - 17, txids)
        return PlannedBlock(block.height, header, (coinbase, *txs), stale=True)

    def feerate(self) -> float:
        """This block's going fee rate in sat/vB, with some spread between wallets."""
        return round(self._base_feerate * self.rng.uniform(0.8, 1.6), 2)

    # -- funding from coinbases ---------------------------------------------------------------

    def fund(self, key: Key, value: int, sink: list[Coin]) -> None:
        """Pay ``value`` to ``key`` from matured coinbases as early as possible."""
        if value < DUST:
            raise InputError(f"cannot fund a coin below the dust limit: {value} sat")
        self._targets.append((key, value, sink))
        self.funding_total += value

    @property
    def pending_targets(self) -> int:
        return len(self._targets)

    def plan_funding(self, first_height: int) -> int:
        """Fix how many first blocks (from ``first_height``) pay the funding pool."""
        need = self.funding_total + self.funding_total // 50 + 10**7
        blocks = 0
        height = first_height
        while need > 0:
            need -= subsidy(height)
            height += 1
            blocks += 1
        self._funding_blocks = blocks
        return blocks

    @property
    def funded(self) -> bool:
        """True once every registered funding target has been paid."""
        return not self._targets

    def payouts(self) -> None:
        """Pay pending funding targets from the coinbases that have matured."""
        mature_height = self.height - COINBASE_MATURITY
        while self._immature and self._immature[0][0] <= mature_height:
            self._funds.append(self._immature.popleft()[1])
        while self._targets and self._funds:
            total = sum(c.value for c in self._funds)
            chosen: list[tuple[Key, int, list[Coin]]] = []
            spent = 0
            while self._targets and len(chosen) < _PAYOUT_OUTPUTS:
                _key, value, sink = self._targets[0]
                reserve = (len(self._funds) * 70 + (len(chosen) + 2) * 45) * _PAYOUT_FEERATE
                if spent + value + reserve + DUST > total:
                    break
                chosen.append(self._targets.popleft())
                spent += value
            if not chosen:
                return
            coins = list(self._funds)
            self._funds.clear()  # in place: deferred deliveries hold the list
            change = self.keys.new(ScriptType.P2WPKH)
            built, pos = pay(
                self.rng,
                coins,
                [(k, v) for k, v, _ in chosen],
                change,
                _PAYOUT_FEERATE,
                change_index=len(chosen),
            )
            self.add(built)
            for (_, _, sink), coin in zip(chosen, built.coins, strict=False):
                self.receive(sink, coin)
            if pos is not None:
                self.receive(self._funds, built.coins[pos])
            return  # one payout per block; its change is spendable next block

    # -- unrelated users ----------------------------------------------------------------------

    def user_key(self, kind: ScriptType | None = None) -> Key:
        """A fresh address of an unrelated user (type drawn from a 2020-like mix)."""
        if kind is None:
            kind = self.rng.choices(_USER_KINDS, _USER_WEIGHTS)[0]
        return self.keys.new(kind)

    def take_pool_coin(self) -> Coin:
        """Remove a random coin from the background pool (swap-remove: O(1))."""
        pool = self.pool
        i = self.rng.randrange(len(pool))
        coin = pool[i]
        pool[i] = pool[-1]
        pool.pop()
        return coin

    def background(self, count: int) -> None:
        """``count`` everyday payments between unrelated users (some to exchange deposits)."""
        rng = self.rng
        target = 3 * self.background_per_block + 8
        for _ in range(count):
            if len(self.pool) < 4:
                return
            size = len(self.pool)
            n_in = 1 if size < target else rng.choice((1, 1, 2, 2, 3)) if size < 2 * target else 3
            coins = [self.take_pool_coin() for _ in range(n_in)]
            while sum(c.value for c in coins) < _MIN_BACKGROUND_COIN and self.pool:
                coins.append(self.take_pool_coin())
            total = sum(c.value for c in coins)
            feerate = self.feerate()
            change = self.user_key(coins[0].key.kind)
            exchange = self._deposit_exchange()
            if exchange is not None:
                recipient = self.deposit_key(exchange)
                sink = exchange.deposit_coins
            else:
                recipient = self.user_key()
                sink = self.pool
            kinds = [c.key.kind for c in coins]
            fee = estimate_vsize(kinds, [recipient.script, change.script]) * feerate
            spendable = total - int(fee) - DUST
            amount = int(spendable * rng.uniform(0.05, 0.7))
            if rng.random() < 0.3:
                amount -= amount % 10_000
            if amount < _MIN_BACKGROUND_COIN // 2:
                self._consolidate(coins, change, feerate)
                continue
            built, pos = pay(rng, coins, [(recipient, amount)], change, feerate)
            self.add(built)
            for i, coin in enumerate(built.coins):
                self.receive(self.pool if i == pos else sink, coin)

    def _consolidate(self, coins: list[Coin], key: Key, feerate: float) -> None:
        try:
            built, _ = pay(self.rng, coins, [], key, feerate, change_index=0)
        except InputError:
            return  # worth less than the fee: left for ever, as on the real chain
        if built.coins:
            self.add(built)
            self.receive(self.pool, built.coins[0])

    def _deposit_exchange(self) -> Exchange | None:
        if not self.exchanges or self.rng.random() >= 0.05:
            return None
        return self.rng.choice(self.exchanges)

    # -- exchanges ----------------------------------------------------------------------------

    def add_exchange(self, name: str, kind: ScriptType, hot_wallets: int = 2) -> Exchange:
        exchange = Exchange(name, kind, [self.keys.new(kind) for _ in range(hot_wallets)])
        self.exchanges.append(exchange)
        return exchange

    def deposit_key(self, exchange: Exchange, *, fresh: bool = False) -> Key:
        """A deposit address of ``exchange``: a new one, or (sometimes) a returning user's."""
        if exchange.deposits and not fresh and self.rng.random() < 0.3:
            return self.rng.choice(exchange.deposits)
        key = self.keys.new(exchange.kind)
        exchange.deposits.append(key)
        return key

    def withdraw(
        self, exchange: Exchange, payouts: Sequence[tuple[Key, int]]
    ) -> tuple[Built, list[int]]:
        """One batched withdrawal from the hot wallet; returns the tx and the payouts' vouts."""
        need = sum(v for _, v in payouts)
        exchange.hot_coins.sort(key=lambda c: c.value)
        coins: list[Coin] = []
        have = 0
        feerate = self.feerate()
        while exchange.hot_coins and have < need + 200 * feerate * (len(payouts) + 3):
            coin = exchange.hot_coins.pop()
            coins.append(coin)
            have += coin.value
        if have < need:
            raise InputError(f"{exchange.name} hot wallet cannot pay {need} sat (has {have})")
        change = exchange.hot[self.index % len(exchange.hot)]
        built, pos = pay(self.rng, coins, payouts, change, feerate)
        if pos is not None:
            self.receive(exchange.hot_coins, built.coins[pos])
        vouts = [i for i in range(len(built.coins)) if i != pos]
        return built, vouts

    def sweep_deposits(self, exchange: Exchange, *, max_inputs: int = 100) -> list[Built]:
        """Sweep every confirmed deposit of ``exchange`` into its hot wallet (many-to-one)."""
        made = []
        coins = list(exchange.deposit_coins)
        exchange.deposit_coins.clear()  # in place: deferred deliveries hold the list
        coins.sort(key=lambda c: (c.txid, c.vout))
        for start in range(0, len(coins), max_inputs):
            chunk = coins[start : start + max_inputs]
            hot = exchange.hot[(self.index + start) % len(exchange.hot)]
            try:
                built, _ = pay(self.rng, chunk, [], hot, self.feerate(), change_index=0)
            except InputError:
                continue  # dust deposits are not worth a sweep
            if not built.coins:
                continue
            self.add(built)
            self.receive(exchange.hot_coins, built.coins[0])
            made.append(built)
        return made
