"""CoinJoin detection: transactions whose inputs belong to many people.

A CoinJoin breaks the two assumptions the other heuristics rest on (all inputs have one owner;
one output is the sender's change), so clustering and change detection must skip it and a
report must say the trail goes cold there. Detection is by output-value patterns:

* Whirlpool (Samourai): n inputs, n outputs, all exactly one pool size (0.001, 0.01, 0.05 or
  0.5 BTC). n is 5 in classic mixes; "surge cycles" (2023) allowed up to 8, as seen on chain.
* Wasabi 2.0 (WabiSabi): many inputs, most outputs at the 79 standard denominations
  (2^k, 3^k, 2*3^k, 10^k, 2*10^k and 5*10^k sats between 5,000 sats and 2^37 sats).
* Wasabi 1.0 (ZeroLink): many equal outputs near 0.1 BTC, often with mixing levels at about
  2x, 4x, 8x that value, plus change and a coordinator fee output.
* JoinMarket: n >= 3 equal outputs and n-1 or n change outputs, n+ inputs from distinct
  addresses (every maker gets change; the taker may sweep).
* generic: >= 3 equal outputs, at least as many inputs from distinct addresses, and the equal
  outputs at least a third of all outputs (so an exchange batch paying three equal amounts
  from one wallet is not flagged).

Inputs whose owner is unknown (no prevout data) count as distinct: flagging a CoinJoin only
stops clustering and change guesses, which is the safe direction for an investigation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from btcwatch.model import Tx
from btcwatch.money import btc
from btcwatch.trace.evidence import Finding, input_owner, payable_vouts

__all__ = [
    "WASABI2_DENOMINATIONS",
    "WHIRLPOOL_POOLS",
    "coinjoin_of",
    "describe",
    "detect_coinjoin",
    "is_coinjoin",
    "wasabi2_denominations",
]

HEURISTIC = "coinjoin"

#: Whirlpool pool sizes in sats -> name.
WHIRLPOOL_POOLS: dict[int, str] = {
    100_000: "0.001 BTC",
    1_000_000: "0.01 BTC",
    5_000_000: "0.05 BTC",
    50_000_000: "0.5 BTC",
}
WHIRLPOOL_MIN_PARTICIPANTS = 5
WHIRLPOOL_MAX_PARTICIPANTS = 8

WASABI2_MIN_INPUTS = 50
WASABI2_MIN_STANDARD_SHARE = 0.6
WASABI1_MIN_EQUAL = 10
WASABI1_DENOMINATION_RANGE = (8_000_000, 15_000_000)
MIN_EQUAL_OUTPUTS = 3
#: Equal outputs below this (dust, inscriptions, stamps) are not treated as a mix.
MIN_DENOMINATION = 5_000


def wasabi2_denominations(min_sats: int = 5_000, max_sats: int = 2**37) -> frozenset[int]:
    """The WabiSabi standard denominations between two bounds (79 with the defaults)."""
    found: set[int] = set()
    for base, factor in ((2, 1), (3, 1), (3, 2), (10, 1), (10, 2), (10, 5)):
        value = factor
        while value <= max_sats:
            if value >= min_sats:
                found.add(value)
            value *= base
    return frozenset(found)


WASABI2_DENOMINATIONS = wasabi2_denominations()


def detect_coinjoin(tx: Tx) -> Finding | None:
    """A `Finding` (verdict "coinjoin", fact ``pattern``) if the tx looks like a CoinJoin."""
    if len(tx.inputs) < 2:  # a coinbase has one input
        return None
    return coinjoin_of(tx, payable_vouts(tx))


def coinjoin_of(tx: Tx, vouts: Sequence[int]) -> Finding | None:
    """`detect_coinjoin` for a caller that already has the tx's `payable_vouts`."""
    if len(tx.inputs) < 2:
        return None
    values = [tx.outputs[vout].value for vout in vouts]
    if len(values) < MIN_EQUAL_OUTPUTS:
        return None
    counts = Counter(values)
    denomination, n_equal = max(counts.items(), key=lambda item: (item[1], item[0]))
    owners = _distinct_owners(tx)
    shape = _Shape(tx, values, counts, denomination, n_equal, owners)
    for rule in (_whirlpool, _wasabi2, _wasabi1, _joinmarket, _generic):
        finding = rule(shape)
        if finding is not None:
            return finding
    return None


def is_coinjoin(tx: Tx) -> bool:
    """Shorthand for callers that only need the yes/no (clustering, change detection)."""
    return detect_coinjoin(tx) is not None


