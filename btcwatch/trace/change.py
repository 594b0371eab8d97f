"""Change detection: which output of a payment went back to the sender.

Following ransom money means following the *payer's* side of each spend: the change output
stays with the criminal, the other outputs are payments. No single rule is reliable, so each
sub-heuristic below returns per-output `Finding`s ("change" / "not_change") with the facts it
used, and `detect_change` combines them, refusing to guess when they disagree, when there is
only one output, or in a CoinJoin (where "the sender" is many people).

Sub-heuristics (Meiklejohn et al. 2013; Nick 2015; Ghesmati et al. 2022 for UIH1/UIH2):

* script type: wallets send change to their own script type; a lone output matching the
  (single) script type of all inputs is change.
* round amount: payments are often round in BTC (multiple of 0.001, 0.01, 0.1 BTC ...) or in a
  fiat currency; change is whatever is left, so a lone non-round output is change.
* address reuse: an output paying back to an input address is change. Optionally, with a
  ``seen_before`` oracle, a lone never-seen-before output among seen ones is change.
* optimal change (UIH1): if the change were larger than the smallest input, that input would
  have been unnecessary; so if exactly one output is smaller than the smallest input, it is
  the change.
* unnecessary input (UIH2): if the inputs without the smallest one already cover the largest
  output plus the fee, the smallest input was unnecessary whichever output is the payment (with
  two outputs, the smaller output is then coverable too). The literature uses this as a
  transaction-level flag: not a standard wallet's payment (PayJoin, consolidation, or unusual
  coin selection). It names no output; `detect_change` lowers its confidence instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple, cast

from btcwatch.chain.script import classify
from btcwatch.errors import InputError
from btcwatch.model import COIN, OutPoint, Tx
from btcwatch.money import btc
from btcwatch.trace.coinjoin import coinjoin_of
from btcwatch.trace.evidence import Finding, payable_vouts

__all__ = [
    "ChangeVerdict",
    "FiatRate",
    "by_address_reuse",
    "by_optimal_change",
    "by_round_amount",
    "by_script_type",
    "by_unnecessary_input",
    "detect_change",
    "round_step",
]

CHANGE = "change"
NOT_CHANGE = "not_change"
#: Below this combined confidence detect_change prefers no answer to a coin toss.
MIN_CONFIDENCE = 0.3
#: Confidence kept when UIH2 says the tx is not a standard wallet's payment.
UNNECESSARY_INPUT_PENALTY = 0.7

# Roundness in BTC: (step in sats, confidence that an output this round is a payment).
_ROUND_STEPS: tuple[tuple[int, float], ...] = (
    (COIN, 0.8),
    (10_000_000, 0.75),
    (1_000_000, 0.65),
    (100_000, 0.55),
)
_SMALLEST_STEP = _ROUND_STEPS[-1][0]


@dataclass(frozen=True, slots=True)
class FiatRate:
    """A fiat price for rounding tests, e.g. FiatRate("USD", Decimal("2700.50")) per BTC.

    ``tolerance`` is relative: an amount within it of a round fiat figure counts as round.
    """

    currency: str
    per_btc: Decimal
    tolerance: Decimal = Decimal("0.005")

    def __post_init__(self) -> None:
        if self.per_btc <= 0:
            raise InputError(f"{self.currency} price per BTC must be positive, got {self.per_btc}")
        if not 0 <= self.tolerance < 1:
            raise InputError(f"fiat rounding tolerance must be within 0..1, got {self.tolerance}")


class ChangeVerdict(NamedTuple):
    """The combined answer for one tx: the change output (or None, with the reason).

    ``reason`` is "supported" when vout is set, else one of "coinbase", "single_output",
    "coinjoin", "no_signal", "weak" (below MIN_CONFIDENCE) or "conflict" (a tie).
    """

    txid: str
    vout: int | None
    confidence: float
    findings: tuple[Finding, ...]
    reason: str

    @property
    def outpoint(self) -> OutPoint | None:
        return None if self.vout is None else OutPoint(self.txid, self.vout)

    def summary(self) -> Finding | None:
        """One finding for storage and reports: the verdict and which heuristics backed it."""
        if self.vout is None:
            return None
        backing = sorted(
            {f.heuristic for f in self.findings if f.subject == f"{self.txid}:{self.vout}"}
        )
        return Finding.of(
            "change",
            CHANGE,
            self.confidence,
            f"{self.txid}:{self.vout}",
            {"heuristics": ",".join(backing), "reason": self.reason},
        )


def round_step(sats: int) -> int | None:
    """The largest round BTC step (1, 0.1, 0.01 or 0.001 BTC) dividing an amount, else None."""
    if sats <= 0:
        return None
    for step, _ in _ROUND_STEPS:
        if sats % step == 0:
            return step
    return None


def _subject(tx: Tx, vout: int) -> str:
    return f"{tx.txid}:{vout}"


def by_script_type(tx: Tx) -> list[Finding]:
    """Change has the script type all inputs share; the other types are payments."""
    return [] if tx.is_coinbase else _by_script_type(tx, payable_vouts(tx))


# The _by_* cores take what detect_change computed once per tx (payable outputs, input
# values) and leave the coinbase check to their callers.


def _by_script_type(tx: Tx, vouts: Sequence[int]) -> list[Finding]:
    if len(vouts) < 2:
        return []
    input_type = None
    for txin in tx.inputs:
        script = txin.prev_script
        if script is None:
            return []
        if script:
            kind = classify(script)
            if input_type is None:
                input_type = kind
            elif kind != input_type:
                return []  # inputs of several types: no type is "the sender's"
    if input_type is None:
        return []
    outputs = tx.outputs
    types = {vout: classify(outputs[vout].script) for vout in vouts}
    matching = [vout for vout, kind in types.items() if kind is input_type]  # (enum members)
    if len(matching) == len(vouts):
        return []  # every output the inputs' type: nothing to tell change from payment
    if not matching:
        return []
    confidence = 0.6 if len(matching) == 1 else 0.5
    findings: list[Finding] = []
    for vout, kind in types.items():
        facts = {"input_type": str(input_type), "output_type": str(kind)}
        if kind != input_type:
            findings.append(
                Finding.of("script_type", NOT_CHANGE, confidence, _subject(tx, vout), facts)
            )
        elif len(matching) == 1:
            findings.append(
                Finding.of("script_type", CHANGE, confidence, _subject(tx, vout), facts)
            )
    return findings


def _fiat_round(sats: int, rate: FiatRate) -> Decimal | None:
    """The round fiat figure an amount is close to, if any.

    "Round" means at most two significant digits, the second being 0 or 5 (300, 350, 1500,
    2000, 45): the amounts people type. Weak on its own; it only counts as one more vote.
    """
    value = Decimal(sats) * rate.per_btc / COIN
    if value < 1:
        return None
    exponent = value.adjusted() - 1  # keep two significant digits
    step = Decimal(5).scaleb(exponent)
    nearest = (value / step).to_integral_value() * step
    if nearest == 0 or abs(value - nearest) > rate.tolerance * value:
        return None
    return nearest


def by_round_amount(tx: Tx, *, fiat: FiatRate | None = None) -> list[Finding]:
    """Round outputs are payments; a lone non-round output among round ones is the change."""
    return [] if tx.is_coinbase else _by_round_amount(tx, payable_vouts(tx), fiat)


def _by_round_amount(tx: Tx, vouts: Sequence[int], fiat: FiatRate | None) -> list[Finding]:
    if len(vouts) < 2:
        return []
    if fiat is None:
        outputs = tx.outputs
        for vout in vouts:
            if not outputs[vout].value % _SMALLEST_STEP:
                break
        else:
            return []  # nothing round: the usual case, answered without building anything
    findings: list[Finding] = []
    not_round: list[int] = []
    best = 0.0
    for vout in vouts:
        value = tx.outputs[vout].value
        step = round_step(value)
        fiat_figure = _fiat_round(value, fiat) if fiat is not None else None
        if step is not None:
            confidence = dict(_ROUND_STEPS)[step]
            facts: dict[str, str | int] = {"value_sats": value, "round_to": btc(step, trim=True)}
        elif fiat is not None and fiat_figure is not None:
            confidence = 0.4
            facts = {"value_sats": value, "round_fiat": f"{fiat_figure:f} {fiat.currency}"}
        else:
            not_round.append(vout)
            continue
        best = max(best, confidence)
        findings.append(
            Finding.of("round_amount", NOT_CHANGE, confidence, _subject(tx, vout), facts)
        )
    if len(not_round) == 1 and findings:
        (vout,) = not_round
        facts = {"value_sats": tx.outputs[vout].value, "round_outputs": len(findings)}
        findings.append(Finding.of("round_amount", CHANGE, best, _subject(tx, vout), facts))
    return findings if not_round else []


def by_address_reuse(tx: Tx, *, seen_before: Callable[[str], bool] | None = None) -> list[Finding]:
    """An output back to an input address is change; else a lone fresh address may be.

    ``seen_before(address)`` should say whether the address appeared on chain before this tx.
    """
    return [] if tx.is_coinbase else _by_address_reuse(tx, payable_vouts(tx), seen_before)


def _by_address_reuse(
    tx: Tx, vouts: Sequence[int], seen_before: Callable[[str], bool] | None
) -> list[Finding]:
    if len(vouts) < 2:
        return []
    inputs = {txin.prev_address for txin in tx.inputs if txin.prev_address is not None}
    reused = [vout for vout in vouts if tx.outputs[vout].address in inputs]
    if len(reused) == 1:
        (change,) = reused
        address = tx.outputs[change].address or ""
        findings = [
            Finding.of(
                "address_reuse", CHANGE, 0.9, _subject(tx, change), {"input_address": address}
            )
        ]
        for vout in vouts:
            if vout != change:
                findings.append(
                    Finding.of(
                        "address_reuse",
                        NOT_CHANGE,
                        0.8,
                        _subject(tx, vout),
                        {"sender_reused": address},
                    )
                )
        return findings
    if reused or seen_before is None:
        return []
    addresses = {vout: tx.outputs[vout].address for vout in vouts}
    if any(a is None for a in addresses.values()):
        return []
    seen = {vout: seen_before(a) for vout, a in addresses.items() if a is not None}
    fresh = [vout for vout, was_seen in seen.items() if not was_seen]
    if len(fresh) != 1:
        return []
    (change,) = fresh
    findings = [
        Finding.of("fresh_address", CHANGE, 0.5, _subject(tx, change), {"seen_before": False})
    ]
    for vout in vouts:
        if vout != change:
            findings.append(
                Finding.of(
                    "fresh_address", NOT_CHANGE, 0.5, _subject(tx, vout), {"seen_before": True}
                )
            )
    return findings


def _input_values(tx: Tx) -> list[int] | None:
    values: list[int] = []
    for txin in tx.inputs:
        if txin.prev_value is None:
            return None
        values.append(txin.prev_value)
    if not values or tx.is_coinbase:
        return None
    return values


def by_optimal_change(tx: Tx) -> list[Finding]:
    """UIH1: exactly one output smaller than the smallest input is the change."""
    return _by_optimal_change(tx, payable_vouts(tx), _input_values(tx))


def _by_optimal_change(tx: Tx, vouts: Sequence[int], values: list[int] | None) -> list[Finding]:
    if values is None or len(vouts) < 2:
        return []
    smallest = min(values)
    below = [vout for vout in vouts if tx.outputs[vout].value < smallest]
    if len(below) != 1:
        return []
    findings: list[Finding] = []
    for vout in vouts:
        facts = {"value_sats": tx.outputs[vout].value, "smallest_input_sats": smallest}
        verdict = CHANGE if vout in below else NOT_CHANGE
        findings.append(Finding.of("optimal_change", verdict, 0.6, _subject(tx, vout), facts))
    return findings


def by_unnecessary_input(tx: Tx) -> list[Finding]:
    """UIH2: a tx-level flag when the smallest input was unnecessary for the largest output."""
    return _by_unnecessary_input(tx, payable_vouts(tx), _input_values(tx))


def _by_unnecessary_input(tx: Tx, vouts: Sequence[int], values: list[int] | None) -> list[Finding]:
    if values is None or len(values) < 2 or len(vouts) < 2:
        return []
    fee = sum(values) - tx.output_value
    smallest = min(values)
    largest = max(tx.outputs[vout].value for vout in vouts)
    if sum(values) - smallest < largest + fee:
        return []
    facts = {
        "inputs_without_smallest_sats": sum(values) - smallest,
        "largest_output_sats": largest,
        "fee_sats": fee,
    }
    return [Finding.of("unnecessary_input", "not_standard_payment", 0.5, tx.txid, facts)]


def detect_change(
    tx: Tx,
    *,
    seen_before: Callable[[str], bool] | None = None,
    fiat: FiatRate | None = None,
) -> ChangeVerdict:
    """Combine the sub-heuristics into one change output, or None with the reason why."""
    inputs = tx.inputs
    if len(inputs) == 1 and inputs[0].prevout is None:  # (tx.is_coinbase, inlined: hot)
        return ChangeVerdict(tx.txid, None, 0.0, (), "coinbase")
    vouts = payable_vouts(tx)
    if len(vouts) < 2:
        return ChangeVerdict(tx.txid, None, 0.0, (), "single_output")
    coinjoin = coinjoin_of(tx, vouts) if len(inputs) > 1 else None  # (it needs 2 inputs)
    if coinjoin is not None:
        return ChangeVerdict(tx.txid, None, 0.0, (coinjoin,), "coinjoin")
    if len(inputs) == 1 and seen_before is None and fiat is None and _silent(tx, vouts):
        return ChangeVerdict(tx.txid, None, 0.0, (), "no_signal")
    spent = [txin.prev_value for txin in inputs]  # (_input_values, knowing it is no coinbase)
    values = None if not spent or None in spent else cast(list[int], spent)
    findings = [
        *_by_address_reuse(tx, vouts, seen_before),
        *_by_script_type(tx, vouts),
        *_by_round_amount(tx, vouts, fiat),
        *_by_optimal_change(tx, vouts, values),
    ]
    flags = _by_unnecessary_input(tx, vouts, values)
    all_findings = tuple(findings + flags)
    if not findings:
        return ChangeVerdict(tx.txid, None, 0.0, all_findings, "no_signal")
    scores = _score(vouts, findings)
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    best_vout, best = ranked[0]
    if flags:
        best *= UNNECESSARY_INPUT_PENALTY
    if best < MIN_CONFIDENCE:
        return ChangeVerdict(tx.txid, None, round(best, 3), all_findings, "weak")
    if len(ranked) > 1 and ranked[1][1] >= ranked[0][1] - 1e-9:
        return ChangeVerdict(tx.txid, None, 0.0, all_findings, "conflict")
    return ChangeVerdict(tx.txid, best_vout, round(best, 3), all_findings, "supported")


def _silent(tx: Tx, vouts: Sequence[int]) -> bool:
    """True when no sub-heuristic has a finding on a one-input tx (no coinbase, two payable
    outputs or more, no ``seen_before``, no fiat): the usual step of a long flow, decided
    without building their lists. False means "ask them", not that they will find anything.

    No output pays the input's address back (address reuse), none is round, the number of
    outputs below the input's value is not exactly one (optimal change), and every output has
    the input's script type (or that type is unknown); with one input UIH2 never applies."""
    txin = tx.inputs[0]
    address, value = txin.prev_address, txin.prev_value
    outputs = tx.outputs
    below = 0
    for vout in vouts:
        out = outputs[vout]
        if address is not None and out.address == address:
            return False
        if not out.value % _SMALLEST_STEP:
            return False
        if value is not None and out.value < value:
            below += 1
    if below == 1:
        return False
    script = txin.prev_script
    if script:  # (None or empty: no input type, so no script-type finding)
        kind = classify(script)
        for vout in vouts:
            if classify(outputs[vout].script) is not kind:
                return False
    return True


