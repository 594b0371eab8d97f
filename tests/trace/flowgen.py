"""A deterministic, varied money flow for checking that faster analysis gives the same answers.

Every heuristic should have something to say: peels, round payments, change back to an input
address, mixed script types, OP_RETURN outputs, multi-input spends of one owner, a Whirlpool
CoinJoin, a wide batch payout (fan-out limit) and a sweep into a tagged exchange wallet.
Txids and addresses come from seeds (tracedata), so the flow is the same on every run.
"""

from __future__ import annotations

import random

from tracedata import address, make_tx, script

from btcwatch.chain.address import address_to_script
from btcwatch.chain.script import classify
from btcwatch.model import BlockRef, OutPoint, Tx, TxIn, TxOut
from btcwatch.tags import Tag
from btcwatch.trace.tagindex import TagIndex

KINDS = ("p2wpkh", "p2wpkh", "p2wpkh", "p2tr", "p2sh", "p2pkh", "p2wsh")
EXCHANGE_HOT = address("p2wpkh", "exchange-hot")
MIXER = address("p2wpkh", "mixer-in")


def tags() -> TagIndex:
    return TagIndex(
        imported=[
            Tag(
                EXCHANGE_HOT,
                "Exchange hot wallet",
                "exchange",
                "test",
                90,
                "Exchange",
                True,
                "test",
            ),
            Tag(MIXER, "Mixer", "mixer", "test", 90, "Mixer", True, "test"),
        ]
    )


