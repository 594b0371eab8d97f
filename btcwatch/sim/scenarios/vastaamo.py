"""A Vastaamo-like extortion, block by block, with its ground truth.

Modelled on the public facts of the October 2020 case: an extortionist who had stolen a
psychotherapy provider's patient records demanded 40 BTC from the company, then e-mailed
patients asking for about 200 EUR in bitcoin within 24 hours and 500 EUR after that. Everything
else (exchanges, names, amounts, addresses) is invented; exchange names are fictional.

The story, in block offsets from the e-mail wave (10 minutes a block):
  victims withdraw from exchange hot wallets (batched withdrawals), then pay their own ransom
  address: on time (200 EUR, first 144 blocks), late (500 EUR), partial, twice, or never; a few
  payments sit in the mempool for several blocks, one is replaced by fee (RBF), one is first
  confirmed in a block that a 1-block reorg orphans. The extortionist sweeps the ransom
  addresses in co-spending batches (+48, +96, ... +292), merges the sweeps, peels payments to
  exchange deposit addresses off a chain of 1-in-2-out transactions, and mixes the rest in an
  equal-output CoinJoin. Exchanges sweep deposits into their (tagged) hot wallets, a stranger
  sends dust to attacker addresses, and unrelated users transact in every block.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from btcwatch.chain.address import script_to_address
from btcwatch.chain.network import MAINNET, Network
from btcwatch.chain.script import ScriptType
from btcwatch.errors import BtcwatchError, InputError
from btcwatch.sim.blocks import (
    BLOCK_INTERVAL,
    MempoolOnly,
    PlannedBlock,
    estimated_height,
)
from btcwatch.sim.scenarios.engine import COINBASE_MATURITY, Engine, Exchange
from btcwatch.sim.wallet import DUST, Built, Coin, Key, build_tx, estimate_vsize, pay

__all__ = ["VastaamoConfig", "VastaamoScenario", "default_eur_per_btc", "vastaamo"]

SATS = 100_000_000
EMAILS_AT = datetime(2020, 10, 24, 8, 0, tzinfo=UTC)
COMPANY_DEMAND_BTC = 40
DEMAND_EUR = Decimal(200)
LATE_DEMAND_EUR = Decimal(500)
DEADLINE_BLOCKS = 144  # 24 hours
LATE_END = 288  # the late window closes after 48 hours
SWEEP_OFFSETS = (48, 96, 144, 192, 240, 292)
MERGE_OFFSET = 294
PEEL_OFFSET = 298
DENOMINATION = 10_000_000  # 0.1 BTC, Wasabi 1.x's base denomination
MAX_ATTACKER_EQUAL = 100
FIXED_EUR_PER_BTC = Decimal(10_000)

#: Fictional exchanges: name, script type of their wallets, share of victims who use them.
EXCHANGES: tuple[tuple[str, ScriptType, int], ...] = (
    ("Coinbank", ScriptType.P2PKH, 30),
    ("Bitharbor", ScriptType.P2SH, 25),
    ("Polarex", ScriptType.P2WPKH, 20),
    ("Nordvault", ScriptType.P2WSH, 15),
    ("Satoshi Square", ScriptType.P2TR, 10),
)
_VICTIM_KINDS = (
    ScriptType.P2WPKH,
    ScriptType.P2SH,
    ScriptType.P2PKH,
    ScriptType.P2TR,
    ScriptType.P2WSH,
)
_VICTIM_WEIGHTS = (45, 25, 20, 5, 5)
_SMALL_PLANS = ("on_time", "late", "rbf", "partial", "double", "never", "on_time")

EurRate = Callable[[date], Decimal]


def default_eur_per_btc() -> tuple[EurRate, str]:
    """The bundled daily EUR close (btcwatch.prices), else a fixed 10,000 EUR/BTC."""
    try:
        from btcwatch.prices import PriceTable

        table = PriceTable.load_default()
        table.price(EMAILS_AT.date(), "EUR")
    except (ImportError, OSError, BtcwatchError):
        return (lambda _day: FIXED_EUR_PER_BTC), "fixed 10,000 EUR/BTC"

    last = table.last_day("EUR")

    def rate(day: date) -> Decimal:
        # A story placed after the table (``--start 2026-09-21``) keeps its last close.
        return table.price(min(day, last), "EUR").per_btc

    return rate, f"{table.source} (days after {last}: its last close, fictional)"


@dataclass(frozen=True, slots=True)
class VastaamoConfig:
    """The knobs of the scenario; the same config always yields the same chain."""

    victims: int = 300
    seed: int = 2020
    background: int = 5
    network: Network = MAINNET
    emails_at: datetime = EMAILS_AT
    eur_per_btc: EurRate | None = None
    peel_hops: int = 8
    coinjoin_peers: int = 30
    sweep_batch: int = 20
    exchanges: tuple[tuple[str, ScriptType, int], ...] = EXCHANGES
    #: Coins funded for the mainnet profile's traffic (0: none, the small chain is unchanged).
    traffic_coins: int = 0
    traffic_hot_sat: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.victims <= 1_000_000:
            raise InputError(f"victims must be 1..1,000,000, got {self.victims}")
        if self.background < 0:
            raise InputError(f"background must be >= 0, got {self.background}")
        if not 1 <= self.peel_hops <= 100:
            raise InputError(f"peel_hops must be 1..100, got {self.peel_hops}")
        if not 2 <= self.coinjoin_peers <= 400:
            raise InputError(f"coinjoin_peers must be 2..400, got {self.coinjoin_peers}")
        if not 2 <= self.sweep_batch <= 500:
            raise InputError(f"sweep_batch must be 2..500, got {self.sweep_batch}")
        if not self.exchanges:
            raise InputError("at least one exchange is needed")
        if self.emails_at.tzinfo is None:
            raise InputError("emails_at must be timezone-aware (UTC)")


@dataclass(slots=True)
class _Victim:
    id: int
    plan: str
    exchange: int
    kind: ScriptType
    ransom: Key
    pays: list[int] = field(default_factory=list)  # block offsets of confirmation
    amounts: list[int] = field(default_factory=list)
    rates: list[Decimal] = field(default_factory=list)
    early: int = 0  # first payment broadcast this many blocks before it confirms
    rbf: tuple[int, int] | None = None  # (seen offset, replaced offset)
    stale: bool = False
    withdraw_at: int = 0
    withdraw_amount: int = 0
    coins: list[Coin] = field(default_factory=list)


def _plans(victims: int, rng: random.Random) -> list[str]:
    if victims < 8:
        return list(_SMALL_PLANS[:victims])
    counts = {
        "rbf": 1,
        "double": max(1, round(0.03 * victims)),
        "partial": max(1, round(0.05 * victims)),
        "late": max(1, round(0.15 * victims)),
        "never": max(1, round(0.30 * victims)),
    }
    plans = [p for p, n in counts.items() for _ in range(n)]
    plans += ["on_time"] * (victims - len(plans))
    rng.shuffle(plans)
    return plans


def _sats_for(eur: Decimal, rate: Decimal) -> int:
    return int((eur / rate * SATS).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


class _Story:
    """One generation run: plans everything from the seed, then yields blocks in order."""

    def __init__(self, config: VastaamoConfig) -> None:
        self.cfg = config
        self.net = config.network
        self.rng = random.Random(config.seed)
        if config.eur_per_btc is None:
            self.rate_of, self.price_source = default_eur_per_btc()
        else:
            self.rate_of, self.price_source = config.eur_per_btc, "caller-supplied eur_per_btc"
        self.rates_used: dict[str, str] = {}
        self.mempool_only: list[MempoolOnly] = []
        self.truth: dict[str, Any] = {}
        self._plan()

    # -- planning -----------------------------------------------------------------------------

    def _rate(self, offset: int) -> Decimal:
        day = (self.cfg.emails_at + timedelta(seconds=offset * BLOCK_INTERVAL)).date()
        rate = self.rate_of(day)
        self.rates_used[day.isoformat()] = str(rate)
        return rate

    def _plan(self) -> None:
        cfg, rng = self.cfg, self.rng
        # The engine needs the first height and time, which depend on how long funding takes,
        # which depends on the plan: plan with a provisional engine clock, then fix it.
        self.engine = eng = Engine(rng, first_height=0, first_time=0, background=cfg.background)
        self.exchanges = [eng.add_exchange(name, kind) for name, kind, _ in cfg.exchanges]
        self.company = eng.keys.new(ScriptType.P2PKH)
        self.attacker: list[Key] = [self.company]
        plans = _plans(cfg.victims, rng)
        weights = [w for _, _, w in cfg.exchanges]
        self.victims: list[_Victim] = []
        for i, plan in enumerate(plans):
            exchange = rng.choices(range(len(self.exchanges)), weights)[0]
            kind = rng.choices(_VICTIM_KINDS, _VICTIM_WEIGHTS)[0]
            ransom = eng.keys.new(ScriptType.P2WPKH)
            self.attacker.append(ransom)
            self.victims.append(_Victim(i + 1, plan, exchange, kind, ransom))
        on_time = [v for v in self.victims if v.plan == "on_time"]
        for v in on_time[: max(1, len(on_time) // 30)] if len(on_time) > 1 else ():
            v.early = rng.randint(3, 9)
        stale = [v for v in on_time if not v.early]
        if stale:
            stale[0].stale = True
        for v in self.victims:
            self._schedule(v)
        self.by_offset: dict[int, list[tuple[str, _Victim, int]]] = defaultdict(list)
        for v in self.victims:
            if v.plan == "never":
                continue
            self.by_offset[v.withdraw_at].append(("withdraw", v, 0))
            self.exchanges[v.exchange].reserved += v.withdraw_amount
            if v.rbf is not None:
                self.by_offset[v.rbf[1] + 1].append(("rbf", v, 0))
                continue
            for n, off in enumerate(v.pays):
                if v.stale and n == 0:
                    self.by_offset[off - 1].append(("stale", v, 0))
                self.by_offset[off].append(("pay", v, n))
        self._fund()

    def _schedule(self, v: _Victim) -> None:
        rng = self.rng
        if v.plan == "never":
            return
        if v.plan in ("on_time", "partial"):
            pay_at = max(3 + v.early + (2 if v.stale else 0), int(rng.triangular(3, 143, 12)))
            v.pays = [pay_at]
        elif v.plan == "late":
            v.pays = [rng.randint(DEADLINE_BLOCKS + 2, LATE_END - 2)]
        elif v.plan == "double":
            first = int(rng.triangular(3, 120, 12))
            v.pays = [first, min(LATE_END - 2, first + rng.randint(4, 30))]
        else:  # rbf: seen, then replaced by fee some blocks later, confirmed next block
            seen = rng.randint(10, 100)
            gone = seen + rng.randint(2, 6)
            v.rbf = (seen, gone)
            v.pays = [gone + 1]
        for n, off in enumerate(v.pays):
            rate = self._rate(off)
            eur = LATE_DEMAND_EUR if off > DEADLINE_BLOCKS else DEMAND_EUR
            if v.plan == "partial":
                eur = (eur * Decimal(rng.randint(25, 85)) / 100).quantize(Decimal("0.01"))
            if v.plan == "double" and n == 1:
                eur = DEMAND_EUR
            v.amounts.append(_sats_for(eur, rate))
            v.rates.append(rate)
        first_seen = v.rbf[0] if v.rbf else v.pays[0] - v.early - (1 if v.stale else 0)
        latest = first_seen - 1
        v.withdraw_at = rng.randint(max(1, latest - 10), max(1, latest))
        extra = int(sum(v.amounts) * rng.uniform(0.0, 0.3))
        amount = sum(v.amounts) + 40_000 * len(v.amounts) + extra
        v.withdraw_amount = amount + (-amount % 1000)

    def _fund(self) -> None:
        cfg, rng, eng = self.cfg, self.rng, self.engine
        chunk = 250_000_000
        for ex in self.exchanges:
            budget = ex.reserved + ex.reserved // 20 + SATS * (1 + min(cfg.background, 20) // 2)
            while budget > 0:
                value = min(chunk, budget)
                eng.fund(ex.hot[0], max(value, DUST), ex.hot_coins)
                budget -= value
        self.peer_coins: list[Coin] = []
        for _ in range(cfg.coinjoin_peers):
            eng.fund(
                eng.user_key(ScriptType.P2WPKH), rng.randint(11, 60) * SATS // 100, self.peer_coins
            )
        self.dust_coins: list[Coin] = []
        for _ in range(3):
            eng.fund(eng.user_key(), 50_000 + rng.randint(0, 50_000), self.dust_coins)
        self.traffic_coins: list[Coin] = []
        self.traffic_hot: list[list[Coin]] = [[] for _ in self.exchanges]
        for _ in range(cfg.traffic_coins):  # the mainnet profile's users (sim/traffic.py)
            value = 2_000_000 + rng.randint(0, 8_000_000)
            eng.fund(eng.user_key(ScriptType.P2WPKH), value, self.traffic_coins)
        for ex, sink in zip(self.exchanges, self.traffic_hot, strict=True):
            if cfg.traffic_hot_sat:
                eng.fund(ex.hot[0], cfg.traffic_hot_sat, sink)
        seeds = 3 * cfg.background + 10
        for _ in range(seeds):
            value = int(rng.lognormvariate(14.5, 1.0))
            eng.fund(eng.user_key(), min(max(value, 100_000), 50 * SATS // 10), eng.pool)
        # Subsidies depend on heights, heights on how long funding takes: settle in a few rounds.
        emails_height = estimated_height(cfg.emails_at)
        self.t0 = COINBASE_MATURITY + 50
        for _ in range(4):
            funding_blocks = eng.plan_funding(emails_height - self.t0)
            payout_blocks = funding_blocks + (eng.pending_targets + 249) // 250 + 2
            t0 = COINBASE_MATURITY + payout_blocks + 12
            if t0 <= self.t0:
                break
            self.t0 = t0
        first_time = int(cfg.emails_at.timestamp()) - self.t0 * BLOCK_INTERVAL
        eng.height = emails_height - self.t0
        eng.time = first_time
        self.funding_blocks = funding_blocks
        self.stranger_rate = min(0.3, 0.03 * (cfg.background + 1))  # withdrawals by others

    # -- running ------------------------------------------------------------------------------

    def height_of(self, offset: int) -> int:
        return self.first_height + self.t0 + offset

    def blocks(self) -> Iterator[PlannedBlock]:
        eng = self.engine
        self.first_height = eng.height
        self.ransom_coins: list[Coin] = []
        self.payments: list[dict[str, Any]] = []
        self.sweeps: list[dict[str, Any]] = []
        self.sweep_coins: list[Coin] = []
        self.merges: list[dict[str, Any]] = []
        self.merge_coins: list[Coin] = []
        self.peels: list[dict[str, Any]] = []
        self.peel_coin: Coin | None = None
        self.peel_order: list[Exchange] = []
        self.coinjoin: dict[str, Any] = {}
        self.dust: list[dict[str, Any]] = []
        self.early: list[dict[str, Any]] = []
        self.reorg: dict[str, Any] = {}
        self.rbf: dict[str, Any] = {}
        self.held: dict[int, Built] = {}
        self.dust_targets: list[Key] = []
        cj_offset = PEEL_OFFSET + 3 * self.cfg.peel_hops + 3
        self.cj_offset = cj_offset
        self.end_offset = cj_offset + 36
        dust_offsets = sorted(self.rng.sample(range(PEEL_OFFSET, self.end_offset - 2), 3))
        self.dust_offsets = Counter(dust_offsets)
        for index in range(self.t0 + self.end_offset + 1):
            offset = index - self.t0
            if offset == 0 and not eng.funded:
                raise RuntimeError("scenario bug: funding did not finish before the e-mails")
            eng.payouts()
            stale_extra = self._story(offset)
            if eng.exchanges and index >= COINBASE_MATURITY:
                self._exchange_housekeeping(index)
            eng.background(self.cfg.background if eng.pool else 0)
            block = eng.close_block()
            if stale_extra is not None:
                stale = eng.stale_variant(block, [stale_extra])
                self.reorg = {
                    "kind": "1-block reorg (the stale block is seen first, then orphaned)",
                    "height": block.height,
                    "stale_block_hash": stale.hash,
                    "best_block_hash": block.hash,
                    "txid": stale_extra.txid,
                    "stale_confirmed_height": block.height,
                    "best_confirmed_height": block.height + 1,
                }
                yield stale
            yield block
        self.last_height = eng.height - 1

    def _story(self, offset: int) -> Built | None:
        """Everything the story does in this block; returns a payment held for a stale block."""
        held: Built | None = None
        withdrawals: dict[int, list[_Victim]] = defaultdict(list)
        for action, v, n in self.by_offset.get(offset, ()):
            if action == "withdraw":
                withdrawals[v.exchange].append(v)
            elif action == "pay":
                self._pay(v, n, offset)
            elif action == "rbf":
                self._rbf(v, offset)
            elif action == "stale":
                held = self._build_payment(v, 0, offset + 1)
                self.held[v.id] = held
        for ex_index in sorted(withdrawals):
            self._withdraw(self.exchanges[ex_index], withdrawals[ex_index])
        if offset in SWEEP_OFFSETS:
            self._sweep(offset)
        if offset in (MERGE_OFFSET, MERGE_OFFSET + 2):
            self._merge()
        if PEEL_OFFSET <= offset < self.cj_offset - 3 and (offset - PEEL_OFFSET) % 3 == 0:
            self._peel(1 + (offset - PEEL_OFFSET) // 3)
        if offset == self.cj_offset:
            self._coinjoin()
        for _ in range(self.dust_offsets.get(offset, 0)):
            self._dust()
        return held

    # -- victims ------------------------------------------------------------------------------

    def _withdraw(self, ex: Exchange, victims: list[_Victim]) -> None:
        eng, rng = self.engine, self.rng
        payouts = [(eng.keys.new(v.kind), v.withdraw_amount) for v in victims]
        strangers = [
            (eng.user_key(), rng.randint(50, 3000) * 10_000) for _ in range(rng.randint(0, 3))
        ]
        if sum(a for _, a in strangers) + SATS // 2 > ex.hot_balance - ex.reserved:
            strangers = []
        order = payouts + strangers
        rng.shuffle(order)
        built, vouts = eng.withdraw(ex, order)
        eng.add(built)
        owner = {id(k): v for (k, _), v in zip(payouts, victims, strict=True)}
        for vout in vouts:
            coin = built.coins[vout]
            victim = owner.get(id(coin.key))
            if victim is None:
                eng.receive(eng.pool, coin)
            else:
                eng.receive(victim.coins, coin)
        for v in victims:
            ex.reserved -= v.withdraw_amount

    def _build_payment(self, v: _Victim, n: int, offset: int, *, feerate: float = 0.0) -> Built:
        coin = v.coins[-1]
        change = self.engine.keys.new(v.kind)
        rate = feerate or self.engine.feerate()
        built, _ = pay(self.rng, [coin], [(v.ransom, v.amounts[n])], change, rate)
        return built

    def _commit_payment(self, v: _Victim, n: int, built: Built, kind: str, offset: int) -> None:
        eng = self.engine
        seen_at = None
        if n == 0 and v.early:
            seen_at = self.height_of(offset - v.early)
            self.early.append(
                {"txid": built.txid, "seen_height": seen_at, "height": self.height_of(offset)}
            )
        eng.add(built, seen_at=seen_at)
        v.coins.pop()
        for coin in built.coins:
            if coin.key is v.ransom:
                eng.receive(self.ransom_coins, coin)
                self._record_payment(v, n, coin, kind, self.height_of(offset))
            else:
                eng.receive(v.coins, coin)

    def _record_payment(
        self, v: _Victim, n: int, coin: Coin, kind: str, height: int | None, time: int = 0
    ) -> None:
        self.payments.append(
            {
                "victim": v.id,
                "address": self._addr(v.ransom),
                "txid": coin.txid,
                "vout": coin.vout,
                "value_sat": coin.value,
                "height": height,
                "time": time or self._time_of(height),
                "kind": kind,
                "eur_rate": str(v.rates[n]),
            }
        )

    def _time_of(self, height: int | None) -> int:
        assert height is not None
        return self.engine.time + (height - self.engine.height) * BLOCK_INTERVAL

    def _pay(self, v: _Victim, n: int, offset: int) -> None:
        kind = {"on_time": "on_time", "late": "late", "partial": "partial", "double": "double"}
        built = self.held.pop(v.id) if (v.stale and n == 0) else self._build_payment(v, n, offset)
        self._commit_payment(v, n, built, kind[v.plan], offset)

    def _rbf(self, v: _Victim, offset: int) -> None:
        assert v.rbf is not None
        seen, gone = v.rbf
        coin = v.coins[-1]
        change = self.engine.keys.new(v.kind)
        payment = [(v.ransom, v.amounts[0])]
        position = self.rng.randint(0, 1)
        first, _ = pay(self.rng, [coin], payment, change, 1.0, change_index=position)
        second, _ = pay(
            self.rng, [coin], payment, change, self.engine.feerate() + 20, change_index=position
        )
        self.mempool_only.append(
            MempoolOnly(first.tx, self.height_of(seen), self.height_of(gone), second.txid)
        )
        replaced = next(c for c in first.coins if c.key is v.ransom)
        seen_time = self._time_of(self.height_of(seen))
        self._record_payment(v, 0, replaced, "rbf_replaced", None, seen_time)
        self._commit_payment(v, 0, second, "rbf_replacement", offset)
        self.engine.seen_at[second.txid] = self.height_of(gone)
        self.rbf = {
            "victim": v.id,
            "address": self._addr(v.ransom),
            "replaced_txid": first.txid,
            "replaced_fee_sat": first.fee,
            "replacement_txid": second.txid,
            "replacement_fee_sat": second.fee,
            "seen_height": self.height_of(seen),
            "replaced_at_height": self.height_of(gone),
            "confirmed_height": self.height_of(offset),
        }

    # -- the extortionist ---------------------------------------------------------------------

    def _attacker_key(self) -> Key:
        key = self.engine.keys.new(ScriptType.P2WPKH)
        self.attacker.append(key)
        return key

    def _sweep(self, offset: int) -> None:
        eng = self.engine
        coins = list(self.ransom_coins)
        self.ransom_coins.clear()  # in place: deferred deliveries hold the list
        batch = self.cfg.sweep_batch
        for start in range(0, len(coins), batch):
            chunk = coins[start : start + batch]
            built, _ = pay(self.rng, chunk, [], self._attacker_key(), eng.feerate(), change_index=0)
            eng.add(built)
            eng.receive(self.sweep_coins, built.coins[0])
            self.sweeps.append(
                {
                    "txid": built.txid,
                    "height": self.height_of(offset),
                    "input_addresses": sorted({self._addr(c.key) for c in chunk}),
                    "outpoints": [f"{c.txid}:{c.vout}" for c in chunk],
                    "output_address": self._addr(built.coins[0].key),
                    "value_sat": built.coins[0].value,
                }
            )

    def _merge(self) -> None:
        eng = self.engine
        sources = (
            self.merge_coins if self.merge_coins and not self.sweep_coins else self.sweep_coins
        )
        if len(sources) == 1 and sources is self.merge_coins:
            return
        coins = list(sources)
        sources.clear()
        for start in range(0, len(coins), 200):
            chunk = coins[start : start + 200]
            built, _ = pay(self.rng, chunk, [], self._attacker_key(), eng.feerate(), change_index=0)
            eng.add(built)
            eng.receive(self.merge_coins, built.coins[0])
            self.merges.append(
                {
                    "txid": built.txid,
                    "inputs": len(chunk),
                    "output_address": self._addr(built.coins[0].key),
                    "value_sat": built.coins[0].value,
                }
            )

    def _peel(self, hop: int) -> None:
        eng, rng = self.engine, self.rng
        if self.peel_coin is None:
            if len(self.merge_coins) != 1:
                return
            self.peel_coin = self.merge_coins[0]
            self.dust_targets.append(self.peel_coin.key)
        coin = self.peel_coin
        if not self.peel_order:
            self.peel_order = list(self.exchanges)
            rng.shuffle(self.peel_order)
        ex = self.peel_order.pop()
        deposit = eng.deposit_key(ex, fresh=True)
        amount = int(coin.value * rng.uniform(0.04, 0.12))
        amount = max(200_000, amount - amount % 100_000)
        if coin.value < 2 * amount + 200_000:
            return  # too little left to peel: the rest goes to the CoinJoin
        change = self._attacker_key()
        built, pos = pay(rng, [coin], [(deposit, amount)], change, eng.feerate())
        eng.add(built)
        assert pos is not None
        vout = 1 - pos
        eng.receive(ex.deposit_coins, built.coins[vout])
        self.peel_coin = built.coins[pos]
        if hop in (2, 5):
            self.dust_targets.append(change)
        self.peels.append(
            {
                "txid": built.txid,
                "hop": hop,
                "vout": vout,
                "exchange": ex.name,
                "deposit_address": self._addr(deposit),
                "value_sat": amount,
                "change_vout": pos,
                "change_address": self._addr(change),
                "change_value_sat": built.coins[pos].value,
            }
        )

    def _coinjoin(self) -> None:
        eng, rng = self.engine, self.rng
        attacker = self.peel_coin
        if attacker is None:
            return
        feerate = eng.feerate()
        coord = eng.user_key(ScriptType.P2WPKH)
        parts: list[tuple[list[Coin], int, Key | None]] = []  # coins, equal outputs, owner
        peers = list(self.peer_coins)
        self.peer_coins.clear()  # in place: deferred deliveries hold the list
        budget = attacker.value - 40_000 - 200 * feerate
        n_attacker = max(0, min(MAX_ATTACKER_EQUAL, int(budget // (DENOMINATION * 1.0004))))
        parts.append(([attacker], n_attacker, None))
        for coin in peers:
            parts.append(([coin], 1, eng.user_key(ScriptType.P2WPKH)))
        coord_fee = sum(n for _, n, _ in parts) * DENOMINATION * 3 // 10_000
        inputs: list[Coin] = []
        outputs: list[tuple[Key, int, str]] = []  # key, value, role
        for coins, n_equal, owner in parts:
            inputs += coins
            for _ in range(n_equal):
                key = self._attacker_key() if owner is None else eng.user_key(ScriptType.P2WPKH)
                outputs.append((key, DENOMINATION, "attacker_equal" if owner is None else "equal"))
        change_keys: list[Key] = []
        scripts = [k.script for k, _, _ in outputs] + [coord.script]
        for _, _, owner in parts:
            key = owner if owner is not None else self._attacker_key()
            change_keys.append(key)
            scripts.append(key.script)
        vsize = estimate_vsize([c.key.kind for c in inputs], scripts)
        mining_fee = int(vsize * feerate)
        share = mining_fee // len(parts) + 1
        total_equal = sum(n for _, n, _ in parts)
        for (coins, n_equal, owner), key in zip(parts, change_keys, strict=True):
            coord_share = coord_fee * n_equal // max(1, total_equal)
            left = sum(c.value for c in coins) - n_equal * DENOMINATION - coord_share - share
            if left >= DUST:
                outputs.append((key, left, "attacker_change" if owner is None else "change"))
        outputs.append((coord, coord_fee, "coordinator"))
        rng.shuffle(inputs)
        rng.shuffle(outputs)
        built = build_tx(rng, inputs, [(k, v) for k, v, _ in outputs])
        eng.add(built)
        equal_vouts = [i for i, (_, _, r) in enumerate(outputs) if r == "attacker_equal"]
        change_vouts = [i for i, (_, _, r) in enumerate(outputs) if r == "attacker_change"]
        for i, (_, _, role) in enumerate(outputs):
            if not role.startswith("attacker"):
                eng.receive(eng.pool, built.coins[i])
        self.coinjoin = {
            "txid": built.txid,
            "denomination_sat": DENOMINATION,
            "participants": len(parts),
            "equal_outputs": total_equal,
            "attacker_input": f"{attacker.txid}:{attacker.vout}",
            "attacker_input_value_sat": attacker.value,
            "attacker_equal_vouts": equal_vouts,
            "attacker_change_vouts": change_vouts,
            "coordinator_address": self._addr(coord),
            "fee_sat": built.fee,
        }

    def _dust(self) -> None:
        eng, rng = self.engine, self.rng
        if not self.dust_coins or not self.dust_targets:
            return
        coin = self.dust_coins.pop(0)
        target = self.dust_targets[len(self.dust) % len(self.dust_targets)]
        value = rng.randint(DUST, 1000)
        built, pos = pay(rng, [coin], [(target, value)], eng.user_key(coin.key.kind), eng.feerate())
        eng.add(built)
        vout = 1 - pos if pos is not None else 0
        if pos is not None:
            eng.receive(eng.pool, built.coins[pos])
        self.dust.append(
            {"txid": built.txid, "vout": vout, "address": self._addr(target), "value_sat": value}
        )

    # -- exchanges ----------------------------------------------------------------------------

    def _exchange_housekeeping(self, index: int) -> None:
        eng, rng = self.engine, self.rng
        for i, ex in enumerate(self.exchanges):
            if (index + 5 * i) % 24 == 0 and ex.deposit_coins:
                eng.sweep_deposits(ex)
            if rng.random() < self.stranger_rate:
                strangers = [
                    (eng.user_key(), rng.randint(10, 5000) * 10_000)
                    for _ in range(rng.randint(2, 8))
                ]
                if sum(a for _, a in strangers) + SATS // 2 <= ex.hot_balance - ex.reserved:
                    built, vouts = eng.withdraw(ex, strangers)
                    eng.add(built)
                    for vout in vouts:
                        eng.receive(eng.pool, built.coins[vout])

    # -- results ------------------------------------------------------------------------------

    def _addr(self, key: Key) -> str:
        text = script_to_address(key.script, self.net)
        assert text is not None
        return text

    def result(self) -> dict[str, Any]:
        """The ground truth of this run (valid once every block has been yielded)."""
        cfg = self.cfg
        totals: dict[str, int] = {ex.name: 0 for ex in self.exchanges}
        for peel in self.peels:
            totals[peel["exchange"]] += peel["value_sat"]
        payment_heights = [p["height"] for p in self.payments if p["height"] is not None]
        seen = [e["seen_height"] for e in self.early] + [self.rbf.get("seen_height", 10**12)]
        first_payment = min([*payment_heights, *seen]) if payment_heights else self.height_of(0)
        merge_txid = self.merges[-1]["txid"] if self.merges else None
        return {
            "scenario": "vastaamo",
            "fictional": True,
            "seed": cfg.seed,
            "network": self.net.name,
            "victims": cfg.victims,
            "background_per_block": cfg.background,
            "first_height": self.first_height,
            "last_height": self.last_height,
            "emails_height": self.height_of(0),
            "emails_time": int(cfg.emails_at.timestamp()),
            "deadline_height": self.height_of(DEADLINE_BLOCKS),
            "first_payment_height": first_payment,
            "start_tip_height": first_payment - 1,
            "funding_blocks": self.funding_blocks,
            "tx_count": self.engine.tx_count,
            "price_source": self.price_source,
            "eur_per_btc": dict(sorted(self.rates_used.items())),
            "demand_eur": str(DEMAND_EUR),
            "late_demand_eur": str(LATE_DEMAND_EUR),
            "company_demand": {
                "address": self._addr(self.company),
                "btc": str(COMPANY_DEMAND_BTC),
                "value_sat": COMPANY_DEMAND_BTC * SATS,
                "paid": False,
            },
            "exchanges": [
                {
                    "name": ex.name,
                    "script_type": str(ex.kind),
                    "hot_wallets": [self._addr(k) for k in ex.hot],
                    "deposit_addresses": [self._addr(k) for k in ex.deposits],
                }
                for ex in self.exchanges
            ],
            "ransom_addresses": [
                {
                    "victim": v.id,
                    "address": self._addr(v.ransom),
                    "demand_eur": str(DEMAND_EUR),
                    "late_demand_eur": str(LATE_DEMAND_EUR),
                    "plan": v.plan,
                }
                for v in self.victims
            ],
            "payments": self.payments,
            "sweeps": self.sweeps,
            "merges": self.merges,
            "merge_txid": merge_txid,
            "peels": self.peels,
            "exchange_totals": totals,
            "coinjoin": self.coinjoin,
            "coinjoin_txid": self.coinjoin.get("txid"),
            "attacker_addresses": [self._addr(k) for k in self.attacker],
            "dust": self.dust,
            "dust_txids": [d["txid"] for d in self.dust],
            "mempool_early": self.early,
            "rbf": self.rbf,
            "reorg": self.reorg,
            "tagpack": tagpack(self.exchanges, self._addr, cfg.seed),
            "ransom_emails": ransom_emails(self),
        }


def tagpack(
    exchanges: Sequence[Exchange], render: Callable[[Key], str], seed: int
) -> dict[str, Any]:
    """The exchanges' hot wallets as a GraphSense TagPack (what an analyst would import)."""
    return {
        "title": "Simulated exchange hot wallets (btcwatch sim, vastaamo scenario)",
        "creator": "btcwatch sim",
        "source": f"btcwatch sim vastaamo seed={seed} (fictional exchanges)",
        "currency": "BTC",
        "lastmod": "2020-10-24",
        "tags": [
            {"address": render(k), "label": ex.name, "category": "exchange"}
            for ex in exchanges
            for k in ex.hot
        ],
    }


