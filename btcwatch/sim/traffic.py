"""Mainnet-like unrelated traffic: a deterministic stream of byte-valid transactions.

The mainnet profile (`btcwatch.sim.mainnet`) feeds this stream into the mempool at a rate in
simulated time and mines it into ~3,000-transaction blocks. Each call to `Traffic.next()`
makes the next transaction of the stream from one seeded RNG, so the n-th transaction is
always the same for a seed. Transactions are encoded straight to bytes (no `RawTx` objects)
from fresh keys, fake well-formed signatures and witness templates, about 20-40 us each.

The economy is closed: users start from coins the scenario funded, pay each other (today's
output mix: mostly P2WPKH, then P2TR, P2SH, P2PKH, P2WSH, some OP_RETURN), deposit to
exchanges, which consolidate 100+ deposits into a reused hot wallet address and pay users out
in batches of 100-300 outputs; a few Ordinals-style reveals carry kilobytes of witness. A coin
is spent only some 300 transactions after it was created, so unconfirmed chains stay short.
"""

from __future__ import annotations

import hashlib
import random
import threading
from bisect import bisect
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from btcwatch.chain.script import ScriptType
from btcwatch.sim.wallet import DUST, Coin, Key, unlock

__all__ = ["OUTPUT_MIX", "StreamTx", "Traffic", "TrafficExchange", "der_sig", "encode_tx"]

#: Share of outputs by type on mainnet in 2024 (OP_RETURN is added on top, to ~3% of txs).
OUTPUT_MIX: tuple[tuple[ScriptType, int], ...] = (
    (ScriptType.P2WPKH, 52),
    (ScriptType.P2TR, 22),
    (ScriptType.P2SH, 11),
    (ScriptType.P2PKH, 9),
    (ScriptType.P2WSH, 6),
)
_KINDS = tuple(k for k, _ in OUTPUT_MIX)
_CUM = tuple(sum(w for _, w in OUTPUT_MIX[: i + 1]) for i in range(len(OUTPUT_MIX)))
_READY_AFTER = 300  # a new coin is spent only this many stream txs later
_MIN_COIN = 30_000
_SEQ = (0xFFFFFFFD).to_bytes(4, "little")
_VERSION = (2).to_bytes(4, "little")
_LOCKTIME = bytes(4)
_ORD = b"\x03ord\x01\x01\x18text/plain;charset=utf-8\x00"

# A spendable coin of the stream: (txid, vout, value, kind, material). ``material`` is the
# public key (P2PKH, P2SH-P2WPKH, P2WPKH), the witness script (P2WSH), b"" (P2TR), or the
# scenario's `Key` for coins the scenario funded.
_Coin = tuple[str, int, int, ScriptType, "bytes | Key"]


def _varint(n: int) -> bytes:
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    return b"\xfe" + n.to_bytes(4, "little")


def _push(data: bytes) -> bytes:
    n = len(data)
    if n <= 75:
        return bytes((n,)) + data
    if n <= 0xFF:
        return b"\x4c" + bytes((n,)) + data
    return b"\x4d" + n.to_bytes(2, "little") + data


