"""Unrelated mempool traffic: N valid transactions that touch nothing a case watches.

Mainnet sees 3-7 new mempool transactions a second; a watch tick must cost the same whether
0 or 3,000 arrived since the last one. ``add_unrelated_mempool`` puts N such transactions into
a chain's mempool (served by ``POST /_sim/mempool?add=N``): one fan-out transaction spending a
confirmed output nobody (not even a planned block) spends, then one child per fan-out output,
to fresh keys of every common script type. They are mined by the next block like any
broadcast transaction.
"""

from __future__ import annotations

import random

from btcwatch.chain.script import ScriptType
from btcwatch.errors import InputError
from btcwatch.sim.chain import SimChain
from btcwatch.sim.records import CONFIRMED
from btcwatch.sim.wallet import ADDRESS_KINDS, Coin, build_tx, make_key

__all__ = ["add_unrelated_mempool"]

MAX_ADD = 100_000
_FEE = 300  # sat per child transaction
_EACH = 2_000  # sat per fan-out output


def _free_output(chain: SimChain, need: int) -> tuple[str, int, int]:
    """A confirmed output (txid, vout, value) of at least ``need`` sat that no tx spends."""
    used = {op for e in chain._txs.values() for op in e.ins}
    for block in reversed(list(chain.best_blocks())):
        for entry in block.entries:
            if entry.state != CONFIRMED:
                continue
            for vout, (_, value) in enumerate(entry.outs):
                if value >= need and (entry.txid, vout) not in used:
                    return entry.txid, vout, value
    raise InputError(f"no unspent confirmed output of {need} sat to fund mempool traffic")


def add_unrelated_mempool(chain: SimChain, count: int, *, seed: int = 0) -> list[str]:
    """Broadcast ``count`` unrelated, valid transactions; returns their txids."""
    if not 0 <= count <= MAX_ADD:
        raise InputError(f"add must be 0..{MAX_ADD} transactions, not {count}")
    if count == 0:
        return []
    rng = random.Random(f"btcwatch-noise-{seed}-{count}-{chain.tip_height}")

    with chain.lock:
        fanout = count - 1
        txid, vout, value = _free_output(chain, (fanout + 1) * _EACH + 10_000)
        payer = make_key(ScriptType.P2WPKH, rng.randbytes(32))
        kinds = ADDRESS_KINDS
        outputs = [
            (make_key(kinds[i % len(kinds)], rng.randbytes(32)), _EACH) for i in range(fanout)
        ]
        change = value - fanout * _EACH - 10_000
        outputs.append((make_key(ScriptType.P2WPKH, rng.randbytes(32)), change))
        parent = build_tx(rng, [Coin(txid, vout, value, payer)], outputs)
        added = [chain.broadcast(parent.tx.serialize().hex())]
        for coin in parent.coins[:fanout]:
            to = make_key(rng.choice(ADDRESS_KINDS), rng.randbytes(32))
            child = build_tx(rng, [coin], [(to, coin.value - _FEE)])
            added.append(chain.broadcast(child.tx.serialize().hex()))
    return added
