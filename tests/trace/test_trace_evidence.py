"""Finding: validation, JSON round trip, one-line explanation."""

from __future__ import annotations

import json

import pytest
from tracedata import esplora_random

from btcwatch.errors import ParseError
from btcwatch.money import btc as money_btc
from btcwatch.trace.evidence import Finding, input_owner, output_owner, payable_vouts


def test_round_trip_through_json() -> None:
    finding = Finding.of(
        "round_amount",
        "not_change",
        0.65,
        "ab" * 32 + ":0",
        {"value_sats": 10_000_000, "round_to": "0.01 BTC", "fresh": False, "share": 0.25},
    )
    stored = json.dumps(finding.to_dict())
    assert Finding.from_dict(json.loads(stored)) == finding
    assert finding.fact("round_to") == "0.01 BTC"
    assert finding.fact("missing") is None


def test_explain_renders_sats_as_btc_on_one_line() -> None:
    finding = Finding.of("optimal_change", "change", 0.6, "tx:1", {"value_sats": 1_511_375})
    text = finding.explain()
    assert text == "optimal_change: tx:1 is change (60%) — value=0.01511375 BTC"
    assert "\n" not in text


def btc(sats: int) -> str:
    """How findings render an amount: the one BTC formatter, short form."""
    return money_btc(sats, trim=True)


def test_btc_rendering_has_no_float_noise() -> None:
    assert btc(10_000_000) == "0.1 BTC"
    assert btc(100_000_000) == "1 BTC"
    assert btc(1) == "0.00000001 BTC"
    assert btc(2_100_000_000_000_000) == "21000000 BTC"


@pytest.mark.parametrize("confidence", [-0.1, 1.5])
def test_confidence_outside_0_1_is_refused(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        Finding("h", "v", confidence, "s")


def test_duplicate_fact_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Finding("h", "v", 0.5, "s", (("a", 1), ("a", 2)))


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"heuristic": "h", "verdict": "v", "confidence": "x", "subject": "s"},
        {"heuristic": "h", "verdict": "v", "confidence": 0.5, "subject": "s", "facts": [1]},
        {"heuristic": "h", "verdict": "v", "confidence": 0.5, "subject": "s", "facts": {"a": [1]}},
    ],
)
def test_from_dict_rejects_garbage(doc: dict[str, object]) -> None:
    with pytest.raises(ParseError, match="not a stored finding"):
        Finding.from_dict(doc)


def test_tx_helpers_on_real_tx() -> None:
    # 20b98449...: P2WPKH spend with an OP_RETURN, a 546-sat P2TR-like output and change.
    tx = next(t for t in esplora_random().values() if t.txid.startswith("20b984492b"))
    assert payable_vouts(tx) == [1, 2]  # the OP_RETURN (vout 0) carries nothing
    assert input_owner(tx.inputs[0]) == "bc1qnzw0zfm5l3c9vztpp3aegx0j68zgqajyffr2r6"
    assert output_owner(tx.outputs[0]) == tx.outputs[0].script.hex()
