"""The watch set as a block-mode tick goes: outputs found in one block are watched in the next.

Shared by the block scan and the mempool checks, so a payment seen in a block and spent in the
mempool (or paid and spent within the mempool) is followed within one tick.
"""

from __future__ import annotations

from collections.abc import Sequence

from btcwatch.chain.scan import Paid, Spent
from btcwatch.model import OutPoint, WatchedOutput
from btcwatch.watch.diff import Payment, Spend
from btcwatch.watch.poll import PollResult
from btcwatch.watch.watchset import WatchSet


class Tracker:
    """The watch set as the scan goes: outputs found in one block are watched in the next."""

    def __init__(self, ws: WatchSet, outputs: Sequence[WatchedOutput], result: PollResult):
        self.ws = ws
        self.result = result
        self.open: dict[OutPoint, list[WatchedOutput]] = {}
        for o in outputs:
            if o.spent_by is None or o.spent_height is None:
                self.open.setdefault(o.outpoint, []).append(o)
        self.keys = {(op.txid, op.vout) for op in self.open}

    def paid(
        self, items: Sequence[Paid], height: int | None, block_hash: str | None, time: int | None
    ) -> list[OutPoint]:
        fresh: list[OutPoint] = []
        for txid, vout, value, script in items:
            op = OutPoint(txid, vout)
            known = {o.case: o for o in self.open.get(op, [])}
            for case, address in self.ws.by_script.get(script, []):
                p = Payment(case, address, op, value, script.hex(), height, block_hash, time)
                self.result.note_payment(p, known.get(case))
                out = self.result.outputs[(case, txid, vout)]
                self.open[op] = [o for o in self.open.get(op, []) if o.case != case] + [out]
            if (txid, vout) not in self.keys:
                self.keys.add((txid, vout))
                fresh.append(op)
        return fresh

    def spent(self, items: Sequence[Spent], height: int | None, block_hash: str | None) -> set[str]:
        spenders: set[str] = set()
        for prev_txid, prev_vout, txid, vin in items:
            op = OutPoint(prev_txid, prev_vout)
            for out in self.open.get(op, []):
                s = Spend(out.case, out.address, op, out.value, txid, vin, height, block_hash)
                self.result.note_spend(s, out)
                spenders.add(txid)
        return spenders