_EMAIL = """From: ransom_service <ransom_service@example.invalid>
To: patient-{victim:06d}@example.invalid
Date: {date}
Subject: Vastaamo patient record {victim:06d}

Hello,

We have your psychotherapy records from the clinic's database. If you want them
deleted, send bitcoin worth {demand} EUR to this address within 24 hours:

    {address}

After 24 hours the price is {late} EUR. After 48 hours your records will be published.
Buy bitcoin at any exchange. Do not contact the police.
"""

_COMPANY = """From: ransom_service <ransom_service@example.invalid>
To: management@example.invalid
Date: {date}
Subject: Your patient database

We demand {btc} BTC for not publishing your patient database. Pay to:

    {address}
"""


def ransom_emails(story: _Story) -> str:
    """One fictional e-mail per victim (plus the company demand), each naming its address."""
    when = story.cfg.emails_at
    stamp = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
    parts = [
        _COMPANY.format(
            date=(when - timedelta(days=26)).strftime("%a, %d %b %Y %H:%M:%S +0000"),
            btc=COMPANY_DEMAND_BTC,
            address=story._addr(story.company),
        )
    ]
    for v in story.victims:
        parts.append(
            _EMAIL.format(
                victim=v.id,
                date=stamp,
                demand=DEMAND_EUR,
                late=LATE_DEMAND_EUR,
                address=story._addr(v.ransom),
            )
        )
    return "\n".join(parts)


