"""The story the ground truth tells is the story on the chain."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from btcwatch.chain.address import Address, script_to_address
from btcwatch.chain.script import classify
from btcwatch.chain.tx import RawTx
from btcwatch.errors import InputError
from btcwatch.sim.blocks import PlannedBlock
from btcwatch.sim.scenarios import VastaamoScenario, vastaamo

SATS = 100_000_000


@pytest.fixture(scope="module")
def txs(blocks: list[PlannedBlock]) -> dict[str, tuple[RawTx, int]]:
    """Every best-chain tx by txid, with its height."""
    return {tx.txid: (tx, b.height) for b in blocks if not b.stale for tx in b.txs}


def addr(tx: RawTx, vout: int, small: VastaamoScenario) -> str | None:
    return script_to_address(tx.outputs[vout].script, small.network)


def prevout_address(
    txs: dict[str, tuple[RawTx, int]], txid: str, vout: int, small: VastaamoScenario
) -> str | None:
    return addr(txs[txid][0], vout, small)


def test_same_seed_same_chain_other_seed_other_chain() -> None:
    first = [b.hash for b in vastaamo(victims=8, seed=11, background=1).iter_blocks()]
    again = [b.hash for b in vastaamo(victims=8, seed=11, background=1).iter_blocks()]
    other = [b.hash for b in vastaamo(victims=8, seed=12, background=1).iter_blocks()]
    assert first == again
    assert not set(first) & set(other)


def test_every_payment_kind_is_in_the_story(truth: dict[str, Any]) -> None:
    kinds = Counter(p["kind"] for p in truth["payments"])
    assert set(kinds) == {"on_time", "late", "partial", "double", "rbf_replaced", "rbf_replacement"}
    assert kinds["rbf_replaced"] == kinds["rbf_replacement"] == 1
    plans = Counter(r["plan"] for r in truth["ransom_addresses"])
    assert plans["never"] >= 1
    never = {r["address"] for r in truth["ransom_addresses"] if r["plan"] == "never"}
    assert not never & {p["address"] for p in truth["payments"]}


def test_payments_are_on_chain_as_recorded(
    truth: dict[str, Any], txs: dict[str, tuple[RawTx, int]], small: VastaamoScenario
) -> None:
    for p in truth["payments"]:
        if p["kind"] == "rbf_replaced":
            assert p["txid"] not in txs and p["height"] is None
            continue
        tx, height = txs[p["txid"]]
        assert height == p["height"]
        assert tx.outputs[p["vout"]].value == p["value_sat"]
        assert addr(tx, p["vout"], small) == p["address"]


def test_amounts_follow_the_demands_and_the_recorded_rate(truth: dict[str, Any]) -> None:
    for p in truth["payments"]:
        rate = Decimal(p["eur_rate"])
        eur = Decimal(p["value_sat"]) * rate / SATS
        if p["kind"] in ("on_time", "rbf_replaced", "rbf_replacement", "double"):
            assert abs(eur - 200) < Decimal("0.01")
        elif p["kind"] == "late":
            assert abs(eur - 500) < Decimal("0.01")
            assert p["height"] > truth["deadline_height"]
        else:
            assert 0 < eur < 500
    assert truth["price_source"]
    assert set(truth["eur_per_btc"]) >= {"2020-10-24"}


def test_a_caller_supplied_price() -> None:
    scenario = vastaamo(victims=8, seed=3, background=0, eur_per_btc=lambda d: Decimal(20_000))
    truth = scenario.ground_truth()
    on_time = [p for p in truth["payments"] if p["kind"] == "on_time"]
    assert on_time and all(p["value_sat"] == 1_000_000 for p in on_time)
    assert truth["price_source"] == "caller-supplied eur_per_btc"
    assert set(truth["eur_per_btc"].values()) == {"20000"}


def test_sweeps_co_spend_every_confirmed_ransom_payment_once(
    truth: dict[str, Any], txs: dict[str, tuple[RawTx, int]], small: VastaamoScenario
) -> None:
    ransom = {r["address"] for r in truth["ransom_addresses"]}
    paid = {f"{p['txid']}:{p['vout']}" for p in truth["payments"] if p["height"] is not None}
    swept: list[str] = []
    for sweep in truth["sweeps"]:
        tx, _ = txs[sweep["txid"]]
        outpoints = [f"{i.prev_txid}:{i.prev_vout}" for i in tx.inputs]
        assert outpoints == sweep["outpoints"]
        assert len(tx.outputs) == 1 and addr(tx, 0, small) == sweep["output_address"]
        inputs = {prevout_address(txs, i.prev_txid, i.prev_vout, small) for i in tx.inputs}
        assert inputs == set(sweep["input_addresses"]) <= ransom
        swept += outpoints
    assert sorted(swept) == sorted(paid)
    assert max(len(s["outpoints"]) for s in truth["sweeps"]) > 1  # co-spends


def test_merge_peel_chain_and_coinjoin(
    truth: dict[str, Any], txs: dict[str, tuple[RawTx, int]], small: VastaamoScenario
) -> None:
    merge, _ = txs[truth["merge_txid"]]
    sweep_outputs = {(s["txid"], 0) for s in truth["sweeps"]}
    assert {(i.prev_txid, i.prev_vout) for i in merge.inputs} == sweep_outputs
    previous = (truth["merge_txid"], 0)
    for hop, peel in enumerate(truth["peels"], start=1):
        tx, _ = txs[peel["txid"]]
        assert peel["hop"] == hop
        assert len(tx.inputs) == 1 and len(tx.outputs) == 2
        assert (tx.inputs[0].prev_txid, tx.inputs[0].prev_vout) == previous
        spent_script = txs[previous[0]][0].outputs[previous[1]].script
        change = tx.outputs[peel["change_vout"]]
        assert classify(change.script) == classify(spent_script)  # same type as the input
        assert change.value > tx.outputs[peel["vout"]].value  # the larger part continues
        assert change.value % 1000 != 0  # non-round change
        assert addr(tx, peel["vout"], small) == peel["deposit_address"]
        assert tx.outputs[peel["vout"]].value == peel["value_sat"]
        previous = (peel["txid"], peel["change_vout"])
    cj = truth["coinjoin"]
    tx, _ = txs[cj["txid"]]
    assert cj["attacker_input"] == f"{previous[0]}:{previous[1]}"
    assert f"{previous[0]}:{previous[1]}" in {f"{i.prev_txid}:{i.prev_vout}" for i in tx.inputs}
    equal = [o for o in tx.outputs if o.value == cj["denomination_sat"]]
    assert len(equal) == cj["equal_outputs"] >= cj["participants"]
    assert all(tx.outputs[v].value == cj["denomination_sat"] for v in cj["attacker_equal_vouts"])


def test_exchange_totals_match_deposits_on_chain(
    truth: dict[str, Any], txs: dict[str, tuple[RawTx, int]], small: VastaamoScenario
) -> None:
    deposits = {a: ex["name"] for ex in truth["exchanges"] for a in ex["deposit_addresses"]}
    hot = {a: ex["name"] for ex in truth["exchanges"] for a in ex["hot_wallets"]}
    totals: dict[str, int] = defaultdict(int)
    peel_txids = {p["txid"] for p in truth["peels"]}
    for txid in peel_txids:
        tx, _ = txs[txid]
        for vout, out in enumerate(tx.outputs):
            name = deposits.get(addr(tx, vout, small) or "")
            if name is not None:
                totals[name] += out.value
    expected = {k: v for k, v in truth["exchange_totals"].items() if v}
    assert dict(totals) == expected
    assert len(expected) >= 3
    # Each peeled deposit is later swept by its exchange into a tagged hot wallet.
    spenders = {(i.prev_txid, i.prev_vout): t for t, _ in txs.values() for i in t.inputs}
    for peel in truth["peels"]:
        sweep = spenders[(peel["txid"], peel["vout"])]
        targets = {addr(sweep, v, small) for v in range(len(sweep.outputs))}
        assert {hot.get(a or "") for a in targets} == {peel["exchange"]}


def test_dust_is_from_strangers_to_attacker_addresses(
    truth: dict[str, Any], txs: dict[str, tuple[RawTx, int]], small: VastaamoScenario
) -> None:
    attacker = set(truth["attacker_addresses"])
    assert len(truth["dust"]) == 3
    for dust in truth["dust"]:
        tx, _ = txs[dust["txid"]]
        assert 546 <= dust["value_sat"] <= 1000
        assert dust["address"] in attacker
        assert addr(tx, dust["vout"], small) == dust["address"]
        for txin in tx.inputs:
            assert prevout_address(txs, txin.prev_txid, txin.prev_vout, small) not in attacker


def test_company_demand_is_never_paid(
    truth: dict[str, Any], txs: dict[str, tuple[RawTx, int]], small: VastaamoScenario
) -> None:
    company = truth["company_demand"]
    assert company["value_sat"] == 40 * SATS and company["paid"] is False
    script = Address.parse(company["address"], small.network).script
    assert all(o.script != script for tx, _ in txs.values() for o in tx.outputs)


def test_rbf_reorg_and_early_broadcasts_are_described(truth: dict[str, Any]) -> None:
    rbf = truth["rbf"]
    assert rbf["seen_height"] < rbf["replaced_at_height"] < rbf["confirmed_height"]
    assert rbf["replacement_fee_sat"] > rbf["replaced_fee_sat"]
    reorg = truth["reorg"]
    assert reorg["best_confirmed_height"] == reorg["stale_confirmed_height"] + 1
    assert truth["mempool_early"]
    for early in truth["mempool_early"]:
        assert early["seen_height"] < early["height"] - 1
    assert truth["start_tip_height"] < min(
        p["height"] for p in truth["payments"] if p["height"] is not None
    )


def test_ground_truth_files(small: VastaamoScenario, tmp_path: Path) -> None:
    truth = small.ground_truth()
    loaded = json.loads(small.write_ground_truth(tmp_path / "gt.json").read_text())
    assert loaded == json.loads(json.dumps(truth))
    pack = yaml.safe_load(small.write_tagpack(tmp_path / "tags.yaml").read_text())
    assert {"title", "creator", "source", "currency", "tags"} <= set(pack)
    assert pack["currency"] == "BTC"
    hot = {a for ex in truth["exchanges"] for a in ex["hot_wallets"]}
    assert {t["address"] for t in pack["tags"]} == hot
    assert {t["category"] for t in pack["tags"]} == {"exchange"}
    emails = small.write_ransom_emails(tmp_path / "mail.txt").read_text()
    for ransom in truth["ransom_addresses"]:
        assert ransom["address"] in emails
    assert truth["company_demand"]["address"] in emails


def test_bad_knobs_are_refused() -> None:
    with pytest.raises(InputError, match="victims"):
        vastaamo(victims=0)
    with pytest.raises(InputError, match="background"):
        vastaamo(background=-1)
    with pytest.raises(InputError, match="peel_hops"):
        vastaamo(peel_hops=0)


@pytest.mark.parametrize("victims", [1, 2, 7])
def test_tiny_scenarios_still_generate(victims: int) -> None:
    truth = vastaamo(victims=victims, seed=5, background=0).ground_truth()
    assert len(truth["ransom_addresses"]) == victims
    assert truth["tx_count"] > 0


def test_other_networks_render_their_addresses() -> None:
    from btcwatch.chain.network import REGTEST

    truth = vastaamo(victims=4, seed=1, background=0, network=REGTEST).ground_truth()
    assert truth["network"] == "regtest"
    assert all(a.startswith(("bcrt1", "m", "n", "2")) for a in truth["attacker_addresses"])
