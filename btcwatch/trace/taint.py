"""Taint: how much of each output can be traced back to the ransom payments.

Three policies, because courts and analysts disagree on which is fair:

* haircut: every output of a tx carries the tx's tainted share in proportion to its value
  (taint_in x value / value_in); the fee takes its share too. Conserves taint exactly.
* poison: any taint in a tx taints every output (and the fee) fully. An upper bound.
* fifo: inputs and outputs are laid end to end in their order (the fee last); tainted satoshi
  ranges of the inputs land on whichever outputs cover the same positions. Conserves taint.

All amounts are int satoshis. Proportional shares are split with the largest-remainder method:
each share is rounded down, and the few leftover satoshis go to the largest remainders (ties
to the lower index, fee last), so per tx ``sum(outputs) + fee_taint == taint_in`` exactly and
no output ever carries more taint than its value.

Sources are outpoints with a tainted amount (at most their value). A source on an output of a
tx that is itself in the flow sets a floor: the output carries max(source, flowed-in taint).
Under fifo, a source's tainted satoshis are its first ones. Untainted inputs (dust sent by
outsiders) add no taint. Txs that taint never reaches are put in order but not computed, so
a flow of a million txs takes seconds (bench/bench_taint.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast, get_args

from btcwatch.errors import InputError
from btcwatch.model import OutPoint, Tx

__all__ = ["POLICIES", "Policy", "TaintResult", "TxTaint", "propagate", "topological_order"]

Policy = Literal["haircut", "poison", "fifo"]
#: Tainted satoshi positions inside one coin: sorted, disjoint [a, b) pairs, flattened.
Ranges = tuple[int, ...]
POLICIES: tuple[Policy, ...] = get_args(Policy)


@dataclass(frozen=True, slots=True)
class TxTaint:
    """What taint entered one tx and where it went (per output index, and the fee)."""

    txid: str
    value_in: int
    taint_in: int
    outputs: tuple[int, ...]
    fee: int
    fee_taint: int
    injected: int = 0

    @property
    def taint_out(self) -> int:
        return sum(self.outputs)


class TaintResult:
    """The outcome of `propagate`: taint per outpoint, per tx, and lost to fees."""

    __slots__ = ("_consumed", "_meta", "_outs", "_sources", "policy")

    def __init__(
        self,
        policy: Policy,
        outs: dict[str, tuple[int, ...]],
        meta: dict[str, tuple[int, int, int, int, int]],
        sources: dict[str, dict[int, int]],
        consumed: dict[str, int],
    ) -> None:
        self.policy = policy
        self._outs = outs
        self._meta = meta
        self._sources = sources
        self._consumed = consumed

    def taint_of(self, outpoint: OutPoint) -> int:
        """Tainted sats held by an outpoint (0 for anything the taint never reached)."""
        outs = self._outs.get(outpoint.txid)
        if outs is not None:
            return outs[outpoint.vout] if 0 <= outpoint.vout < len(outs) else 0
        return self._sources.get(outpoint.txid, {}).get(outpoint.vout, 0)

    def tx(self, txid: str) -> TxTaint | None:
        """The breakdown of one tx, or None if no taint reached it."""
        meta = self._meta.get(txid)
        if meta is None:
            return None
        value_in, taint_in, fee, fee_taint, injected = meta
        return TxTaint(txid, value_in, taint_in, tuple(self._outs[txid]), fee, fee_taint, injected)

    def breakdown(self) -> Iterator[TxTaint]:
        """Every tainted tx, inputs before spends."""
        for txid in self._meta:
            found = self.tx(txid)
            if found is not None:
                yield found

    def __len__(self) -> int:
        """Number of txs the taint reached."""
        return len(self._meta)

    @property
    def fee_taint(self) -> int:
        """Tainted sats paid to miners across the flow."""
        return sum(meta[3] for meta in self._meta.values())

    @property
    def source_total(self) -> int:
        """Tainted sats put in by sources outside the flow plus floors injected inside it."""
        outside = sum(sum(per.values()) for per in self._sources.values())
        return outside + sum(meta[4] for meta in self._meta.values())

    def tainted_outputs(self) -> Iterator[tuple[OutPoint, int]]:
        """(outpoint, sats) for every output of a tainted tx holding taint."""
        for txid, outs in self._outs.items():
            for vout, sats in enumerate(outs):
                if sats:
                    yield OutPoint(txid, vout), sats

    def unspent(self) -> dict[OutPoint, int]:
        """Tainted outpoints not spent inside the flow: where the money is now (or went next)."""
        found: dict[OutPoint, int] = {}
        for txid, outs in self._outs.items():
            mask = self._consumed.get(txid, 0)
            for vout, sats in enumerate(outs):
                if sats and not mask >> vout & 1:
                    found[OutPoint(txid, vout)] = sats
        for txid, per in self._sources.items():
            mask = self._consumed.get(txid, 0)
            for vout, sats in per.items():
                if sats and not mask >> vout & 1:
                    found[OutPoint(txid, vout)] = sats
        return found


def topological_order(txs: Mapping[str, Tx]) -> list[str]:
    """txids with every tx after the txs (in the mapping) whose outputs it spends.

    Kahn's algorithm; raises InputError on a cycle or a key that is not its tx's txid.
    """
    indegree: dict[str, int] = {}
    # parent -> its child, or a list of them when it has several (most txs of a long flow
    # have one spender: a million one-element lists would be most of this function's cost)
    children: dict[str, str | list[str]] = {}
    for txid, tx in txs.items():
        if tx.txid != txid:
            raise InputError(f"flow maps {txid} to a different tx ({tx.txid})")
        parents = 0
        last = ""
        for txin in tx.inputs:
            prev = txin.prevout
            if prev is None:
                continue
            parent = prev.txid
            if parent == last or parent not in txs:
                continue
            kids = children.get(parent)
            if kids is None:
                children[parent] = txid
            elif isinstance(kids, str):
                if kids == txid:
                    continue  # several outputs of one parent: count the edge once
                children[parent] = [kids, txid]
            elif kids[-1] == txid:
                continue
            else:
                kids.append(txid)
            parents += 1
            last = parent
        indegree[txid] = parents
    ready = [txid for txid, count in indegree.items() if count == 0]
    order: list[str] = []
    while ready:
        txid = ready.pop()
        order.append(txid)
        kids = children.get(txid)
        if kids is None:
            continue
        for child in (kids,) if isinstance(kids, str) else kids:
            left = indegree[child] - 1
            indegree[child] = left
            if left == 0:
                ready.append(child)
    if len(order) != len(txs):
        stuck = next(txid for txid, count in indegree.items() if count > 0)
        raise InputError(
            f"flow has a cycle: {len(txs) - len(order)} txs never become spendable (e.g. {stuck})"
        )
    return order


def propagate(
    sources: Mapping[OutPoint, int],
    txs: Mapping[str, Tx],
    policy: Policy = "haircut",
) -> TaintResult:
    """Push source taint through the flow in topological order under one policy."""
    if policy not in POLICIES:
        raise InputError(f"unknown taint policy {policy!r} (expected one of {', '.join(POLICIES)})")
    floors: dict[str, dict[int, int]] = {}
    outside: dict[str, dict[int, int]] = {}
    for outpoint, sats in sources.items():
        if sats < 0:
            raise InputError(f"source {outpoint} has negative taint {sats}")
        if sats:
            target = floors if outpoint.txid in txs else outside
            target.setdefault(outpoint.txid, {})[outpoint.vout] = sats
    # Per tainted tx: taint per output (tuples of ints are not tracked by the cyclic GC,
    # which matters with a million of them), and under fifo the tainted ranges per output
    # for txs with a partly tainted output.
    outs: dict[str, tuple[int, ...]] = {}
    ranges: dict[str, tuple[Ranges, ...]] = {}
    meta: dict[str, tuple[int, int, int, int, int]] = {}
    consumed: dict[str, int] = {}
    fifo = policy == "fifo"
    for txid in topological_order(txs):
        tx = txs[txid]
        taints: list[int] | None = None
        for index, txin in enumerate(tx.inputs):
            prev = txin.prevout
            if prev is None:
                continue
            parent = outs.get(prev.txid)
            if parent is not None:
                sats = parent[prev.vout] if prev.vout < len(parent) else 0
            else:
                per = outside.get(prev.txid)
                if per is None:
                    continue
                sats = per.get(prev.vout, 0)
            if sats:
                if taints is None:
                    taints = [0] * len(tx.inputs)
                taints[index] = sats
                mask = consumed.get(prev.txid, 0)
                if mask >> prev.vout & 1:
                    raise InputError(f"tainted outpoint {prev} is spent twice in the flow")
                consumed[prev.txid] = mask | 1 << prev.vout
        floor = floors.get(txid)
        if taints is None and floor is None:
            continue
        known = [txin.prev_value for txin in tx.inputs]
        # (None is rare: an explorer that does not say; the flow may know)
        values = _input_values(tx, txs) if None in known else cast(list[int], known)
        if taints is None:
            taints = [0] * len(values)
        out_values = [out.value for out in tx.outputs]
        fee = _check_amounts(tx, taints, values, out_values)
        # One input (most txs of a long flow): its value and taint are ints that exist
        # already; sharing them keeps a million-tx result 64 MiB smaller.
        one = len(values) == 1
        taint_in = taints[0] if one else sum(taints)
        value_in = values[0] if one else fee + sum(out_values)
        out_ranges: list[Ranges] = []
        if fifo:
            coins = [
                _coin_ranges(tx.inputs[i].prevout, sats, values[i], ranges)
                for i, sats in enumerate(taints)
            ]
            out_ranges, fee_taint = _fifo(coins, values, out_values, fee)
            shares = [_length(r) for r in out_ranges]
        elif policy == "poison":
            shares = list(out_values) if taint_in else [0] * len(out_values)
            fee_taint = fee if taint_in else 0
        elif taint_in == value_in:  # wholly tainted (as _haircut says, without a call)
            shares, fee_taint = list(out_values), fee
        else:
            shares, fee_taint = _haircut(taint_in, value_in, out_values, fee)
        injected = 0
        if floor is not None:
            injected = _apply_floor(txid, floor, out_values, shares, out_ranges if fifo else None)
        outs[txid] = tuple(shares)
        if fifo and any(0 < sats < value for sats, value in zip(shares, out_values, strict=True)):
            ranges[txid] = tuple(out_ranges)  # only partly tainted outputs need their ranges
        meta[txid] = (value_in, taint_in, fee, fee_taint, injected)
    return TaintResult(policy, outs, meta, outside, consumed)


def _check_amounts(tx: Tx, taints: list[int], values: list[int], out_values: list[int]) -> int:
    """The fee, after checking that amounts add up and no coin holds more taint than value."""
    fee = sum(values) - sum(out_values)
    if fee < 0:
        raise InputError(f"tx {tx.txid} pays out {-fee} sats more than its inputs hold")
    for index, sats in enumerate(taints):
        if sats > values[index]:
            prevout = tx.inputs[index].prevout
            raise InputError(f"{prevout} carries {sats} tainted sats but holds {values[index]}")
    return fee


def _apply_floor(
    txid: str,
    floor: Mapping[int, int],
    out_values: list[int],
    shares: list[int],
    out_ranges: list[Ranges] | None,
) -> int:
    """Raise outputs that are sources to their source amount; returns the taint added."""
    injected = 0
    for vout, want in floor.items():
        if not 0 <= vout < len(out_values):
            raise InputError(f"source {txid}:{vout} does not exist ({len(out_values)} outputs)")
        if want > out_values[vout]:
            raise InputError(f"source {txid}:{vout} is {want} sats but holds {out_values[vout]}")
        extra = want - shares[vout]
        if extra > 0:
            injected += extra
            shares[vout] = want
            if out_ranges is not None:
                out_ranges[vout] = _pad_front(out_ranges[vout], extra)
    return injected


def _input_values(tx: Tx, txs: Mapping[str, Tx]) -> list[int]:
    """Each input's value: from the tx itself, else from the spent tx when it is in the flow."""
    values: list[int] = []
    for index, txin in enumerate(tx.inputs):
        value = txin.prev_value
        if value is None and txin.prevout is not None:
            parent = txs.get(txin.prevout.txid)
            if parent is not None and txin.prevout.vout < len(parent.outputs):
                value = parent.outputs[txin.prevout.vout].value
        if value is None:
            raise InputError(
                f"tx {tx.txid} input {index}: spent value unknown, cannot apportion taint"
            )
        values.append(value)
    return values


