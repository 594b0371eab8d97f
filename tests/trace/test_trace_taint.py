"""Taint propagation: worked examples per policy, errors, real WannaCry cash-outs, and
hypothesis invariants over random flows."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracedata import make_tx, txid, wannacry

from btcwatch.errors import InputError
from btcwatch.model import OutPoint, Tx, TxIn, TxOut
from btcwatch.trace.taint import POLICIES, Policy, TaintResult, propagate, topological_order

SCRIPT = bytes.fromhex("0014") + bytes(20)


def _tx(name: str, inputs: list[tuple[OutPoint, int]], outputs: list[int]) -> Tx:
    """A tx spending (outpoint, value) pairs into outputs of the given values."""
    txins = tuple(TxIn(op, 0xFFFFFFFD, value, SCRIPT, None) for op, value in inputs)
    txouts = tuple(TxOut(value, SCRIPT, None) for value in outputs)
    return Tx(txid(name), 2, 0, txins, txouts)


RANSOM = OutPoint(txid("ransom payment"), 0)
DUST = OutPoint(txid("outsider dust"), 3)
CLEAN = OutPoint(txid("clean coin"), 1)


# -- worked examples ------------------------------------------------------------------------


def test_haircut_splits_in_proportion_with_the_fee_taking_its_share() -> None:
    # 1 BTC tainted + 1 BTC clean -> 1.5 BTC and 0.49 BTC, fee 0.01 BTC.
    tx = _tx("mix", [(RANSOM, 100_000_000), (CLEAN, 100_000_000)], [150_000_000, 49_000_000])
    result = propagate({RANSOM: 100_000_000}, {tx.txid: tx}, "haircut")
    assert result.taint_of(tx.outpoint(0)) == 75_000_000
    assert result.taint_of(tx.outpoint(1)) == 24_500_000
    assert result.fee_taint == 500_000
    breakdown = result.tx(tx.txid)
    assert breakdown is not None
    assert (breakdown.value_in, breakdown.taint_in, breakdown.fee) == (
        200_000_000,
        100_000_000,
        1_000_000,
    )
    assert breakdown.taint_out + breakdown.fee_taint == breakdown.taint_in


def test_haircut_remainders_go_to_the_largest_fractions() -> None:
    # 2 tainted sats over three equal 1-sat outputs: 2/3 each; the first two get the extra sat.
    tx = _tx("thirds", [(RANSOM, 3)], [1, 1, 1])
    result = propagate({RANSOM: 2}, {tx.txid: tx}, "haircut")
    assert [result.taint_of(tx.outpoint(v)) for v in range(3)] == [1, 1, 0]
    # 7 of 10 sats tainted, outputs 6 and 3, fee 1: exact shares 4.2, 2.1, 0.7 -> 4, 2, 1
    tx2 = _tx("sevenths", [(RANSOM, 10)], [6, 3])
    result2 = propagate({RANSOM: 7}, {tx2.txid: tx2}, "haircut")
    assert [result2.taint_of(tx2.outpoint(v)) for v in range(2)] == [4, 2]
    assert result2.fee_taint == 1


def test_poison_taints_every_output_fully() -> None:
    tx = _tx("poison", [(RANSOM, 1_000), (CLEAN, 99_000)], [60_000, 39_000])
    result = propagate({RANSOM: 1_000}, {tx.txid: tx}, "poison")
    assert result.taint_of(tx.outpoint(0)) == 60_000
    assert result.taint_of(tx.outpoint(1)) == 39_000
    assert result.fee_taint == 1_000


def test_fifo_follows_input_and_output_order() -> None:
    tainted_first = _tx("fifo1", [(RANSOM, 100), (CLEAN, 50)], [120, 25])
    result = propagate({RANSOM: 100}, {tainted_first.txid: tainted_first}, "fifo")
    assert [result.taint_of(tainted_first.outpoint(v)) for v in range(2)] == [100, 0]
    assert result.fee_taint == 0
    clean_first = _tx("fifo2", [(CLEAN, 50), (RANSOM, 100)], [120, 25])
    result = propagate({RANSOM: 100}, {clean_first.txid: clean_first}, "fifo")
    # positions: clean [0, 50), tainted [50, 150); outputs [0, 120), [120, 145); fee [145, 150)
    assert [result.taint_of(clean_first.outpoint(v)) for v in range(2)] == [70, 25]
    assert result.fee_taint == 5


def test_fifo_partly_tainted_source_is_its_first_sats_and_positions_carry_on() -> None:
    first = _tx("f-a", [(RANSOM, 100)], [30, 70])
    result = propagate({RANSOM: 40}, {first.txid: first}, "fifo")
    assert [result.taint_of(first.outpoint(v)) for v in range(2)] == [30, 10]
    # the 10 tainted sats sit at the start of output 1; spending it after 5 clean sats:
    second = _tx("f-b", [(CLEAN, 5), (first.outpoint(1), 70)], [8, 67])
    flow = {first.txid: first, second.txid: second}
    result = propagate({RANSOM: 40}, flow, "fifo")
    # clean [0, 5), tainted [5, 15): output 0 [0, 8) gets 3, output 1 gets 7
    assert [result.taint_of(second.outpoint(v)) for v in range(2)] == [3, 7]


@pytest.mark.parametrize("policy", POLICIES)
def test_outsider_dust_adds_no_taint(policy: Policy) -> None:
    # An untainted tx that merely receives dust stays untainted, and dust joining a tainted
    # tx adds nothing to the total (haircut, fifo) or taints only what poison says.
    clean_tx = _tx("clean", [(CLEAN, 10_000), (DUST, 546)], [10_000])
    dusted = _tx("dusted", [(RANSOM, 50_000), (OutPoint(DUST.txid, 4), 546)], [50_000])
    flow = {clean_tx.txid: clean_tx, dusted.txid: dusted}
    result = propagate({RANSOM: 50_000}, flow, policy)
    assert result.taint_of(clean_tx.outpoint(0)) == 0
    assert result.tx(clean_tx.txid) is None
    total = result.taint_of(dusted.outpoint(0)) + result.fee_taint
    if policy == "poison":
        assert total == 50_546
    else:
        assert total == 50_000


def test_order_of_the_mapping_does_not_matter() -> None:
    chain = []
    prev, value = RANSOM, 1_000_000
    for i in range(30):
        tx = _tx(
            f"hop{i}",
            [(prev, value), (OutPoint(txid(f"side{i}"), 0), 777)],
            [value // 3, value - value // 3 - 100 + 777],
        )
        chain.append(tx)
        prev, value = tx.outpoint(1), tx.outputs[1].value
    forward = {tx.txid: tx for tx in chain}
    backward = {tx.txid: tx for tx in reversed(chain)}
    shuffled_list = chain[:]
    random.Random(3).shuffle(shuffled_list)
    shuffled = {tx.txid: tx for tx in shuffled_list}
    for policy in POLICIES:
        results = [
            propagate({RANSOM: 600_000}, flow, policy) for flow in (forward, backward, shuffled)
        ]
        for tx in chain:
            for vout in range(2):
                values = {r.taint_of(tx.outpoint(vout)) for r in results}
                assert len(values) == 1
    order = topological_order(shuffled)
    assert [order.index(tx.txid) for tx in chain] == sorted(order.index(tx.txid) for tx in chain)


def test_source_inside_the_flow_sets_a_floor() -> None:
    pay = _tx("payment", [(CLEAN, 200_000)], [150_000, 49_000])
    spend = _tx("spend", [(pay.outpoint(0), 150_000)], [149_000])
    flow = {pay.txid: pay, spend.txid: spend}
    result = propagate({pay.outpoint(0): 150_000}, flow, "haircut")
    assert result.taint_of(pay.outpoint(0)) == 150_000
    assert result.taint_of(pay.outpoint(1)) == 0
    assert result.taint_of(spend.outpoint(0)) == 149_000
    breakdown = result.tx(pay.txid)
    assert breakdown is not None and breakdown.injected == 150_000
    assert result.source_total == 150_000
    fifo = propagate({pay.outpoint(0): 100_000}, flow, "fifo")
    assert fifo.taint_of(spend.outpoint(0)) == 100_000


def test_unspent_says_where_the_taint_is_now() -> None:
    a = _tx("a", [(RANSOM, 1_000)], [400, 500])
    b = _tx("b", [(a.outpoint(1), 500)], [450])
    untouched = OutPoint(txid("never spent"), 0)
    result = propagate({RANSOM: 1_000, untouched: 5}, {a.txid: a, b.txid: b}, "haircut")
    assert result.unspent() == {a.outpoint(0): 400, b.outpoint(0): 450, untouched: 5}
    assert sum(result.unspent().values()) + result.fee_taint == 1_005
    assert dict(result.tainted_outputs()) == {
        a.outpoint(0): 400,
        a.outpoint(1): 500,
        b.outpoint(0): 450,
    }
    assert len(result) == 2
    assert [t.txid for t in result.breakdown()] == [a.txid, b.txid]


def test_long_chain_is_fine() -> None:
    flow: dict[str, Tx] = {}
    prev, value = RANSOM, 10**9
    for i in range(5_000):
        tx = _tx(f"long{i}", [(prev, value)], [1_000, value - 1_100])
        flow[tx.txid] = tx
        prev, value = tx.outpoint(1), value - 1_100
    result = propagate({RANSOM: 10**9}, flow, "fifo")
    assert result.taint_of(prev) == value
    assert result.fee_taint == 5_000 * 100


# -- errors -----------------------------------------------------------------------------------


def test_errors_name_the_problem() -> None:
    tx = _tx("e", [(RANSOM, 1_000)], [900])
    flow = {tx.txid: tx}
    with pytest.raises(InputError, match="unknown taint policy 'lifo'"):
        propagate({RANSOM: 1}, flow, "lifo")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="negative taint"):
        propagate({RANSOM: -1}, flow)
    with pytest.raises(InputError, match="carries 2000 tainted sats but holds 1000"):
        propagate({RANSOM: 2_000}, flow)
    with pytest.raises(InputError, match="different tx"):
        propagate({RANSOM: 1}, {"00" * 32: tx})
    over = _tx("over", [(RANSOM, 1_000)], [1_001])
    with pytest.raises(InputError, match="pays out 1 sats more"):
        propagate({RANSOM: 1}, {over.txid: over})
    unknown = Tx(txid("u"), 2, 0, (TxIn(RANSOM, 0),), (TxOut(1, SCRIPT, None),))
    with pytest.raises(InputError, match="spent value unknown"):
        propagate({RANSOM: 1}, {unknown.txid: unknown})
    twice = _tx("twice", [(RANSOM, 1_000)], [800])
    with pytest.raises(InputError, match="spent twice"):
        propagate({RANSOM: 1}, {tx.txid: tx, twice.txid: twice})
    with pytest.raises(InputError, match="does not exist"):
        propagate({tx.outpoint(5): 1}, flow)
    with pytest.raises(InputError, match="holds 900"):
        propagate({tx.outpoint(0): 901}, flow)


def test_a_cycle_is_refused() -> None:
    a_id, b_id = txid("cycle-a"), txid("cycle-b")
    a = Tx(a_id, 2, 0, (TxIn(OutPoint(b_id, 0), 0, 10),), (TxOut(10, SCRIPT, None),))
    b = Tx(b_id, 2, 0, (TxIn(OutPoint(a_id, 0), 0, 10),), (TxOut(10, SCRIPT, None),))
    with pytest.raises(InputError, match="cycle"):
        propagate({}, {a_id: a, b_id: b})


def test_missing_value_is_taken_from_the_spent_tx_in_the_flow() -> None:
    a = _tx("va", [(RANSOM, 1_000)], [990])
    b = Tx(txid("vb"), 2, 0, (TxIn(a.outpoint(0), 0),), (TxOut(980, SCRIPT, None),))
    result = propagate({RANSOM: 1_000}, {a.txid: a, b.txid: b})
    assert result.taint_of(b.outpoint(0)) == 980


# -- real data: the WannaCry cash-outs of 2017-08-03 -------------------------------------------


@pytest.mark.parametrize("policy", POLICIES)
def test_wannacry_cash_outs(policy: Policy) -> None:
    ransom, txs = wannacry()
    cash_outs = {
        txid: tx for txid, tx in txs.items() if any(i.prev_address in ransom for i in tx.inputs)
    }
    assert len(cash_outs) == 6
    # Sources: every output ever paid to a ransom address (the spent ones are the cash-outs'
    # inputs; payments still unspent on 2017-08-03 are in the recorded histories).
    sources = {
        txin.prevout: txin.prev_value or 0
        for tx in cash_outs.values()
        for txin in tx.inputs
        if txin.prevout is not None and txin.prev_address in ransom
    }
    for tx in txs.values():
        for vout, out in enumerate(tx.outputs):
            if out.address in ransom:
                sources[tx.outpoint(vout)] = out.value
    result = propagate(sources, cash_outs, policy)
    # Every input of a cash-out is a ransom payment: all outputs are fully tainted.
    for tx in cash_outs.values():
        for vout, out in enumerate(tx.outputs):
            assert result.taint_of(tx.outpoint(vout)) == out.value
    fees = sum(tx.fee or 0 for tx in cash_outs.values())
    assert result.fee_taint == fees
    assert sum(result.unspent().values()) + fees == sum(sources.values())
    spent = {txin.prevout for tx in cash_outs.values() for txin in tx.inputs}
    still_on_ransom = set(result.unspent()) - {
        tx.outpoint(v) for tx in cash_outs.values() for v in range(len(tx.outputs))
    }
    assert still_on_ransom == set(sources) - spent


# -- invariants over random flows ----------------------------------------------------------------


@st.composite
def flows(draw: st.DrawFn) -> tuple[dict[OutPoint, int], dict[str, Tx]]:
    """Random acyclic flows: sources, outsider inputs, merges, splits, fees, any order."""
    coins: list[tuple[OutPoint, int]] = []
    sources: dict[OutPoint, int] = {}
    for i in range(draw(st.integers(1, 4))):
        value = draw(st.integers(1, 10**8))
        op = OutPoint(txid(f"source{i}"), draw(st.integers(0, 3)))
        sources[op] = draw(st.integers(0, value))
        coins.append((op, value))
    made: list[Tx] = []
    for k in range(draw(st.integers(0, 12))):
        if not coins:
            break
        picks = draw(st.lists(st.integers(0, len(coins) - 1), min_size=1, max_size=3, unique=True))
        inputs = [coins[i] for i in picks]
        coins = [coin for i, coin in enumerate(coins) if i not in picks]
        if draw(st.booleans()):
            inputs.insert(
                draw(st.integers(0, len(inputs))),
                (OutPoint(txid(f"outsider{k}"), 0), draw(st.integers(1, 10**6))),
            )
        total = sum(value for _, value in inputs)
        fee = draw(st.integers(0, total // 5))
        cuts = sorted(draw(st.lists(st.integers(0, total - fee), max_size=3)))
        bounds = [0, *cuts, total - fee]
        outputs = [b - a for a, b in itertools.pairwise(bounds)]
        tx = _tx(f"flow{k}", inputs, outputs)
        made.append(tx)
        coins.extend((tx.outpoint(v), value) for v, value in enumerate(outputs))
    if draw(st.booleans()) and made:  # some sources are outputs of txs inside the flow
        for tx in draw(st.lists(st.sampled_from(made), max_size=2)):
            vout = draw(st.integers(0, len(tx.outputs) - 1))
            sources[tx.outpoint(vout)] = draw(st.integers(0, tx.outputs[vout].value))
    order = draw(st.permutations(made))
    return sources, {tx.txid: tx for tx in order}


def _outputs(txs: dict[str, Tx]) -> list[tuple[OutPoint, int]]:
    return [(tx.outpoint(v), out.value) for tx in txs.values() for v, out in enumerate(tx.outputs)]


@settings(max_examples=150, deadline=None)
@given(flows())
def test_conserving_policies_never_create_taint(
    flow: tuple[dict[OutPoint, int], dict[str, Tx]],
) -> None:
    sources, txs = flow
    conserving: tuple[Policy, ...] = ("haircut", "fifo")
    for policy in conserving:
        result = propagate(sources, txs, policy)
        for outpoint, value in _outputs(txs):
            assert 0 <= result.taint_of(outpoint) <= value  # (a) never above value
        for tx_taint in result.breakdown():  # (a) exactly conserved per tx
            assert tx_taint.taint_out + tx_taint.fee_taint == tx_taint.taint_in + tx_taint.injected
            assert tx_taint.fee_taint <= tx_taint.fee
        # (b) all the taint there is came from the sources: where it is now plus fees; a
        # source inside the flow only adds what flowed-in taint did not already cover
        assert sum(result.unspent().values()) + result.fee_taint == result.source_total
        assert result.source_total <= sum(sources.values())


@settings(max_examples=150, deadline=None)
@given(flows())
def test_poison_bounds_the_others(flow: tuple[dict[OutPoint, int], dict[str, Tx]]) -> None:
    sources, txs = flow
    results: dict[str, TaintResult] = {p: propagate(sources, txs, p) for p in POLICIES}
    for outpoint, value in _outputs(txs):
        poison = results["poison"].taint_of(outpoint)
        if outpoint not in sources:  # a source keeps the amount it was given
            assert poison in (0, value)
        assert poison >= results["haircut"].taint_of(outpoint)  # (c)
        assert poison >= results["fifo"].taint_of(outpoint)


@settings(max_examples=100, deadline=None)
@given(flows())
def test_untainted_flow_yields_zero(flow: tuple[dict[OutPoint, int], dict[str, Tx]]) -> None:
    _, txs = flow
    for policy in POLICIES:
        result = propagate({}, txs, policy)
        assert len(result) == 0  # (d)
        assert result.fee_taint == 0
        assert all(result.taint_of(op) == 0 for op, _ in _outputs(txs))


def test_make_tx_flows_work_too() -> None:
    # The same API on txs with real-looking scripts and addresses.
    pay = make_tx(
        "victim pays", [(1_000_000, "victim")], [(600_000, "ransom", "p2pkh"), (399_000, "victim")]
    )
    sweep = make_tx(
        "sweep", [(600_000, "ransom", "p2pkh")], [(599_000, "crook")], prevouts=[pay.outpoint(0)]
    )
    result = propagate({pay.outpoint(0): 600_000}, {sweep.txid: sweep})
    assert result.taint_of(sweep.outpoint(0)) == 599_000
