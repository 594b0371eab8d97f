"""Peel chains: a large sum paid out a little at a time, hop after hop.

The classic cash-out pattern: a wallet holding the loot spends it in a tx with two outputs, a
small "peel" (to an exchange, a mixer, a supplier) and a large change that the next tx spends
the same way. Investigators want the chain as one object with its peels, not N separate txs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from btcwatch.model import OutPoint, Tx
from btcwatch.trace.evidence import Finding, input_owner, payable_vouts

__all__ = ["PeelChain", "PeelHop", "find_peel_chains", "is_peel_step", "spends_of"]

HEURISTIC = "peel_chain"
#: A peel is at most this share of the two outputs ("much smaller" than the change).
MAX_PEEL_SHARE = 0.2
#: A peel step spends one coin, or a few coins of one address.
MAX_INPUTS = 3


class PeelHop(NamedTuple):
    """One step: the peel paid out and the change that carries on."""

    txid: str
    peel: OutPoint
    peel_value: int
    peel_address: str | None
    change: OutPoint
    change_value: int


@dataclass(frozen=True, slots=True)
class PeelChain:
    """Consecutive peel steps, each spending the previous step's change."""

    hops: tuple[PeelHop, ...]

    @property
    def start_txid(self) -> str:
        return self.hops[0].txid

    @property
    def end(self) -> OutPoint:
        """The last change output: where the rest of the money went next."""
        return self.hops[-1].change

    @property
    def total_peeled(self) -> int:
        return sum(hop.peel_value for hop in self.hops)

    @property
    def remaining(self) -> int:
        return self.hops[-1].change_value

    def __len__(self) -> int:
        return len(self.hops)

    def finding(self) -> Finding:
        """The chain as one piece of evidence for a report."""
        confidence = min(0.95, 0.5 + 0.1 * len(self.hops))
        return Finding.of(
            HEURISTIC,
            "peel_chain",
            confidence,
            self.start_txid,
            {
                "hops": len(self.hops),
                "total_peeled_sats": self.total_peeled,
                "remaining_sats": self.remaining,
                "last_txid": self.hops[-1].txid,
                "continues_at": str(self.end),
            },
        )


def is_peel_step(
    tx: Tx, *, max_peel_share: float = MAX_PEEL_SHARE, max_inputs: int = MAX_INPUTS
) -> Finding | None:
    """A finding (verdict "peel") if the tx pays a small peel and keeps a large change."""
    step = _peel_step(tx, max_peel_share, max_inputs)
    if step is None:
        return None
    small, large, peel, change, share = step
    return Finding.of(
        HEURISTIC,
        "peel",
        0.7 if share <= 0.05 else 0.6,
        tx.txid,
        {
            "peel_vout": small,
            "peel_sats": peel,
            "change_vout": large,
            "change_sats": change,
            "peel_share": round(share, 4),
        },
    )


def _peel_step(
    tx: Tx, max_peel_share: float, max_inputs: int
) -> tuple[int, int, int, int, float] | None:
    """(peel vout, change vout, peel sats, change sats, peel share) of a peel step, else None:
    the numbers alone, so a chain search over a million txs builds no finding per tx."""
    inputs = tx.inputs
    if not 1 <= len(inputs) <= max_inputs:
        return None
    if len(inputs) > 1:
        owners = {input_owner(txin) for txin in inputs}
        if len(owners) != 1 or None in owners:
            return None
    elif inputs[0].prevout is None:  # a coinbase
        return None
    vouts = payable_vouts(tx)
    if len(vouts) != 2:
        return None
    first, second = vouts
    outputs = tx.outputs
    a, b = outputs[first].value, outputs[second].value
    small, large, peel, change = (first, second, a, b) if a < b else (second, first, b, a)
    if peel == change:
        return None
    share = peel / (peel + change)
    if share > max_peel_share:
        return None
    return small, large, peel, change, share


def spends_of(txs: Mapping[str, Tx]) -> dict[OutPoint, str]:
    """Which tx (in the mapping) spends each outpoint: the links a chain walks along."""
    return {
        txin.prevout: txid
        for txid, tx in txs.items()
        for txin in tx.inputs
        if txin.prevout is not None
    }


def find_peel_chains(
    txs: Mapping[str, Tx],
    spends: Mapping[OutPoint, str] | None = None,
    *,
    min_hops: int = 2,
    max_peel_share: float = MAX_PEEL_SHARE,
    max_inputs: int = MAX_INPUTS,
) -> list[PeelChain]:
    """Every maximal chain of at least ``min_hops`` peel steps, longest first.

    ``spends`` maps an outpoint to the txid spending it (as explorers' outspends say); when
    omitted it is derived from the txs themselves.
    """
    hops: dict[str, PeelHop] = {}
    for txid, tx in txs.items():
        step = _peel_step(tx, max_peel_share, max_inputs)
        if step is not None:
            small, large, peel, change, _ = step
            hops[txid] = PeelHop(
                tx.txid,
                OutPoint(tx.txid, small),
                peel,
                tx.outputs[small].address,
                OutPoint(tx.txid, large),
                change,
            )
    following: dict[str, str] = {}
    if spends is None:
        # Derived from the txs: who spends each hop's change (the last one, as spends_of
        # would say), found by txid so that no outpoint is built or hashed per input; a hop
        # is followed when that spender is another hop.
        for txid, tx in txs.items():
            is_hop = txid in hops
            for txin in tx.inputs:
                prev = txin.prevout
                if prev is not None:
                    hop = hops.get(prev.txid)
                    if hop is not None and hop.change.vout == prev.vout:
                        if is_hop and txid != prev.txid:
                            following[prev.txid] = txid
                        else:  # (a later spender that is no hop: the chain ends there)
                            following.pop(prev.txid, None)
    else:
        for txid, hop in hops.items():
            spent_by = spends.get(hop.change)
            if (
                spent_by is not None
                and spent_by in hops
                and spent_by != txid
                and any(txin.prevout == hop.change for txin in txs[spent_by].inputs)
            ):
                following[txid] = spent_by
    has_predecessor = set(following.values())
    chains: list[PeelChain] = []
    for txid in hops:  # (any order: the chains are sorted below)
        if txid in has_predecessor:
            continue
        walk = [hops[txid]]
        seen = {txid}
        current: str | None = following.get(txid)
        while current is not None and current not in seen:
            seen.add(current)
            walk.append(hops[current])
            current = following.get(current)
        if len(walk) >= min_hops:
            chains.append(PeelChain(tuple(walk)))
    chains.sort(key=lambda chain: (-len(chain), chain.start_txid))
    return chains
