"""Exchange deposit attribution from sweeps into a tagged hot wallet."""

from __future__ import annotations

from tracedata import address, make_tx

from btcwatch.model import Tx
from btcwatch.trace.deposits import attribute_deposits, sweep_entity

# A Binance reserve wallet from the GraphSense tag pack exchange-wallets-binance.yaml (MIT).
BINANCE_HOT = "bc1qm34lsc65zpw79lxes69zkqmk6ee3ewf0j77s3h"
KRAKEN_HOT = address("p2wpkh", "kraken-hot")
TAGS = {BINANCE_HOT: "Binance", KRAKEN_HOT: "Kraken"}


def _sweep(name: str, deposits: list[str], to: str = BINANCE_HOT, kind: str = "addr") -> Tx:
    inputs = [(1_000_000 + i, seed) for i, seed in enumerate(deposits)]
    total = sum(value for value, _ in inputs)
    return make_tx(name, inputs, [(total - 2_000, to, kind)])


def test_sweep_attributes_each_deposit_address() -> None:
    tx = _sweep("sweep1", ["dep-a", "dep-b", "dep-c", "dep-d"])
    found = attribute_deposits([tx], TAGS)
    deposits = {address("p2wpkh", s) for s in ("dep-a", "dep-b", "dep-c", "dep-d")}
    assert set(found) == deposits
    finding = found[address("p2wpkh", "dep-a")]
    assert finding.heuristic == "deposit_sweep"
    assert finding.verdict == "deposit"
    assert finding.fact("entity") == "Binance"
    assert finding.fact("sweep_txid") == tx.txid
    assert finding.fact("hot_wallet") == BINANCE_HOT
    assert finding.fact("swept_addresses") == 4
    assert "Binance" in finding.explain()


def test_too_few_addresses_is_not_a_sweep() -> None:
    tx = _sweep("sweep-small", ["dep-a", "dep-b"])
    assert attribute_deposits([tx], TAGS) == {}
    assert set(attribute_deposits([tx], TAGS, min_addresses=2)) == {
        address("p2wpkh", "dep-a"),
        address("p2wpkh", "dep-b"),
    }


def test_an_untagged_output_makes_it_a_payment_not_a_sweep() -> None:
    inputs = [(1_000_000, f"dep-{i}") for i in range(5)]
    tx = make_tx("mixed-out", inputs, [(4_000_000, BINANCE_HOT, "addr"), (990_000, "someone")])
    assert sweep_entity(tx, TAGS) is None
    assert attribute_deposits([tx], TAGS) == {}


def test_outputs_to_two_entities_are_not_a_sweep() -> None:
    inputs = [(1_000_000, f"dep-{i}") for i in range(5)]
    tx = make_tx(
        "two-entities", inputs, [(2_000_000, BINANCE_HOT, "addr"), (2_990_000, KRAKEN_HOT, "addr")]
    )
    assert sweep_entity(tx, TAGS) is None


def test_tagged_inputs_are_not_deposits() -> None:
    # A hot wallet consolidating its own coins together with deposits.
    tx = make_tx(
        "consolidate",
        [(5_000_000, BINANCE_HOT, "addr"), (1, "dep-a"), (1, "dep-b"), (1, "dep-c")],
        [(4_990_003, BINANCE_HOT, "addr")],
    )
    found = attribute_deposits([tx], TAGS)
    assert BINANCE_HOT not in found
    assert len(found) == 3


def test_repeated_and_conflicting_sweeps() -> None:
    first = _sweep("sweep-x", ["dep-a", "dep-b", "dep-c"])
    second = _sweep("sweep-y", ["dep-a", "dep-d", "dep-e"])
    other = _sweep("sweep-z", ["dep-b", "dep-f", "dep-g"], to=KRAKEN_HOT)
    found = attribute_deposits([first, second, other], TAGS)
    again = found[address("p2wpkh", "dep-a")]
    assert again.fact("sweeps") == 2
    assert again.fact("sweep_txid") == min(first.txid, second.txid)
    assert again.confidence > found[address("p2wpkh", "dep-c")].confidence
    assert address("p2wpkh", "dep-b") not in found  # swept into Binance and into Kraken
    assert found[address("p2wpkh", "dep-f")].fact("entity") == "Kraken"


def test_a_coinjoin_into_tagged_addresses_is_not_a_sweep() -> None:
    # Four equal outputs, four distinct inputs: a CoinJoin, whatever the tags say.
    tags = {address("p2wpkh", f"cj-out{i}"): "Binance" for i in range(4)}
    tx = make_tx(
        "cj",
        [(3_000_000, f"cj-in{i}") for i in range(4)],
        [(2_500_000, f"cj-out{i}") for i in range(4)],
    )
    assert sweep_entity(tx, tags) is None
