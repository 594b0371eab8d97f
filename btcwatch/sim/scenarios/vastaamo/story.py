"""One generation run of the Vastaamo story: plan it from the seed, then yield its blocks.

Planning decides every victim's fate (on time, late, partial, twice, never, replaced by fee,
confirmed in an orphaned block) and funds the exchanges; running walks the blocks from
funding to the CoinJoin, doing the victims' withdrawals and payments here and the
extortionist's moves in moves.py. The ground truth is read from the run by truth.py.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from btcwatch.chain.address import script_to_address
from btcwatch.chain.script import ScriptType
from btcwatch.sim.blocks import BLOCK_INTERVAL, MempoolOnly, PlannedBlock, estimated_height
from btcwatch.sim.scenarios.engine import COINBASE_MATURITY, Engine, Exchange
from btcwatch.sim.scenarios.vastaamo import moves
from btcwatch.sim.scenarios.vastaamo.config import (
    DEADLINE_BLOCKS,
    DEMAND_EUR,
    LATE_DEMAND_EUR,
    LATE_END,
    MERGE_OFFSET,
    PEEL_OFFSET,
    SATS,
    SWEEP_OFFSETS,
    VastaamoConfig,
    default_eur_per_btc,
)
from btcwatch.sim.wallet import DUST, Built, Coin, Key, pay

__all__ = ["Story"]

_VICTIM_KINDS = (
    ScriptType.P2WPKH,
    ScriptType.P2SH,
    ScriptType.P2PKH,
    ScriptType.P2TR,
    ScriptType.P2WSH,
)
_VICTIM_WEIGHTS = (45, 25, 20, 5, 5)
_SMALL_PLANS = ("on_time", "late", "rbf", "partial", "double", "never", "on_time")


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


class Story:
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
            moves.sweep(self, offset)
        if offset in (MERGE_OFFSET, MERGE_OFFSET + 2):
            moves.merge(self)
        if PEEL_OFFSET <= offset < self.cj_offset - 3 and (offset - PEEL_OFFSET) % 3 == 0:
            moves.peel(self, 1 + (offset - PEEL_OFFSET) // 3)
        if offset == self.cj_offset:
            moves.coinjoin(self)
        for _ in range(self.dust_offsets.get(offset, 0)):
            moves.dust(self)
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
                "address": self.addr(v.ransom),
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
            "address": self.addr(v.ransom),
            "replaced_txid": first.txid,
            "replaced_fee_sat": first.fee,
            "replacement_txid": second.txid,
            "replacement_fee_sat": second.fee,
            "seen_height": self.height_of(seen),
            "replaced_at_height": self.height_of(gone),
            "confirmed_height": self.height_of(offset),
        }

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

    def addr(self, key: Key) -> str:
        text = script_to_address(key.script, self.net)
        assert text is not None
        return text
