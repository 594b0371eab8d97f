"""Peel chains: single steps, and chains found in a real block and in built flows."""

from __future__ import annotations

from tracedata import block_txs, make_tx

from btcwatch.model import OutPoint, Tx
from btcwatch.trace.peel import find_peel_chains, is_peel_step, spends_of

LUCKYBIT = "1LuckyR1fFHEsXYyx5QK4UFzv3PEAepPMK"


def _real_peels() -> dict[str, Tx]:
    return {tx.txid: tx for label, tx in block_txs() if label == "peel"}


def test_real_chain_of_bets_in_block_277647() -> None:
    chains = find_peel_chains(_real_peels())
    assert [len(chain) for chain in chains] == [5, 3, 2]
    longest = chains[0]
    assert longest.start_txid.startswith("ad00ff71b6")
    assert all(hop.peel_value == 200_000 for hop in longest.hops)
    assert all(hop.peel_address == LUCKYBIT for hop in longest.hops)
    assert longest.total_peeled == 1_000_000
    assert longest.remaining == 1_180_000
    # each hop spends the previous hop's change
    txs = _real_peels()
    for before, after in zip(longest.hops, longest.hops[1:], strict=False):
        assert before.change in {txin.prevout for txin in txs[after.txid].inputs}
    finding = longest.finding()
    assert finding.fact("hops") == 5
    assert finding.fact("total_peeled_sats") == 1_000_000
    assert finding.fact("continues_at") == str(longest.end)
    assert "peel_chain" in finding.explain()


def test_real_step_facts() -> None:
    tx = next(tx for tx in _real_peels().values() if tx.txid.startswith("ad00ff71b6"))
    step = is_peel_step(tx)
    assert step is not None
    assert step.verdict == "peel"
    assert step.fact("peel_sats") == 200_000
    assert step.fact("change_sats") == 1_630_000
    assert tx.outputs[int(step.fact("peel_vout") or 0)].address == LUCKYBIT


def test_not_a_peel_step() -> None:
    even = make_tx("even", [(1_000_000, "a")], [(500_000, "b"), (499_000, "c")])
    assert is_peel_step(even) is None  # the smaller output is not "much smaller"
    three = make_tx("three", [(1_000_000, "a")], [(10_000, "b"), (20_000, "c"), (960_000, "d")])
    assert is_peel_step(three) is None
    owners = make_tx("owners", [(500_000, "a"), (500_000, "b")], [(10_000, "c"), (989_000, "d")])
    assert is_peel_step(owners) is None  # two different spenders
    many = make_tx("many", [(100_000, "a")] * 4, [(10_000, "c"), (389_000, "d")])
    assert is_peel_step(many) is None
    assert is_peel_step(many, max_inputs=4) is not None  # four coins of one address, if allowed


def _chain(name: str, hops: int, start: int = 100_000_000) -> dict[str, Tx]:
    txs: dict[str, Tx] = {}
    prev: OutPoint | None = None
    value = start
    for i in range(hops):
        change = value - 1_000_000 - 500
        tx = make_tx(
            f"{name}{i}",
            [(value, f"{name}-wallet{i}")],
            [(1_000_000, f"{name}-exchange{i}"), (change, f"{name}-wallet{i + 1}")],
            prevouts=None if prev is None else [prev],
        )
        txs[tx.txid] = tx
        prev = OutPoint(tx.txid, 1)
        value = change
    return txs


def test_built_chain_with_explicit_and_derived_spends() -> None:
    txs = _chain("c", 10)
    derived = find_peel_chains(txs)
    explicit = find_peel_chains(txs, spends_of(txs))
    assert derived == explicit
    (chain,) = derived
    assert len(chain) == 10
    assert chain.total_peeled == 10_000_000
    assert [hop.peel.vout for hop in chain.hops] == [0] * 10


def test_a_non_peel_spend_ends_the_chain() -> None:
    txs = _chain("d", 6)
    hops = list(txs.values())
    # Hop 3 becomes an even split of hop 2's change: not a peel, so the chain stops at hop 2;
    # hops 4-5 (spending the old hop 3's change) form a chain of their own.
    spent = hops[3].inputs[0]
    even = make_tx(
        "d3-even",
        [(spent.prev_value or 0, "w")],
        [(49_000_000, "x"), ((spent.prev_value or 0) - 49_000_000 - 500, "y")],
        prevouts=[hops[2].outpoint(1)],
    )
    assert is_peel_step(even) is None
    split = {txid: tx for txid, tx in txs.items() if txid != hops[3].txid}
    split[even.txid] = even
    chains = find_peel_chains(split)
    assert [[hop.txid for hop in chain.hops] for chain in chains] == [
        [hop.txid for hop in hops[:3]],
        [hop.txid for hop in hops[4:]],
    ]
    assert find_peel_chains(split, min_hops=3) == [chains[0]]


def test_spends_must_really_spend_the_change() -> None:
    txs = _chain("e", 3)
    first, second, _ = txs.values()
    lying = {OutPoint(first.txid, 1): second.txid, OutPoint(second.txid, 1): first.txid}
    # second does spend first's change; first does not spend second's: no cycle, one link
    chains = find_peel_chains(txs, lying)
    assert [len(chain) for chain in chains] == [2]
