"""Explorer disagreements (``--cross-check``) as events, so an investigator sees them.

The provider pool reports every difference between two explorers' answers to a
:class:`DisputeLog`. A cycle does not act on a disputed address summary (the address is polled
again next cycle, until the explorers agree) and records a ``provider_disagreement`` event per
case instead; the same disagreement seen again has the same id and is stored once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

from btcwatch.event import Event, Kind, event_id
from btcwatch.model import AddressStats, OutSpend, Tx
from btcwatch.providers.pool import Disagreement

_LIMIT = 2000  # characters of a rendered answer kept in the event


@dataclass
class DisputeLog:
    """The pool's ``on_disagreement`` callback: collects one cycle's disagreements."""

    items: list[Disagreement] = field(default_factory=list)
    addresses: set[str] = field(default_factory=set)  # address summaries in dispute

    def __call__(self, disagreement: Disagreement) -> None:
        self.items.append(disagreement)
        if disagreement.what == "address_stats":
            self.addresses.add(disagreement.key)

    def drain(self) -> list[Disagreement]:
        items, self.items = self.items, []
        self.addresses = set()
        return items


def render_answer(value: object) -> Any:
    """An explorer's answer as small JSON: enough to see what differed, never megabytes."""
    if isinstance(value, Tx):
        return {
            "txid": value.txid,
            "inputs": [
                {"prevout": str(i.prevout) if i.prevout else None, "value_sat": i.prev_value}
                for i in value.inputs
            ],
            "outputs": [{"address": o.address, "value_sat": o.value} for o in value.outputs],
            "block": None
            if value.block is None
            else {"height": value.block.height, "hash": value.block.hash},
        }
    if isinstance(value, AddressStats):
        return asdict(value)
    if isinstance(value, list) and all(isinstance(v, OutSpend) for v in value):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): render_answer(v) for k, v in value.items()}
    return _plain(value)


def _plain(value: object) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return json.loads(json.dumps(asdict(value), default=str))
    text = str(value)
    return text if len(text) <= _LIMIT else text[: _LIMIT - 3] + "..."


def disagreement_events(
    disagreements: Iterable[Disagreement], cases_of: Mapping[str, Sequence[str]]
) -> list[Event]:
    """One event per disagreement and case; ``cases_of`` maps an address or txid to cases."""
    out: list[Event] = []
    seen: set[str] = set()
    for d in disagreements:
        first = render_answer(d.first_value)
        second = render_answer(d.second_value)
        digest = hashlib.sha256(
            json.dumps([first, second], sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        is_address = d.what == "address_stats"
        is_txid = d.what in ("tx", "outspends") and len(d.key) == 64
        for case in cases_of.get(d.key, ()) or cases_of.get("", ()):
            parts = (d.what, d.key, d.first, d.second, ",".join(d.fields), digest)
            ev_id = event_id(Kind.DISAGREEMENT, case, *parts)
            if ev_id in seen:
                continue
            seen.add(ev_id)
            out.append(
                Event(
                    ev_id,
                    Kind.DISAGREEMENT,
                    case,
                    d.key if is_address else None,
                    d.key if is_txid else None,
                    None,
                    None,
                    None,
                    None,
                    {
                        "what": d.what,
                        "key": d.key,
                        "explorers": [d.first, d.second],
                        "fields": list(d.fields),
                        "answers": {d.first: first, d.second: second},
                        "message": str(d),
                        "action": "not trusted: polled again next cycle"
                        if is_address
                        else "first explorer's answer used; check by hand",
                    },
                )
            )
    return out
