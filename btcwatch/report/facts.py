"""The facts a case report states, as values: gathered once, rendered as Markdown, HTML or JSON.

Every figure that rests on the chain carries ``evidence``: the ids of the archived explorer
responses (the ``evidence`` table) it was read from, so each renderer can cite them as
``[E12]`` and list them at the end. Amounts are int satoshis; fiat is `Decimal` (or None when no
price was known), rendered as plain decimal strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from btcwatch.case import Case

Refs = tuple[int, ...]
#: The demand verdicts a payment can get (btcwatch.money.Verdict), then "none" for payments
#: without a demand or without a price to compare with.
VERDICTS = ("exact", "late", "partial", "over", "none")


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    """One archived explorer response, as the evidence table lists it."""

    id: int
    provider: str
    url: str
    fetched_at: str
    status: int
    sha256: str
    body_kept: bool

    @property
    def ref(self) -> str:
        return f"E{self.id}"


@dataclass(frozen=True, slots=True)
class Payment:
    """A live payment to a watched address and how it compares to the demand."""

    address: str
    role: str
    label: str
    txid: str
    vout: int
    value_sat: int
    eur: Decimal | None
    usd: Decimal | None
    price_day: str | None
    time: str | None  # UTC ISO 8601: block time, else when first seen
    height: int | None
    confirmations: int
    verdict: str  # one of VERDICTS
    compared_to: str | None
    expected_sat: int | None
    ratio: str | None
    evidence: Refs
    price_time: str | None = None  # the hour (2026-09-21T14:00:00Z) or day of the EUR price
    resolution: str | None = None  # hour | day
    price_source: str | None = None


@dataclass(frozen=True, slots=True)
class DemandGroup:
    """Addresses that carry the same demand (the victims' one, the company's one...)."""

    demand: str | None
    roles: tuple[str, ...]
    labels: tuple[str, ...]
    addresses: int
    paid_addresses: int
    payments: int
    paid_sat: int


@dataclass(frozen=True, slots=True)
class PaymentSummary:
    """The story in numbers."""

    count: int
    victims_paid: int
    ransom_addresses: int
    by_verdict: tuple[tuple[str, int], ...]  # (verdict, count) in VERDICTS order
    total_sat: int
    total_eur: Decimal | None
    total_usd: Decimal | None
    fiat_missing: int  # payments without a EUR or USD value (not in the fiat totals)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One event of the case, ordered by block time (else the time it was seen)."""

    time: str | None
    kind: str
    address: str | None
    txid: str | None
    vout: int | None
    value_sat: int | None
    height: int | None
    reverted: bool
    note: str
    evidence: Refs


@dataclass(frozen=True, slots=True)
class EntityFlow:
    """Tainted money that reached one entity (exchange, mixer, CoinJoin...)."""

    entity: str
    category: str
    taint_sat: int
    eur: Decimal | None
    usd: Decimal | None
    endpoints: int
    evidence: Refs


@dataclass(frozen=True, slots=True)
class PeelStep:
    txid: str
    vout: int
    address: str | None
    value_sat: int
    entity: str | None
    evidence: Refs


@dataclass(frozen=True, slots=True)
class PeelChainFacts:
    start_txid: str
    total_peeled_sat: int
    remaining_sat: int
    steps: tuple[PeelStep, ...]


@dataclass(frozen=True, slots=True)
class CoinJoinFacts:
    txid: str
    tainted_in_sat: int
    height: int | None
    time: str | None
    facts: tuple[tuple[str, Any], ...]  # the detector's facts (equal outputs, denomination...)
    evidence: Refs


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    """Addresses spent together (common-input heuristic): probably one owner."""

    id: str
    addresses: tuple[str, ...]
    evidence: Refs  # the transactions that spent them together


@dataclass(frozen=True, slots=True)
class FreezeRow:
    """One output an exchange can be asked to freeze: where tainted money was credited."""

    deposit_address: str
    txid: str
    vout: int
    value_sat: int
    taint_sat: int
    time: str | None
    height: int | None
    confirmations: int
    reason: str  # the trace stop: exchange_deposit or tagged
    swept_by: str | None  # the exchange's sweep of the deposit, when seen
    evidence: Refs


@dataclass(frozen=True, slots=True)
class FreezeRequest:
    """Everything to send one exchange: its rows and their totals."""

    entity: str
    category: str
    rows: tuple[FreezeRow, ...]
    taint_sat: int
    value_sat: int
    eur: Decimal | None


@dataclass(frozen=True, slots=True)
class TraceFacts:
    """The latest finished trace of the case, reopened from the database."""

    run_id: int
    started_at: str
    finished_at: str | None
    params: tuple[tuple[str, Any], ...]
    sources: int
    source_total_sat: int
    txs: int
    hops: int
    fee_taint_sat: int
    stops: tuple[tuple[str, int], ...]  # (reason, count), sorted by reason
    entities: tuple[EntityFlow, ...]
    peel_chains: tuple[PeelChainFacts, ...]
    coinjoins: tuple[CoinJoinFacts, ...]
    clusters: tuple[ClusterFacts, ...]


@dataclass(frozen=True, slots=True)
class CaseReport:
    """The whole report; renderers only format it."""

    case: Case
    generated_at: str | None
    tip_height: int | None
    last_event_at: str | None
    watchlist: tuple[tuple[str, int], ...]  # (role, count), sorted by role
    demands: tuple[DemandGroup, ...]
    summary: PaymentSummary
    payments: tuple[Payment, ...]
    timeline: tuple[TimelineEntry, ...]
    trace: TraceFacts | None
    freeze_requests: tuple[FreezeRequest, ...]
    price_sources: tuple[str, ...]
    evidence: tuple[EvidenceRow, ...]
    graph_files: tuple[str, ...] = ()
    #: (txid, "proven in block H" | "not proven (why)") for every transaction the report names
    proofs: tuple[tuple[str, str], ...] = ()
    #: what `report --redact` hid ("victims"), named in every format so no reader mistakes a
    #: pseudonym for the label the investigator wrote
    redacted: tuple[str, ...] = ()