def _haircut(
    taint_in: int, value_in: int, out_values: list[int], fee: int
) -> tuple[list[int], int]:
    """Largest-remainder split of taint_in over outputs and fee in proportion to value."""
    if taint_in == value_in:
        return list(out_values), fee
    if taint_in == 0 or value_in == 0:
        return [0] * len(out_values), 0
    parts = [*out_values, fee]
    shares: list[int] = []
    remainders: list[int] = []
    for value in parts:
        share, remainder = divmod(taint_in * value, value_in)
        shares.append(share)
        remainders.append(remainder)
    left = taint_in - sum(shares)
    if left:
        for index in sorted(range(len(parts)), key=lambda i: (-remainders[i], i))[:left]:
            shares[index] += 1
    fee_taint = shares.pop()
    return shares, fee_taint


def _length(flat: Sequence[int]) -> int:
    return sum(flat[1::2]) - sum(flat[0::2])


def _coin_ranges(
    prevout: OutPoint | None, sats: int, value: int, ranges: Mapping[str, tuple[Ranges, ...]]
) -> Ranges:
    """The tainted ranges inside one spent coin.

    Wholly tainted coins are not stored: their range is the whole coin. A partly tainted
    coin from outside the flow is tainted in its first sats.
    """
    if not sats or prevout is None:
        return ()
    if sats < value:
        parent = ranges.get(prevout.txid)
        if parent is not None:
            return parent[prevout.vout]
    return (0, min(sats, value))


