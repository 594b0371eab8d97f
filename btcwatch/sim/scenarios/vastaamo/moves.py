"""The extortionist's moves in the Vastaamo story: sweeps, merges, a peel chain, a CoinJoin.

Each function takes the running `Story` (story.py) and adds its transactions to the story's
engine, recording what it did for the ground truth: the ransom addresses are swept in
co-spending batches, the sweeps merged, payments to exchange deposit addresses peeled off a
chain of 1-in-2-out transactions, the rest mixed in an equal-output CoinJoin; a stranger
sends dust to some of the attacker's addresses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from btcwatch.chain.script import ScriptType
from btcwatch.sim.scenarios.vastaamo.config import DENOMINATION, MAX_ATTACKER_EQUAL
from btcwatch.sim.wallet import DUST, Coin, Key, build_tx, estimate_vsize, pay

if TYPE_CHECKING:
    from btcwatch.sim.scenarios.vastaamo.story import Story

__all__ = ["attacker_key", "coinjoin", "dust", "merge", "peel", "sweep"]


def attacker_key(story: Story) -> Key:
    """A fresh address of the attacker's (listed in the ground truth)."""
    key = story.engine.keys.new(ScriptType.P2WPKH)
    story.attacker.append(key)
    return key


def sweep(story: Story, offset: int) -> None:
    eng = story.engine
    coins = list(story.ransom_coins)
    story.ransom_coins.clear()  # in place: deferred deliveries hold the list
    batch = story.cfg.sweep_batch
    for start in range(0, len(coins), batch):
        chunk = coins[start : start + batch]
        built, _ = pay(story.rng, chunk, [], attacker_key(story), eng.feerate(), change_index=0)
        eng.add(built)
        eng.receive(story.sweep_coins, built.coins[0])
        story.sweeps.append(
            {
                "txid": built.txid,
                "height": story.height_of(offset),
                "input_addresses": sorted({story.addr(c.key) for c in chunk}),
                "outpoints": [f"{c.txid}:{c.vout}" for c in chunk],
                "output_address": story.addr(built.coins[0].key),
                "value_sat": built.coins[0].value,
            }
        )


def merge(story: Story) -> None:
    eng = story.engine
    sources = (
        story.merge_coins if story.merge_coins and not story.sweep_coins else story.sweep_coins
    )
    if len(sources) == 1 and sources is story.merge_coins:
        return
    coins = list(sources)
    sources.clear()
    for start in range(0, len(coins), 200):
        chunk = coins[start : start + 200]
        built, _ = pay(story.rng, chunk, [], attacker_key(story), eng.feerate(), change_index=0)
        eng.add(built)
        eng.receive(story.merge_coins, built.coins[0])
        story.merges.append(
            {
                "txid": built.txid,
                "inputs": len(chunk),
                "output_address": story.addr(built.coins[0].key),
                "value_sat": built.coins[0].value,
            }
        )


def peel(story: Story, hop: int) -> None:
    eng, rng = story.engine, story.rng
    if story.peel_coin is None:
        if len(story.merge_coins) != 1:
            return
        story.peel_coin = story.merge_coins[0]
        story.dust_targets.append(story.peel_coin.key)
    coin = story.peel_coin
    if not story.peel_order:
        story.peel_order = list(story.exchanges)
        rng.shuffle(story.peel_order)
    ex = story.peel_order.pop()
    deposit = eng.deposit_key(ex, fresh=True)
    amount = int(coin.value * rng.uniform(0.04, 0.12))
    amount = max(200_000, amount - amount % 100_000)
    if coin.value < 2 * amount + 200_000:
        return  # too little left to peel: the rest goes to the CoinJoin
    change = attacker_key(story)
    built, pos = pay(rng, [coin], [(deposit, amount)], change, eng.feerate())
    eng.add(built)
    assert pos is not None
    vout = 1 - pos
    eng.receive(ex.deposit_coins, built.coins[vout])
    story.peel_coin = built.coins[pos]
    if hop in (2, 5):
        story.dust_targets.append(change)
    story.peels.append(
        {
            "txid": built.txid,
            "hop": hop,
            "vout": vout,
            "exchange": ex.name,
            "deposit_address": story.addr(deposit),
            "value_sat": amount,
            "change_vout": pos,
            "change_address": story.addr(change),
            "change_value_sat": built.coins[pos].value,
        }
    )


def coinjoin(story: Story) -> None:
    eng, rng = story.engine, story.rng
    attacker = story.peel_coin
    if attacker is None:
        return
    feerate = eng.feerate()
    coord = eng.user_key(ScriptType.P2WPKH)
    parts: list[tuple[list[Coin], int, Key | None]] = []  # coins, equal outputs, owner
    peers = list(story.peer_coins)
    story.peer_coins.clear()  # in place: deferred deliveries hold the list
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
            key = attacker_key(story) if owner is None else eng.user_key(ScriptType.P2WPKH)
            outputs.append((key, DENOMINATION, "attacker_equal" if owner is None else "equal"))
    change_keys: list[Key] = []
    scripts = [k.script for k, _, _ in outputs] + [coord.script]
    for _, _, owner in parts:
        key = owner if owner is not None else attacker_key(story)
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
    story.coinjoin = {
        "txid": built.txid,
        "denomination_sat": DENOMINATION,
        "participants": len(parts),
        "equal_outputs": total_equal,
        "attacker_input": f"{attacker.txid}:{attacker.vout}",
        "attacker_input_value_sat": attacker.value,
        "attacker_equal_vouts": equal_vouts,
        "attacker_change_vouts": change_vouts,
        "coordinator_address": story.addr(coord),
        "fee_sat": built.fee,
    }


def dust(story: Story) -> None:
    eng, rng = story.engine, story.rng
    if not story.dust_coins or not story.dust_targets:
        return
    coin = story.dust_coins.pop(0)
    target = story.dust_targets[len(story.dust) % len(story.dust_targets)]
    value = rng.randint(DUST, 1000)
    built, pos = pay(rng, [coin], [(target, value)], eng.user_key(coin.key.kind), eng.feerate())
    eng.add(built)
    vout = 1 - pos if pos is not None else 0
    if pos is not None:
        eng.receive(eng.pool, built.coins[pos])
    story.dust.append(
        {"txid": built.txid, "vout": vout, "address": story.addr(target), "value_sat": value}
    )
