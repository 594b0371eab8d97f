"""CoinJoin detection on real mainnet CoinJoins and look-alikes, and on built shapes."""

from __future__ import annotations

import pytest
from tracedata import block_txs, esplora_random, make_tx, wannacry

from btcwatch.model import Tx
from btcwatch.trace.coinjoin import (
    WASABI2_DENOMINATIONS,
    describe,
    detect_coinjoin,
    is_coinjoin,
    wasabi2_denominations,
)

REAL = block_txs()


@pytest.mark.parametrize(
    ("label", "tx"),
    [(label, tx) for label, tx in REAL if label in {"whirlpool", "wasabi1", "joinmarket"}],
    ids=lambda value: value if isinstance(value, str) else value.txid[:10],
)
def test_real_coinjoins_are_recognised_with_their_pattern(label: str, tx: Tx) -> None:
    finding = detect_coinjoin(tx)
    assert finding is not None
    assert finding.verdict == "coinjoin"
    assert finding.subject == tx.txid
    assert finding.fact("pattern") == label
    assert finding.fact("inputs") == len(tx.inputs)


@pytest.mark.parametrize(
    ("label", "tx"),
    [(label, tx) for label, tx in REAL if label in {"batch", "plain"}],
    ids=lambda value: value if isinstance(value, str) else value.txid[:10],
)
def test_real_lookalikes_are_not_coinjoins(label: str, tx: Tx) -> None:
    assert detect_coinjoin(tx) is None


def _real(txid_prefix: str) -> Tx:
    return next(tx for _, tx in REAL if tx.txid.startswith(txid_prefix))


def test_whirlpool_facts_name_the_pool() -> None:
    # Block 702861: a classic 5 x 0.01 BTC Whirlpool mix.
    finding = detect_coinjoin(_real("d6b212a663"))
    assert finding is not None
    assert finding.fact("pool") == "0.01 BTC"
    assert finding.fact("denomination_sats") == 1_000_000
    assert finding.fact("equal_outputs") == 5
    assert describe(finding) == "whirlpool 5 x 0.01 BTC"
    # Block 794466 (2023): a surge-cycle mix, 8 x 0.05 BTC.
    surge = detect_coinjoin(_real("1c92daa519"))
    assert surge is not None
    assert (surge.fact("pool"), surge.fact("equal_outputs")) == ("0.05 BTC", 8)


def test_wasabi1_facts_count_mixing_levels() -> None:
    finding = detect_coinjoin(_real("5c2f55fc17"))  # block 702861, 100 in / 122 out
    assert finding is not None
    assert finding.fact("denomination_sats") == 10_944_832
    assert finding.fact("equal_outputs") == 60
    mixing_levels = finding.fact("mixing_levels")
    assert isinstance(mixing_levels, int) and mixing_levels >= 3


def test_joinmarket_facts_count_change_outputs() -> None:
    finding = detect_coinjoin(_real("7835d04d94"))  # block 744517: 6 equal + 6 change
    assert finding is not None
    assert (finding.fact("equal_outputs"), finding.fact("change_outputs")) == (6, 6)
    assert finding.fact("distinct_input_owners") == 11


def _whirlpool(pool: int, n: int = 5, fee: int = 300, same_owner: bool = False) -> Tx:
    inputs = [(pool + fee, "premix" if same_owner else f"premix{i}") for i in range(n)]
    outputs = [(pool, f"postmix{i}") for i in range(n)]
    return make_tx(f"whirlpool-{pool}-{n}-{same_owner}", inputs, outputs)


@pytest.mark.parametrize("pool", [100_000, 1_000_000, 5_000_000, 50_000_000])
def test_built_whirlpool_every_pool(pool: int) -> None:
    finding = detect_coinjoin(_whirlpool(pool))
    assert finding is not None and finding.fact("pattern") == "whirlpool"


def test_whirlpool_shape_needs_a_pool_size_and_5_to_8_participants() -> None:
    for tx in (_whirlpool(2_000_000), _whirlpool(1_000_000, n=4), _whirlpool(1_000_000, n=9)):
        finding = detect_coinjoin(tx)
        # still equal outputs from distinct owners, so still a CoinJoin, but not Whirlpool
        assert finding is not None
        assert finding.fact("pattern") == "generic"


def test_equal_outputs_from_one_owner_are_not_a_coinjoin() -> None:
    # One wallet paying five equal amounts from five coins of one address: a batch, not a mix.
    tx = make_tx(
        "one-owner-batch",
        [(2_000_000, "me")] * 5,
        [(1_500_000, f"payee{i}") for i in range(5)] + [(2_400_000, "me")],
    )
    assert detect_coinjoin(tx) is None


def test_wasabi2_denominations_are_the_79_standard_ones() -> None:
    assert len(WASABI2_DENOMINATIONS) == 79
    assert min(WASABI2_DENOMINATIONS) == 5_000
    assert max(WASABI2_DENOMINATIONS) == 2**37
    for value in (6_561, 8_192, 10_000, 13_122, 20_000, 50_000, 1_000_000, 14_348_907):
        assert value in WASABI2_DENOMINATIONS
    assert 12_345 not in WASABI2_DENOMINATIONS
    assert wasabi2_denominations(5_000, 10_000) == {5_000, 6_561, 8_192, 10_000}


def test_built_wasabi2_round() -> None:
    denominations = sorted(WASABI2_DENOMINATIONS)[10:30]
    inputs = [(denominations[i % 20] + 7_777 + i, f"ww2-in{i}") for i in range(60)]
    outputs = [(denominations[i % 20], f"ww2-out{i}") for i in range(55)]
    outputs += [(123_457 + i, f"ww2-change{i}") for i in range(5)]  # non-standard leftovers
    finding = detect_coinjoin(make_tx("ww2", inputs, outputs))
    assert finding is not None
    assert finding.fact("pattern") == "wasabi2"
    assert finding.fact("standard_outputs") == 55
    assert finding.fact("repeated_denominations") == 20


def test_built_wasabi1_round() -> None:
    base = 10_000_000 + 12_345
    inputs = [(base + 50_000 + i, f"w1-in{i}") for i in range(40)]
    outputs = [(base, f"w1-mix{i}") for i in range(30)]
    outputs += [(2 * base - 1_000, f"w1-lvl{i}") for i in range(3)]
    outputs += [(40_000 + i, f"w1-change{i}") for i in range(8)] + [(300_000, "coordinator")]
    finding = detect_coinjoin(make_tx("w1", inputs, outputs))
    assert finding is not None
    assert finding.fact("pattern") == "wasabi1"
    assert finding.fact("mixing_levels") == 2


def test_generic_rule() -> None:
    inputs = [(5_000_000, f"g-in{i}") for i in range(4)]
    outputs = [(3_000_000, f"g-out{i}") for i in range(4)]
    finding = detect_coinjoin(make_tx("generic", inputs, outputs))
    assert finding is not None
    assert finding.fact("pattern") == "generic"
    assert finding.confidence < 0.8


def test_dust_equal_outputs_are_ignored() -> None:
    inputs = [(50_000, f"d-in{i}") for i in range(6)]
    outputs = [(600, f"d-out{i}") for i in range(6)]
    assert detect_coinjoin(make_tx("dust", inputs, outputs)) is None


def test_ordinary_real_txs_are_not_coinjoins() -> None:
    for tx in esplora_random().values():
        assert not is_coinjoin(tx)
    _, txs = wannacry()
    assert not any(is_coinjoin(tx) for tx in txs.values())
