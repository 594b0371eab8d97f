"""The watch set: what a poll matches against, built once per cycle from the store.

Lookups are by scriptPubKey bytes and by outpoint, so matching a block costs a set lookup per
output and per input, whatever the size of the watchlist.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from btcwatch.model import OutPoint, WatchedOutput
from btcwatch.store import Store
from btcwatch.store.cases import list_addresses
from btcwatch.store.watchstate import unspent_outputs


@dataclass(slots=True)
class WatchSet:
    """Watched scripts (-> case, address) and unspent watched outputs."""

    by_script: dict[bytes, list[tuple[str, str]]] = field(default_factory=dict)
    by_address: dict[str, list[str]] = field(default_factory=dict)  # address -> cases
    unspent: dict[OutPoint, list[WatchedOutput]] = field(default_factory=dict)
    demands: dict[tuple[str, str], str | None] = field(default_factory=dict)  # (case, address)
    roles: dict[tuple[str, str], str] = field(default_factory=dict)  # (case, address) -> role

    @property
    def addresses(self) -> list[str]:
        return list(self.by_address)

    @property
    def outpoint_keys(self) -> set[tuple[str, int]]:
        return {(o.txid, o.vout) for o in self.unspent}

    def add_output(self, out: WatchedOutput) -> None:
        self.unspent.setdefault(out.outpoint, []).append(out)


def load_watchset(store: Store, case: str | None = None) -> WatchSet:
    by_script: dict[bytes, list[tuple[str, str]]] = defaultdict(list)
    by_address: dict[str, list[str]] = defaultdict(list)
    demands: dict[tuple[str, str], str | None] = {}
    roles: dict[tuple[str, str], str] = {}
    for w in list_addresses(store, case):
        by_script[bytes.fromhex(w.script_hex)].append((w.case, w.address))
        by_address[w.address].append(w.case)
        demands[(w.case, w.address)] = w.demand
        roles[(w.case, w.address)] = w.role.value
    ws = WatchSet(dict(by_script), dict(by_address), demands=demands, roles=roles)
    for out in unspent_outputs(store, case):
        ws.add_output(out)
    return ws