def _pad_front(flat: Ranges, extra: int) -> Ranges:
    """Mark ``extra`` more sats tainted, filling the earliest untainted gaps first."""
    result: list[int] = []
    cursor = 0
    for k in range(0, len(flat), 2):
        a, b = flat[k], flat[k + 1]
        if extra and cursor < a:
            take = min(extra, a - cursor)
            _append(result, cursor, cursor + take)
            extra -= take
        _append(result, a, b)
        cursor = b
    if extra:
        _append(result, cursor, cursor + extra)
    return tuple(result)


def _append(flat: list[int], a: int, b: int) -> None:
    """Append [a, b) to sorted disjoint ranges, merging with the last one when they touch."""
    if a >= b:
        return
    if flat and flat[-1] >= a:
        flat[-1] = max(flat[-1], b)
    else:
        flat.extend((a, b))


def _fifo(
    coins: list[Ranges], in_values: list[int], out_values: list[int], fee: int
) -> tuple[list[Ranges], int]:
    """Lay inputs end to end, then cut the tainted ranges at output boundaries (fee last)."""
    if all(flat == (0, value) for flat, value in zip(coins, in_values, strict=True)):
        # every input wholly tainted (the usual first hops of a trace): so is every output
        return [(0, value) if value else () for value in out_values], fee
    tainted: list[int] = []
    start = 0
    for flat, value in zip(coins, in_values, strict=True):
        for k in range(0, len(flat), 2):
            _append(tainted, start + flat[k], start + flat[k + 1])
        start += value
    result: list[Ranges] = []
    begin = 0
    k = 0
    for value in [*out_values, fee]:
        end = begin + value
        cut: list[int] = []
        # ranges are sorted: skip those wholly before this output, clip those overlapping it
        while k < len(tainted) and tainted[k + 1] <= begin:
            k += 2
        j = k
        while j < len(tainted) and tainted[j] < end:
            _append(cut, max(tainted[j], begin) - begin, min(tainted[j + 1], end) - begin)
            j += 2
        result.append(tuple(cut))
        begin = end
    fee_ranges = result.pop()
    return result, _length(fee_ranges)