def _score(vouts: Sequence[int], findings: Sequence[Finding]) -> dict[int, float]:
    """Per output: (support) x (1 - opposition), each a noisy-OR over heuristics.

    Within one heuristic, "not_change" on every other output supports an output as much as
    a "change" on it does (with two outputs the two say the same thing): take the max so a
    heuristic is never counted twice.
    """
    by_heuristic: dict[str, dict[int, dict[str, float]]] = {}
    for finding in findings:
        vout = int(finding.subject.rsplit(":", 1)[1])
        verdicts = by_heuristic.setdefault(finding.heuristic, {}).setdefault(vout, {})
        verdicts[finding.verdict] = max(verdicts.get(finding.verdict, 0.0), finding.confidence)
    scores: dict[int, float] = {}
    for vout in vouts:
        keep_for = 1.0
        keep_against = 1.0
        for per_vout in by_heuristic.values():
            mine = per_vout.get(vout, {})
            others = [per_vout.get(other, {}) for other in vouts if other != vout]
            others_not = min((o.get(NOT_CHANGE, 0.0) for o in others), default=0.0)
            others_change = max((o.get(CHANGE, 0.0) for o in others), default=0.0)
            support = max(mine.get(CHANGE, 0.0), others_not)
            against = max(mine.get(NOT_CHANGE, 0.0), others_change)
            keep_for *= 1.0 - support
            keep_against *= 1.0 - against
        scores[vout] = (1.0 - keep_for) * keep_against
    return scores
