"""Findings: what a heuristic concluded, how sure it is, and the facts it looked at.

Heuristics are guesses. An investigator (and a court) must be able to see *why* btcwatch
thinks an output is change or an address belongs to an exchange, so every heuristic returns a
`Finding` carrying the facts it used, never a bare boolean. Findings are plain values: they
go to JSON for the database and to one line of text for a report.

Fact keys ending in ``_sats`` hold integer satoshis and are rendered in BTC by `explain()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from btcwatch.chain.script import OP_RETURN, ScriptType, classify
from btcwatch.errors import ParseError
from btcwatch.model import Tx, TxIn, TxOut
from btcwatch.money import btc

__all__ = ["FactValue", "Finding", "input_owner", "output_owner", "payable_vouts"]

FactValue = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Finding:
    """One heuristic's verdict on one subject (a txid, ``txid:vout`` or an address).

    ``facts`` is an ordered tuple of (key, value) pairs with unique keys: the inputs to the
    verdict, kept so the verdict can be re-checked by a person.
    """

    heuristic: str
    verdict: str
    confidence: float
    subject: str
    facts: tuple[tuple[str, FactValue], ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be within 0..1, got {self.confidence}")
        keys = [key for key, _ in self.facts]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate fact keys in {self.heuristic} finding: {keys}")

    @classmethod
    def of(
        cls,
        heuristic: str,
        verdict: str,
        confidence: float,
        subject: str,
        facts: Mapping[str, FactValue] | None = None,
    ) -> Finding:
        """Build a finding from a dict of facts (order kept); confidence rounded to 3 places."""
        pairs = tuple(facts.items()) if facts else ()
        return cls(heuristic, verdict, round(float(confidence), 3), subject, pairs)

    def fact(self, key: str) -> FactValue | None:
        """The value of one fact, or None when the heuristic did not record it."""
        for name, value in self.facts:
            if name == key:
                return value
        return None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; facts become an object (insertion order kept)."""
        return {
            "heuristic": self.heuristic,
            "verdict": self.verdict,
            "confidence": self.confidence,
            "subject": self.subject,
            "facts": dict(self.facts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Read back what `to_dict` wrote (e.g. from the database)."""
        try:
            facts = data.get("facts", {})
            if not isinstance(facts, Mapping):
                raise TypeError("facts is not an object")
            for key, value in facts.items():
                if not isinstance(key, str) or not isinstance(value, str | int | float | bool):
                    raise TypeError(f"fact {key!r} has an unsupported value {value!r}")
            return cls(
                str(data["heuristic"]),
                str(data["verdict"]),
                float(data["confidence"]),
                str(data["subject"]),
                tuple(facts.items()),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ParseError(f"not a stored finding: {exc}") from None

    def explain(self) -> str:
        """One report line: ``round_amount: <txid>:1 is not_change (55%) — value=0.1 BTC; ...``."""
        head = f"{self.heuristic}: {self.subject} is {self.verdict} ({self.confidence:.0%})"
        if not self.facts:
            return head
        rendered = "; ".join(f"{_label(k)}={_render(k, v)}" for k, v in self.facts)
        return f"{head} — {rendered}"


def _label(key: str) -> str:
    return key[: -len("_sats")] if key.endswith("_sats") else key


def _render(key: str, value: FactValue) -> str:
    if key.endswith("_sats") and isinstance(value, int) and not isinstance(value, bool):
        return btc(value, trim=True)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# -- small facts about a transaction that several heuristics read ---------------------------


def input_owner(txin: TxIn) -> str | None:
    """Who controls a spent output, as far as the data says: its address, else its script.

    None when the explorer gave neither (raw block data): callers decide what unknown means.
    """
    if txin.prev_address is not None:
        return txin.prev_address
    if txin.prev_script is not None:
        return txin.prev_script.hex()
    return None


def output_owner(txout: TxOut) -> str:
    """An output's address, or its script in hex when it has no address form."""
    return txout.address if txout.address is not None else txout.script.hex()


def payable_vouts(tx: Tx) -> list[int]:
    """Indexes of outputs that can carry value onwards: not OP_RETURN, not zero-valued.

    Change and peel heuristics reason about these only; a data carrier is nobody's change.
    Runs for every tx of a flow, several times: `classify` says OP_RETURN exactly when the
    first byte is OP_RETURN, so that byte is all this looks at.
    """
    return [
        vout
        for vout, out in enumerate(tx.outputs)
        if out.value > 0 and out.script[:1] != _OP_RETURN
    ]


_OP_RETURN = bytes((OP_RETURN,))
assert classify(_OP_RETURN) is ScriptType.OP_RETURN