class VastaamoScenario:
    """The scenario: generate its blocks (repeatably) and read its ground truth."""

    name = "vastaamo"

    def __init__(self, config: VastaamoConfig) -> None:
        self.config = config
        self.network = config.network
        self._truth: dict[str, Any] | None = None
        self._mempool_only: list[MempoolOnly] = []
        self._blocks: list[PlannedBlock] | None = None
        self.story: _Story | None = None  # the last generation run (its coins and keys)

    def iter_blocks(self) -> Iterator[PlannedBlock]:
        """Generate the chain from the seed, block by block (stale blocks come first).

        Streaming: nothing but the scenario's own entities is kept, so a million transactions
        fit in modest memory. The ground truth is recorded as a side effect.
        """
        story = _Story(self.config)
        self.story = story
        yield from story.blocks()
        self._mempool_only = list(story.mempool_only)
        self._truth = story.result()

    @property
    def blocks(self) -> list[PlannedBlock]:
        """All blocks, kept in memory (convenient for small chains and tests)."""
        if self._blocks is None:
            self._blocks = list(self.iter_blocks())
        return self._blocks

    def mempool_only(self) -> list[MempoolOnly]:
        """Transactions broadcast but never mined (the fee-replaced payment)."""
        self.ground_truth()
        return list(self._mempool_only)

    def ground_truth(self) -> dict[str, Any]:
        if self._truth is None:
            for _ in self.iter_blocks():
                pass
        assert self._truth is not None
        return self._truth

    def default_tip(self) -> int:
        """Where a served chain starts: just before the first ransom payment is seen."""
        return int(self.ground_truth()["start_tip_height"])

    def write_ground_truth(self, path: Path | str) -> Path:
        target = Path(path)
        target.write_text(json.dumps(self.ground_truth(), indent=1) + "\n", encoding="utf-8")
        return target

    def write_tagpack(self, path: Path | str) -> Path:
        import yaml

        target = Path(path)
        text = yaml.safe_dump(self.ground_truth()["tagpack"], sort_keys=False)
        target.write_text(text, encoding="utf-8")
        return target

    def write_ransom_emails(self, path: Path | str) -> Path:
        target = Path(path)
        target.write_text(self.ground_truth()["ransom_emails"], encoding="utf-8")
        return target


def vastaamo(
    victims: int = 300,
    seed: int = 2020,
    *,
    background: int = 5,
    network: Network = MAINNET,
    eur_per_btc: EurRate | None = None,
    emails_at: datetime = EMAILS_AT,
    peel_hops: int = 8,
    coinjoin_peers: int = 30,
    sweep_batch: int = 20,
) -> VastaamoScenario:
    """The Vastaamo-like extortion scenario (see the module docstring for the story)."""
    config = VastaamoConfig(
        victims=victims,
        seed=seed,
        background=background,
        network=network,
        emails_at=emails_at,
        eur_per_btc=eur_per_btc,
        peel_hops=peel_hops,
        coinjoin_peers=coinjoin_peers,
        sweep_batch=sweep_batch,
    )
    return VastaamoScenario(config)