def _hash160(data: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def der_sig(rng: random.Random) -> bytes:
    """A strict-DER-shaped ECDSA signature with SIGHASH_ALL that verifies nothing."""
    rb = rng.randbytes(64)
    return (
        b"\x30\x44\x02\x20"
        + bytes(((rb[0] & 0x3F) | 0x10,))
        + rb[1:32]
        + b"\x02\x20"
        + bytes(((rb[32] & 0x3F) | 0x10,))
        + rb[33:]
        + b"\x01"
    )


def encode_tx(
    ins: Sequence[tuple[str, int]],
    unlocks: Sequence[tuple[bytes, tuple[bytes, ...]]],
    outputs: Sequence[tuple[bytes, int]],
) -> tuple[str, bytes, int]:
    """(txid, raw bytes, weight) of a version-2 transaction, serialised directly."""
    ins_b = [_varint(len(ins))]
    for (txid, vout), (script_sig, _) in zip(ins, unlocks, strict=True):
        ins_b.append(
            bytes.fromhex(txid)[::-1]
            + vout.to_bytes(4, "little")
            + _varint(len(script_sig))
            + script_sig
            + _SEQ
        )
    outs_b = [_varint(len(outputs))]
    outs_b += [v.to_bytes(8, "little") + _varint(len(s)) + s for s, v in outputs]
    body = b"".join(ins_b) + b"".join(outs_b)
    base = _VERSION + body + _LOCKTIME
    txid_hex = hashlib.sha256(hashlib.sha256(base).digest()).digest()[::-1].hex()
    if any(w for _, w in unlocks):
        wit = b"".join(
            _varint(len(w)) + b"".join(_varint(len(i)) + i for i in w) for _, w in unlocks
        )
        raw = _VERSION + b"\x00\x01" + body + wit + _LOCKTIME
    else:
        raw = base
    return txid_hex, raw, 3 * len(base) + len(raw)


@dataclass(slots=True)
class StreamTx:
    """One generated transaction in the form SimChain indexes."""

    txid: str
    raw: bytes
    ins: tuple[tuple[str, int], ...]
    outs: tuple[tuple[bytes, int], ...]
    fee: int
    weight: int
    kind: str  # "payment", "deposit", "consolidation", "batch", "inscription", "op_return"


@dataclass(slots=True)
class TrafficExchange:
    """An exchange in the stream: one reused hot wallet address, deposits waiting a sweep."""

    name: str
    hot: Key
    hot_coins: list[_Coin] = field(default_factory=list)
    deposits: list[_Coin] = field(default_factory=list)
    kind: ScriptType = ScriptType.P2WPKH
    sweep_at: int = 120


class Traffic:
    """The stream: ``next()`` returns transaction number ``count`` and advances."""

    def __init__(
        self,
        seed: int,
        coins: Sequence[Coin],
        exchanges: Sequence[tuple[str, Key, Sequence[Coin]]] = (),
    ) -> None:
        if not coins:
            raise ValueError("traffic needs funded coins to start from")
        self.rng = random.Random(seed)
        self.count = 0
        self.pool: list[_Coin] = [(c.txid, c.vout, c.value, c.key.kind, c.key) for c in coins]
        self.target = 3 * len(self.pool) // 2
        self.pending: deque[tuple[int, _Coin]] = deque()
        self.exchanges = [
            TrafficExchange(
                name,
                key,
                [(c.txid, c.vout, c.value, key.kind, key) for c in hot],
                kind=key.kind,
                sweep_at=self.rng.randint(100, 180),
            )
            for name, key, hot in exchanges
        ]
        self.kinds: dict[str, int] = {}
        self.made: list[StreamTx] = []
        self._lock = threading.Lock()

    def at(self, index: int) -> StreamTx:
        """Transaction ``index`` of the stream (0 first), made once and kept, so that several
        chains over the same story share one stream."""
        with self._lock:
            made = self.made
            while len(made) <= index:
                made.append(self.next())
            return made[index]

    # -- keys and unlocking -------------------------------------------------------------------

    def _key(self, kind: ScriptType) -> tuple[bytes, bytes]:
        """(scriptPubKey, material) of a fresh key of ``kind``."""
        rb = self.rng.randbytes(33)
        if kind is ScriptType.P2TR:
            return b"\x51\x20" + rb[1:], b""
        pub = bytes((2 | (rb[0] & 1),)) + rb[1:]
        if kind is ScriptType.P2WPKH:
            return b"\x00\x14" + _hash160(pub), pub
        if kind is ScriptType.P2PKH:
            return b"\x76\xa9\x14" + _hash160(pub) + b"\x88\xac", pub
        if kind is ScriptType.P2SH:
            return b"\xa9\x14" + _hash160(b"\x00\x14" + _hash160(pub)) + b"\x87", pub
        keys = pub + self.rng.randbytes(33) + self.rng.randbytes(33)
        ws = b"\x52" + b"".join(b"\x21" + keys[i : i + 33] for i in (0, 33, 66)) + b"\x53\xae"
        return b"\x00\x20" + hashlib.sha256(ws).digest(), ws

    def _sig(self) -> bytes:
        return der_sig(self.rng)

    def _unlock(self, coin: _Coin) -> tuple[bytes, tuple[bytes, ...]]:
        kind, material = coin[3], coin[4]
        if isinstance(material, Key):
            return unlock(material, self.rng)
        if kind is ScriptType.P2TR:
            return b"", (self.rng.randbytes(64),)
        if kind is ScriptType.P2WSH:
            return b"", (b"", self._sig(), self._sig(), material)
        if kind is ScriptType.P2PKH:
            return _push(self._sig()) + _push(material), ()
        if kind is ScriptType.P2SH:
            return b"\x16\x00\x14" + _hash160(material), (self._sig(), material)
        return b"", (self._sig(), material)

    # -- encoding -----------------------------------------------------------------------------

    def _make(
        self,
        coins: Sequence[_Coin],
        unlocks: Sequence[tuple[bytes, tuple[bytes, ...]]],
        outputs: Sequence[tuple[bytes, int]],
        kind: str,
    ) -> StreamTx:
        ins = tuple((c[0], c[1]) for c in coins)
        txid, raw, weight = encode_tx(ins, unlocks, outputs)
        fee = sum(c[2] for c in coins) - sum(v for _, v in outputs)
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        return StreamTx(txid, raw, ins, tuple(outputs), fee, weight, kind)

    @staticmethod
    def _vsize(unlocks: Sequence[tuple[bytes, tuple[bytes, ...]]], scripts: Sequence[bytes]) -> int:
        base = 10 + sum(41 + len(s) for s, _ in unlocks) + sum(9 + len(s) for s in scripts)
        if len(scripts) >= 0xFD:
            base += 2
        if len(unlocks) >= 0xFD:
            base += 2
        wit = sum(1 + sum(1 + len(i) + (2 if len(i) > 0xFC else 0) for i in w) for _, w in unlocks)
        wit = wit + 2 if any(w for _, w in unlocks) else 0
        return (4 * base + wit + 3) // 4

    # -- the stream ---------------------------------------------------------------------------

    def _feerate(self) -> float:
        return min(300.0, max(1.0, self.rng.lognormvariate(2.0, 0.7)))

    def _take(self) -> _Coin:
        pool, rng = self.pool, self.rng
        i = rng.randrange(len(pool))
        coin = pool[i]
        pool[i] = pool[-1]
        pool.pop()
        return coin

    def _receive(self, coin: _Coin) -> None:
        self.pending.append((self.count + _READY_AFTER, coin))

    def _finish(
        self,
        tx: StreamTx,
        sinks: Sequence[list[_Coin] | None],
        kinds: Sequence[tuple[ScriptType, bytes | Key] | None],
    ) -> StreamTx:
        for vout, ((_, value), sink, km) in enumerate(zip(tx.outs, sinks, kinds, strict=True)):
            if km is None:
                continue
            coin = (tx.txid, vout, value, km[0], km[1])
            if sink is None:
                self._receive(coin)
            else:
                sink.append(coin)
        return tx

    def next(self) -> StreamTx:
        """The next transaction of the stream (use `at` to share it between chains)."""
        self.count += 1
        while self.pending and self.pending[0][0] <= self.count:
            self.pool.append(self.pending.popleft()[1])
        rng = self.rng
        for ex in self.exchanges:
            if len(ex.deposits) >= ex.sweep_at:
                ex.sweep_at = rng.randint(100, 180)
                return self._consolidate(ex)
        if self.exchanges and rng.random() < 1 / 900:
            ex = rng.choice(self.exchanges)
            if sum(c[2] for c in ex.hot_coins) > 150_000_000:
                return self._batch(ex)
        return self._payment()

    def _payment(self) -> StreamTx:
        rng = self.rng
        size = len(self.pool)
        if size < 8:  # keep the stream alive whatever happens: wait for pending coins
            while self.pending and len(self.pool) < 8:
                self.pool.append(self.pending.popleft()[1])
        n_in = rng.choice((1, 1, 2, 2, 3) if size < self.target else (1, 2, 2, 3, 5))
        coins = [self._take() for _ in range(min(n_in, len(self.pool)))]
        while sum(c[2] for c in coins) < _MIN_COIN and self.pool:
            coins.append(self._take())
        single = len(coins) == 1 and coins[0][2] >= 20_000
        if single and coins[0][3] is ScriptType.P2TR and rng.random() < 0.5:
            return self._inscription(coins[0])
        unlocks = [self._unlock(c) for c in coins]
        total = sum(c[2] for c in coins)
        feerate = self._feerate()
        outs: list[tuple[ScriptType, bytes, bytes]] = []
        sinks: list[list[_Coin] | None] = []
        deposit = None
        if self.exchanges and rng.random() < 0.05:
            deposit = rng.choice(self.exchanges)
            script, material = self._key(deposit.kind)
            outs.append((deposit.kind, script, material))
            sinks.append(deposit.deposits)
        else:
            n_pay = 1 if rng.random() < 0.75 else rng.randint(2, 5)
            for _ in range(n_pay):
                kind = _KINDS[bisect(_CUM, rng.random() * _CUM[-1])]
                script, material = self._key(kind)
                outs.append((kind, script, material))
                sinks.append(None)
        change_kind = coins[0][3]
        change = self._key(change_kind)
        op_return = rng.random() < 0.03
        scripts = [s for _, s, _ in outs] + [change[0]]
        if op_return:
            scripts.append(b"\x6a\x14" + rng.randbytes(20))
        fee = int(self._vsize(unlocks, scripts) * feerate)
        spendable = total - fee - DUST
        if spendable < 2 * DUST * len(outs):  # too little to pay anyone: one output
            value = total - int(self._vsize(unlocks, scripts[-1:]) * feerate)
            value = max(value, DUST)
            tx = self._make(coins, unlocks, [(change[0], value)], "payment")
            return self._finish(tx, [None], [(change_kind, change[1])])
        share = spendable * rng.uniform(0.05, 0.8) / len(outs)
        values = [max(DUST, int(share * rng.uniform(0.5, 1.5))) for _ in outs]
        if sum(values) > spendable:
            values = [DUST] * len(outs)
        if rng.random() < 0.3:
            values = [max(DUST, v - v % 10_000) for v in values]
        change_value = total - fee - sum(values)
        outputs = [(s, v) for (_, s, _), v in zip(outs, values, strict=True)]
        kinds: list[tuple[ScriptType, bytes | Key] | None] = [(k, m) for k, _, m in outs]
        position = rng.randint(0, len(outputs))
        outputs.insert(position, (change[0], change_value))
        sinks.insert(position, None)
        kinds.insert(position, (change_kind, change[1]))
        if op_return:
            outputs.append((scripts[-1], 0))
            sinks.append(None)
            kinds.append(None)
        tx = self._make(coins, unlocks, outputs, "deposit" if deposit else "payment")
        if op_return:
            tx.kind = "op_return"
        return self._finish(tx, sinks, kinds)

    def _inscription(self, coin: _Coin) -> StreamTx:
        """An Ordinals-style reveal: a taproot script-path spend with kilobytes of witness."""
        rng = self.rng
        content = rng.randbytes(rng.randint(300, 2_000))
        chunks = b"".join(_push(content[i : i + 520]) for i in range(0, len(content), 520))
        script = b"\x20" + rng.randbytes(32) + b"\xac\x00\x63" + _ORD + chunks + b"\x68"
        control = b"\xc0" + rng.randbytes(32)
        unlocks = [(b"", (rng.randbytes(64), script, control))]
        postage = self._key(ScriptType.P2TR)
        fee = int(self._vsize(unlocks, [postage[0], postage[0]]) * self._feerate())
        left = coin[2] - fee - 546
        if left >= DUST:
            change = self._key(ScriptType.P2TR)
            outputs = [(postage[0], 546), (change[0], left)]
            kinds: list[tuple[ScriptType, bytes | Key] | None] = [
                (ScriptType.P2TR, b""),
                (ScriptType.P2TR, b""),
            ]
        else:
            outputs = [(postage[0], max(DUST, coin[2] - fee))]
            kinds = [(ScriptType.P2TR, b"")]
        tx = self._make([coin], unlocks, outputs, "inscription")
        return self._finish(tx, [None] * len(outputs), kinds)

    def _consolidate(self, ex: TrafficExchange) -> StreamTx:
        """Sweep every waiting deposit (100+ inputs) into the exchange's reused hot address."""
        coins = list(ex.deposits)
        ex.deposits.clear()
        unlocks = [self._unlock(c) for c in coins]
        total = sum(c[2] for c in coins)
        fee = int(self._vsize(unlocks, [ex.hot.script]) * max(1.0, self._feerate() / 2))
        value = max(DUST, total - fee)  # dust deposits: the sweep pays what it can
        tx = self._make(coins, unlocks, [(ex.hot.script, value)], "consolidation")
        ex.hot_coins.append((tx.txid, 0, value, ex.kind, ex.hot))
        return tx

    def _batch(self, ex: TrafficExchange) -> StreamTx:
        """A batched withdrawal: 100-300 users paid at once, change back to the hot address."""
        rng = self.rng
        ex.hot_coins.sort(key=lambda c: c[2])
        coins = [ex.hot_coins.pop()]
        while ex.hot_coins and sum(c[2] for c in coins) < 150_000_000:
            coins.append(ex.hot_coins.pop())
        total = sum(c[2] for c in coins)
        n_out = rng.randint(100, 300)
        payees = [self._key(_KINDS[bisect(_CUM, rng.random() * _CUM[-1])]) for _ in range(n_out)]
        kinds_out = [(_kind_of(s), m) for s, m in payees]
        unlocks = [self._unlock(c) for c in coins]
        scripts = [s for s, _ in payees] + [ex.hot.script]
        fee = int(self._vsize(unlocks, scripts) * self._feerate())
        budget = (total - fee) * rng.uniform(0.3, 0.7)
        values = [max(DUST, int(budget / n_out * rng.uniform(0.2, 1.8))) for _ in range(n_out)]
        change = total - fee - sum(values)
        outputs = [(s, v) for (s, _), v in zip(payees, values, strict=True)]
        outputs.append((ex.hot.script, change))
        tx = self._make(coins, unlocks, outputs, "batch")
        ex.hot_coins.append((tx.txid, n_out, change, ex.kind, ex.hot))
        kinds: list[tuple[ScriptType, bytes | Key] | None] = [*kinds_out, None]
        return self._finish(tx, [None] * len(outputs), kinds)


def _kind_of(script: bytes) -> ScriptType:
    if script[0] == 0x51:
        return ScriptType.P2TR
    if script[0] == 0x76:
        return ScriptType.P2PKH
    if script[0] == 0xA9:
        return ScriptType.P2SH
    return ScriptType.P2WPKH if len(script) == 22 else ScriptType.P2WSH