class _Shape:
    """The numbers every rule looks at, computed once per transaction."""

    __slots__ = ("counts", "denomination", "n_equal", "n_other", "owners", "tx", "values")

    def __init__(
        self,
        tx: Tx,
        values: Sequence[int],
        counts: Counter[int],
        denomination: int,
        n_equal: int,
        owners: int,
    ) -> None:
        self.tx = tx
        self.values = values
        self.counts = counts
        self.denomination = denomination
        self.n_equal = n_equal
        self.n_other = len(values) - n_equal
        self.owners = owners

    def finding(self, pattern: str, confidence: float, **extra: str | int) -> Finding:
        facts: dict[str, str | int] = {
            "pattern": pattern,
            "denomination_sats": self.denomination,
            "equal_outputs": self.n_equal,
            "outputs": len(self.values),
            "inputs": len(self.tx.inputs),
            "distinct_input_owners": self.owners,
        }
        facts.update(extra)
        return Finding.of(HEURISTIC, "coinjoin", confidence, self.tx.txid, facts)


def _distinct_owners(tx: Tx) -> int:
    owners: set[str] = set()
    for index, txin in enumerate(tx.inputs):
        owner = input_owner(txin)
        owners.add(owner if owner is not None else f"?{index}")
    return len(owners)


def _whirlpool(s: _Shape) -> Finding | None:
    n = len(s.values)
    if not WHIRLPOOL_MIN_PARTICIPANTS <= n <= WHIRLPOOL_MAX_PARTICIPANTS:
        return None
    if s.n_equal != n or len(s.tx.inputs) != n or s.denomination not in WHIRLPOOL_POOLS:
        return None
    return s.finding("whirlpool", 0.95, pool=WHIRLPOOL_POOLS[s.denomination])


def _wasabi2(s: _Shape) -> Finding | None:
    if len(s.tx.inputs) < WASABI2_MIN_INPUTS or s.owners < 2 * MIN_EQUAL_OUTPUTS:
        return None
    standard = [v for v in s.values if v in WASABI2_DENOMINATIONS]
    if len(standard) < WASABI2_MIN_STANDARD_SHARE * len(s.values):
        return None
    repeated = [v for v, c in Counter(standard).items() if c >= 2]
    if not repeated:
        return None
    return s.finding(
        "wasabi2",
        0.9,
        standard_outputs=len(standard),
        repeated_denominations=len(repeated),
    )


def _wasabi1(s: _Shape) -> Finding | None:
    low, high = WASABI1_DENOMINATION_RANGE
    if s.n_equal < WASABI1_MIN_EQUAL or not low <= s.denomination <= high:
        return None
    if len(s.tx.inputs) < s.n_equal or s.owners < s.n_equal:
        return None
    levels = 0
    for power in range(1, 8):
        target = s.denomination << power
        tolerance = target // 200  # mixing levels lose a few sats to rounding: allow 0.5 %
        if any(abs(v - target) <= tolerance and c >= 2 for v, c in s.counts.items()):
            levels += 1
    return s.finding("wasabi1", 0.9, mixing_levels=levels + 1)


def _joinmarket(s: _Shape) -> Finding | None:
    if s.n_equal < MIN_EQUAL_OUTPUTS or s.denomination < MIN_DENOMINATION:
        return None
    if s.n_other not in (s.n_equal - 1, s.n_equal):
        return None
    if len(s.tx.inputs) < s.n_equal or s.owners < s.n_equal:
        return None
    return s.finding("joinmarket", 0.8, change_outputs=s.n_other)


def _generic(s: _Shape) -> Finding | None:
    if s.n_equal < MIN_EQUAL_OUTPUTS or s.denomination < MIN_DENOMINATION:
        return None
    # A participant may take more than one equal output (several registered inputs or
    # mixing levels), so require many distinct owners, not one per equal output.
    if s.owners < max(MIN_EQUAL_OUTPUTS, (s.n_equal + 1) // 2) or 3 * s.n_equal < len(s.values):
        return None
    return s.finding("generic", 0.6)


def describe(finding: Finding) -> str:
    """A short label such as ``whirlpool 5 x 0.01 BTC`` for graph nodes and reports."""
    pattern = finding.fact("pattern")
    count = finding.fact("equal_outputs")
    denomination = finding.fact("denomination_sats")
    if isinstance(denomination, int) and not isinstance(denomination, bool):
        return f"{pattern} {count} x {btc(denomination, trim=True)}"
    return str(pattern)
