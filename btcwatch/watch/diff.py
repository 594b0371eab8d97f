"""The pure diff that decides which events are new.

A poll produces an :class:`Observation` (outputs paying watched addresses, spends of watched
outputs, txids known to be gone, orphaned blocks). :func:`plan_events` compares it with what was
already reported and returns only new events. Ids are deterministic hashes, so the same
observation planned twice, or after a crash, never reports anything twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from btcwatch.event import Event, Kind, event_id
from btcwatch.model import CaseOutput, OutPoint


@dataclass(frozen=True, slots=True)
class Payment(CaseOutput):
    """An output paying a watched address, as seen now, with its block's time when mined."""

    time: int | None


@dataclass(frozen=True, slots=True)
class Spend:
    """A watched output spent by ``txid`` (input ``vin``), as seen now."""

    case: str
    address: str
    outpoint: OutPoint
    value: int
    txid: str
    vin: int
    height: int | None
    block_hash: str | None


@dataclass(slots=True)
class Observation:
    """Everything one poll learned. Pure data: no I/O, no clock."""

    tip_height: int
    payments: list[Payment] = field(default_factory=list)
    spends: list[Spend] = field(default_factory=list)
    gone_txids: set[str] = field(default_factory=set)  # dropped or replaced, not in best chain
    orphaned_blocks: set[str] = field(default_factory=set)  # block hashes reorganised away
    spend_outputs: dict[str, list[tuple[str | None, int]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reported:
    """The not-reverted events already stored, reduced to what the diff needs."""

    ids: frozenset[str]
    by_txid: Mapping[str, tuple[str, ...]]  # txid -> event ids mentioning it
    by_block: Mapping[str, tuple[str, ...]]  # block hash -> confirmed event ids

    @classmethod
    def from_events(cls, events: Iterable[Event], reverted: Iterable[str] = ()) -> Reported:
        """Index stored events; ``reverted`` ids stay known but are never reverted again."""
        dead = set(reverted)
        ids: set[str] = set()
        by_txid: dict[str, list[str]] = defaultdict(list)
        by_block: dict[str, list[str]] = defaultdict(list)
        for ev in events:
            ids.add(ev.id)
            if ev.id in dead or ev.kind is Kind.REVERTED:
                continue
            for txid in _txids_of(ev):
                by_txid[txid].append(ev.id)
            if ev.kind is Kind.PAYMENT_CONFIRMED and ev.block_hash:
                by_block[ev.block_hash].append(ev.id)
        return cls(
            frozenset(ids),
            {k: tuple(v) for k, v in by_txid.items()},
            {k: tuple(v) for k, v in by_block.items()},
        )


def _txids_of(ev: Event) -> list[str]:
    txids = [ev.txid] if ev.txid else []
    spender = ev.details.get("spending_txid")
    if isinstance(spender, str):
        txids.append(spender)
    return txids


def confirmations(height: int | None, tip_height: int) -> int:
    return 0 if height is None else max(0, tip_height - height + 1)


def payment_events(p: Payment, tip_height: int, needed: int) -> list[Event]:
    """The received event, and the confirmed one once ``needed`` confirmations are reached."""
    out = [
        Event(
            event_id(Kind.PAYMENT_RECEIVED, p.case, p.outpoint.txid, p.outpoint.vout),
            Kind.PAYMENT_RECEIVED,
            p.case,
            p.address,
            p.outpoint.txid,
            p.outpoint.vout,
            p.value,
            p.height,
            p.block_hash,
        )
    ]
    if p.height is not None and confirmations(p.height, tip_height) >= needed:
        out.append(
            Event(
                event_id(
                    Kind.PAYMENT_CONFIRMED, p.case, p.outpoint.txid, p.outpoint.vout, p.block_hash
                ),
                Kind.PAYMENT_CONFIRMED,
                p.case,
                p.address,
                p.outpoint.txid,
                p.outpoint.vout,
                p.value,
                p.height,
                p.block_hash,
                {"confirmations": needed},
            )
        )
    return out


def complete_spends(obs: Observation, known: Iterable[Spend]) -> None:
    """Add spends recorded by earlier ticks of a tx seen spending again in ``obs``.

    A tick may see only some of a tx's watched inputs (a request budget spreads addresses over
    ticks); with the earlier ones added, ``co_spent`` names every watched address of the tx.
    Their own ``funds_moved`` ids are already reported, so nothing is repeated.
    """
    now = {s.txid: s for s in obs.spends}
    have = {(s.case, s.outpoint, s.txid) for s in obs.spends}
    for k in known:
        seen = now.get(k.txid)
        if seen is None or (k.case, k.outpoint, k.txid) in have:
            continue
        have.add((k.case, k.outpoint, k.txid))
        obs.spends.append(
            Spend(
                k.case, k.address, k.outpoint, k.value, k.txid, k.vin, seen.height, seen.block_hash
            )
        )


def spend_events(
    spends: Iterable[Spend], outputs: Mapping[str, list[tuple[str | None, int]]]
) -> list[Event]:
    """funds_moved per (address, spending tx); co_spent per tx spending 2+ watched addresses."""
    moved: dict[tuple[str, str, str], list[Spend]] = defaultdict(list)
    for s in spends:
        moved[(s.case, s.address, s.txid)].append(s)
    out: list[Event] = []
    by_tx: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (case, address, txid), group in moved.items():
        first = min(group, key=lambda s: s.vin)
        value = sum(s.value for s in group)
        out.append(
            Event(
                event_id(Kind.FUNDS_MOVED, case, address, txid),
                Kind.FUNDS_MOVED,
                case,
                address,
                txid,
                None,
                value,
                first.height,
                first.block_hash,
                {
                    "spending_txid": txid,
                    "spent_outpoints": sorted(str(s.outpoint) for s in group),
                    "destinations": [
                        {"address": a, "value_sat": v} for a, v in outputs.get(txid, [])
                    ],
                },
            )
        )
        by_tx[(case, txid)].append(address)
    for (case, txid), addresses in by_tx.items():
        if len(addresses) < 2:
            continue
        group = [s for s in spends if s.case == case and s.txid == txid]
        out.append(
            Event(
                event_id(Kind.CO_SPENT, case, txid),
                Kind.CO_SPENT,
                case,
                None,
                txid,
                None,
                sum(s.value for s in group),
                group[0].height,
                group[0].block_hash,
                {"spending_txid": txid, "addresses": sorted(addresses)},
            )
        )
    return out


def revert_event(original: str, case: str, txid: str | None, reason: str) -> Event:
    return Event(
        event_id(Kind.REVERTED, original),
        Kind.REVERTED,
        case,
        None,
        txid,
        None,
        None,
        None,
        None,
        {"reverts": original, "reason": reason},
    )


def plan_events(
    reported: Reported,
    obs: Observation,
    *,
    needed_confirmations: int = 1,
    case_of: Mapping[str, str] | None = None,
) -> list[Event]:
    """New events for ``obs`` given what was ``reported``; never repeats a stored id.

    ``case_of`` maps a reported event id to its case, for the reverted events.
    """
    planned: list[Event] = []
    for p in obs.payments:
        planned.extend(payment_events(p, obs.tip_height, needed_confirmations))
    planned.extend(spend_events(obs.spends, obs.spend_outputs))

    cases = case_of or {}
    txid_of = {ev_id: txid for txid, ids in reported.by_txid.items() for ev_id in ids}
    reverts: dict[str, tuple[str, str]] = {}
    for block in sorted(obs.orphaned_blocks):
        for original in reported.by_block.get(block, ()):
            reverts[original] = (f"block {block} left the best chain", txid_of.get(original, ""))
    for txid in sorted(obs.gone_txids):
        for original in reported.by_txid.get(txid, ()):
            reverts[original] = (
                f"transaction {txid} is no longer in the best chain or the mempool",
                txid,
            )
    for original, (reason, txid) in sorted(reverts.items()):
        planned.append(revert_event(original, cases.get(original, ""), txid or None, reason))

    # A replaced tx's events are reverted; never re-plan them in the same breath.
    seen = set(reported.ids)
    fresh: list[Event] = []
    for ev in planned:
        if ev.id in seen or (ev.kind is not Kind.REVERTED and ev.txid in obs.gone_txids):
            continue
        seen.add(ev.id)
        fresh.append(ev)
    return fresh