def random_flow(seed: int = 7, size: int = 400) -> tuple[list[tuple[OutPoint, int]], dict[str, Tx]]:
    """(sources as (outpoint, value), txs by id): a random spending DAG from one ransom tx."""
    rng = random.Random(seed)
    block = BlockRef(800_000, "00" * 32, 1_700_000_000)
    ransom = make_tx("ransom", [(50_000_000_000, "victims")], [(4_000_000_000, "ransom", "p2wpkh")])
    ransom = Tx(ransom.txid, 2, 0, ransom.inputs, ransom.outputs, block)
    txs: dict[str, Tx] = {ransom.txid: ransom}
    # unspent coins the criminal holds: (outpoint, value, owner seed, kind)
    coins: list[tuple[OutPoint, int, str, str]] = [
        (ransom.outpoint(0), 4_000_000_000, "ransom", "p2wpkh")
    ]
    counter = 0

    def coin_in(c: tuple[OutPoint, int, str, str]) -> TxIn:
        op, value, owner, kind = c
        return TxIn(op, 0xFFFFFFFD, value, script(kind, owner), address(kind, owner))

    def add(inputs: list[TxIn], outs: list[TxOut], height: int) -> Tx:
        nonlocal counter
        counter += 1
        name = f"flow-{seed}-{counter}"
        txid = make_tx(name, [], []).txid
        tx = Tx(
            txid,
            2,
            0,
            tuple(inputs),
            tuple(outs),
            BlockRef(height, "00" * 32, 1_700_000_000 + height),
        )
        txs[txid] = tx
        return tx

    def out(value: int, owner: str, kind: str) -> TxOut:
        return TxOut(value, script(kind, owner), address(kind, owner))

    def tagged(value: int, to: str) -> TxOut:
        return TxOut(value, address_to_script(to), to)

    while counter < size and coins:
        rng.shuffle(coins)
        c = coins.pop()
        height = 800_001 + counter
        _, value, owner, kind = c
        if value < 20_000:
            continue
        shape = rng.random()
        fee = rng.choice((141, 200, 1_000, 2_210))
        if shape < 0.35:  # peel: small payment, change of the same kind (mostly)
            peel = rng.choice((rng.randint(1_000, value // 20), 100_000, 1_000_000, value // 50))
            peel = max(546, min(peel, value // 10))
            change_kind = kind if rng.random() < 0.8 else rng.choice(KINDS)
            payee, payee_kind = f"payee-{counter}", rng.choice(KINDS)
            first = tagged(peel, MIXER) if rng.random() < 0.05 else out(peel, payee, payee_kind)
            keep = value - peel - fee
            outs = [first, out(keep, f"change-{counter}", change_kind)]
            if rng.random() < 0.5:
                outs.reverse()
            tx = add([coin_in(c)], outs, height)
            coins.append((tx.outpoint(_vout_of(tx, keep)), keep, f"change-{counter}", change_kind))
            if rng.random() < 0.3 and first.address != MIXER:
                coins.append((tx.outpoint(_vout_of(tx, peel)), peel, payee, payee_kind))
        elif shape < 0.5:  # split into 2-4 parts, some round, maybe back to the input address
            parts = rng.randint(2, 4)
            each = (value - fee) // parts
            values = [each] * (parts - 1) + [value - fee - each * (parts - 1)]
            if rng.random() < 0.5:
                values[0] = (values[0] // 1_000_000) * 1_000_000 or values[0]
                values[-1] = value - fee - sum(values[:-1])
            owners = [(f"split-{counter}-{i}", rng.choice(KINDS)) for i in range(parts)]
            if rng.random() < 0.3:
                owners[-1] = (owner, kind)  # change back to the sender's address
            outs = [out(v, o, k) for v, (o, k) in zip(values, owners, strict=True)]
            if rng.random() < 0.2:
                outs.append(TxOut(0, b"\x6a\x04test", None))  # OP_RETURN data carrier
            tx = add([coin_in(c)], outs, height)
            for vout, (v, (o, k)) in enumerate(zip(values, owners, strict=True)):
                coins.append((tx.outpoint(vout), v, o, k))
        elif shape < 0.65 and coins:  # merge with another coin (same owner sometimes)
            other = coins.pop()
            inputs = [coin_in(c), coin_in(other)]
            total = value + other[1]
            pay = rng.choice((total // 3, 10_000_000, 25_000_000))
            pay = min(pay, total // 2)
            outs = [
                out(pay, f"merge-pay-{counter}", rng.choice(KINDS)),
                out(total - pay - fee, f"merge-change-{counter}", kind),
            ]
            tx = add(inputs, outs, height)
            coins.append((tx.outpoint(1), total - pay - fee, f"merge-change-{counter}", kind))
            if rng.random() < 0.5:
                coins.append((tx.outpoint(0), pay, f"merge-pay-{counter}", _kind_of(outs[0])))
        elif shape < 0.72 and value > 200_000:  # a Whirlpool-like mix with 4 strangers
            pool = 1_000_000 if value > 1_100_000 else 100_000
            strangers = [
                TxIn(
                    OutPoint(make_tx(f"stranger-{counter}-{i}", [], []).txid, 0),
                    0xFFFFFFFD,
                    pool + 5_000,
                    script("p2wpkh", f"stranger-{counter}-{i}"),
                    address("p2wpkh", f"stranger-{counter}-{i}"),
                )
                for i in range(4)
            ]
            outs = [out(pool, f"mix-{counter}-{i}", "p2wpkh") for i in range(5)]
            premix = TxIn(c[0], 0xFFFFFFFD, pool + 5_000, script(kind, owner), address(kind, owner))
            if value != pool + 5_000:
                # first cut a premix output of the right size
                cut = add(
                    [coin_in(c)],
                    [
                        out(pool + 5_000, f"premix-{counter}", "p2wpkh"),
                        out(value - pool - 5_000 - fee, f"premix-change-{counter}", kind),
                    ],
                    height,
                )
                premix = TxIn(
                    cut.outpoint(0),
                    0xFFFFFFFD,
                    pool + 5_000,
                    script("p2wpkh", f"premix-{counter}"),
                    address("p2wpkh", f"premix-{counter}"),
                )
                coins.append(
                    (cut.outpoint(1), value - pool - 5_000 - fee, f"premix-change-{counter}", kind)
                )
            add([premix, *strangers], outs, height + 1)
        elif shape < 0.77:  # a batch payout wider than max_fanout
            n = rng.randint(21, 40)
            each = (value - fee) // (n + 1)
            outs = [out(each, f"batch-{counter}-{i}", rng.choice(KINDS)) for i in range(n)]
            outs.append(out(value - fee - each * n, f"batch-change-{counter}", kind))
            add([coin_in(c)], outs, height)
        elif shape < 0.82:  # deposit at the exchange, swept into its hot wallet
            dep = add([coin_in(c)], [out(value - fee, f"deposit-{counter}", "p2wpkh")], height)
            others = [
                TxIn(
                    OutPoint(make_tx(f"customer-{counter}-{i}", [], []).txid, 0),
                    0xFFFFFFFD,
                    2_000_000,
                    script("p2wpkh", f"customer-{counter}-{i}"),
                    address("p2wpkh", f"customer-{counter}-{i}"),
                )
                for i in range(3)
            ]
            sweep_in = [
                TxIn(
                    dep.outpoint(0),
                    0xFFFFFFFD,
                    value - fee,
                    script("p2wpkh", f"deposit-{counter}"),
                    address("p2wpkh", f"deposit-{counter}"),
                ),
                *others,
            ]
            add(sweep_in, [tagged(value + 6_000_000 - 2 * fee, EXCHANGE_HOT)], height + 1)
        else:  # a plain payment with change of another kind, round or not
            pay = rng.choice(
                (value // 2, 50_000_000, 5_000_000, rng.randint(10_000, max(10_001, value // 3)))
            )
            pay = min(pay, value // 2)
            outs = [
                out(pay, f"pay-{counter}", rng.choice(KINDS)),
                out(value - pay - fee, f"keep-{counter}", rng.choice(KINDS)),
            ]
            tx = add([coin_in(c)], outs, height)
            coins.append(
                (tx.outpoint(1), value - pay - fee, f"keep-{counter}", _kind_of(tx.outputs[1]))
            )
    return [(ransom.outpoint(0), 4_000_000_000)], txs


def _vout_of(tx: Tx, value: int) -> int:
    return next(vout for vout, o in enumerate(tx.outputs) if o.value == value)


def _kind_of(o: TxOut) -> str:
    return str(classify(o.script))
