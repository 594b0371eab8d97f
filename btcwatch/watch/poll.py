"""What a poll returns, whichever mode ran: an observation plus the state to remember."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from btcwatch.model import AddressStats, Tx, WatchedOutput
from btcwatch.watch.diff import Observation, Payment, Spend


@dataclass(slots=True)
class PollResult:
    observation: Observation
    outputs: dict[tuple[str, str, int], WatchedOutput] = field(default_factory=dict)
    txs: dict[str, Tx] = field(default_factory=dict)
    stats: list[AddressStats] = field(default_factory=list)
    scanned: list[tuple[int, str, str | None, int | None]] = field(default_factory=list)
    reorg_fork: int | None = None
    mempool_seen: list[str] | None = None
    block_requests: int = 0  # tip, block hashes and raw blocks: the cost of following the chain
    tip_hash: str | None = None
    start_marker: tuple[int, str] | None = None  # block mode's first run: the tip it starts at
    tip_time: int | None = None  # the tip block's time, when the poll read that block
    state: dict[str, Any] = field(default_factory=dict)  # watch_state keys to store at commit
    # block mode: block hash -> the txids kept from its raw block (their evidence is that block)
    block_txids: dict[str, list[str]] = field(default_factory=dict)

    def note_payment(self, p: Payment, previous: WatchedOutput | None) -> None:
        """Remember a watched output, keeping what we knew of its spend.

        A spend noted earlier in this poll wins over the stored one: an address history lists
        the spending tx before the payment it spends (newest first).
        """
        self.observation.payments.append(p)
        key = (p.case, p.outpoint.txid, p.outpoint.vout)
        current = self.outputs.get(key)
        if current is not None and current.spent_by is not None:
            previous = current
        self.outputs[key] = WatchedOutput.of(
            p,
            previous.spent_by if previous else None,
            previous.spent_vin if previous else None,
            previous.spent_height if previous else None,
        )

    def note_spend(self, s: Spend, spent: WatchedOutput) -> None:
        self.observation.spends.append(s)
        key = (s.case, s.outpoint.txid, s.outpoint.vout)
        base = self.outputs.get(key, spent)
        self.outputs[key] = WatchedOutput.of(base, s.txid, s.vin, s.height)

    def note_destinations(self, tx: Tx) -> None:
        self.observation.spend_outputs[tx.txid] = [(o.address, o.value) for o in tx.outputs]
