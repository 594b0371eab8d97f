"""Events: what an investigator must learn about, with deterministic ids.

Ids hash the fact (kind, case, outpoint or spending txid, block hash), so the same fact observed
twice, by a rerun, a retry or after a crash, always has the same id and is stored once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    PAYMENT_RECEIVED = "payment_received"
    PAYMENT_CONFIRMED = "payment_confirmed"
    FUNDS_MOVED = "funds_moved"
    CO_SPENT = "co_spent"
    REVERTED = "reverted"
    FUNDS_AT_EXCHANGE = "funds_at_exchange"
    DISAGREEMENT = "provider_disagreement"


def event_id(kind: str, *parts: object) -> str:
    """Deterministic id: the same fact always hashes to the same id."""
    text = "|".join([kind, *("" if p is None else str(p) for p in parts)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Event:
    """One thing an investigator must learn about; stored before it is alerted."""

    id: str
    kind: Kind
    case: str
    address: str | None
    txid: str | None
    vout: int | None
    value_sat: int | None
    height: int | None
    block_hash: str | None
    details: Mapping[str, Any] = field(default_factory=dict, compare=False)
