"""The price cache: every BTC price fetched, with its source and raw answer, kept for good.

A price, once fetched, is never fetched again: lookups read this table first. Each row points
at the archived response (``evidence``) it was parsed from, so a fiat figure in a report can be
checked against the document the source sent. Disagreements between two sources for the same
hour are kept beside it as findings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from btcwatch.model import Evidence
from btcwatch.prices import DAY, Price, PriceLookup
from btcwatch.prices.book import DAY_SECONDS, HOUR_SECONDS, PriceBook
from btcwatch.store.chaindata import save_evidence
from btcwatch.store.db import Store
from btcwatch.timefmt import now_iso


@dataclass(frozen=True, slots=True)
class StoredPrice:
    """One cached price of one BTC."""

    currency: str
    time: int  # unix start of the hour or day
    resolution: str  # hour | day
    per_btc: Decimal
    source: str
    fetched_at: str
    evidence_id: int | None = None


@dataclass(frozen=True, slots=True)
class PriceDisagreement:
    """Two sources differing by more than the tolerance for the same hour or day."""

    currency: str
    time: int
    resolution: str
    used_source: str
    used_value: Decimal
    other_source: str
    other_value: Decimal
    difference: Decimal  # |other - used| / used
    tolerance: Decimal
    recorded_at: str = ""


def _row(r: Sequence[object]) -> StoredPrice:
    currency, time, resolution, value, source, fetched_at, evidence_id = r
    return StoredPrice(
        str(currency),
        int(str(time)),
        str(resolution),
        Decimal(str(value)),
        str(source),
        str(fetched_at),
        None if evidence_id is None else int(str(evidence_id)),
    )


def cached_prices(store: Store, currency: str, start: int, end: int) -> list[StoredPrice]:
    """Cached prices of ``currency`` whose time is in [start, end], oldest first."""
    rows = store._db.execute(
        "SELECT currency, time, resolution, value, source, fetched_at, evidence_id "
        "FROM price_cache WHERE currency = ? AND time BETWEEN ? AND ? ORDER BY time, rowid",
        [currency.upper(), start, end],
    ).fetchall()
    return [_row(r) for r in rows]


def stored_book(
    store: Store,
    times: Iterable[int],
    fallback: PriceLookup | None,
    currencies: Sequence[str] = ("EUR",),
) -> PriceBook:
    """The prices a case already has, for these unix times: never a network request.

    Per time, the cached hourly price of its hour (the first one cached, when two sources
    answered), else the cached daily price of its day, else ``fallback`` (the bundled table).
    Each cached price names its source and the evidence id of the answer it came from.
    Exports use it so that the same store always writes the same fiat figures.
    """
    known: dict[tuple[str, int], Price] = {}
    for currency in dict.fromkeys(c.upper() for c in currencies):
        for hour in sorted({t // HOUR_SECONDS * HOUR_SECONDS for t in times if t > 0}):
            day = hour // DAY_SECONDS * DAY_SECONDS
            for row in cached_prices(store, currency, day, hour):
                slot = hour if row.resolution != DAY else day
                if row.time == slot and (currency, slot) not in known:
                    known[(currency, slot)] = _book_price(row)
    return PriceBook(known, fallback)


def _book_price(row: StoredPrice) -> Price:
    moment = datetime.fromtimestamp(row.time, UTC)
    hourly = row.resolution != DAY
    what = "hourly price" if hourly else "daily price"
    proof = f" (evidence {row.evidence_id})" if row.evidence_id is not None else ""
    return Price(
        row.currency,
        row.per_btc,
        moment.date(),
        f"{row.source} {what}{proof}",
        row.resolution,
        moment if hourly else None,
    )


def save_prices(
    store: Store,
    prices: Iterable[tuple[str, int, str, Decimal, str]],
    evidence: Evidence | None,
    fetched_at: str | None = None,
) -> int:
    """Cache (currency, time, resolution, value, source) rows parsed from one response.

    The response is archived first and every row points at it; a row already cached is kept
    as it was (the first answer wins). Returns how many rows were new.
    """
    rows = list(prices)
    if not rows:
        return 0
    new = 0
    with store.write() as db:
        evidence_id = save_evidence(store, evidence) if evidence is not None else None
        when = fetched_at or (evidence.fetched_at if evidence is not None else now_iso())
        for currency, time, resolution, value, source in rows:
            cursor = db.execute(
                "INSERT OR IGNORE INTO price_cache (currency, time, resolution, value, source, "
                "fetched_at, evidence_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [currency.upper(), time, resolution, str(value), source, when, evidence_id],
            )
            new += cursor.rowcount
    return new


def record_price_disagreement(store: Store, d: PriceDisagreement) -> bool:
    """Keep a disagreement finding once; True when it is new."""
    with store.write() as db:
        cursor = db.execute(
            "INSERT OR IGNORE INTO price_disagreements (currency, time, resolution, "
            "used_source, used_value, other_source, other_value, difference, tolerance, "
            "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                d.currency,
                d.time,
                d.resolution,
                d.used_source,
                str(d.used_value),
                d.other_source,
                str(d.other_value),
                str(d.difference),
                str(d.tolerance),
                d.recorded_at or now_iso(),
            ],
        )
        return bool(cursor.rowcount)


def price_disagreements(
    store: Store, currency: str | None = None, start: int = 0, end: int = 2**62
) -> list[PriceDisagreement]:
    """Recorded disagreements, oldest price time first."""
    where = "time BETWEEN ? AND ?" + (" AND currency = ?" if currency else "")
    params: list[object] = [start, end, *([currency.upper()] if currency else [])]
    rows = store._db.execute(
        "SELECT currency, time, resolution, used_source, used_value, other_source, "
        f"other_value, difference, tolerance, recorded_at FROM price_disagreements WHERE {where} "
        "ORDER BY time, id",
        params,
    ).fetchall()
    return [
        PriceDisagreement(
            str(r[0]),
            int(r[1]),
            str(r[2]),
            str(r[3]),
            Decimal(str(r[4])),
            str(r[5]),
            Decimal(str(r[6])),
            Decimal(str(r[7])),
            Decimal(str(r[8])),
            str(r[9]),
        )
        for r in rows
    ]


def update_event_details(store: Store, event_id: str, details: dict[str, object]) -> None:
    """Replace an event's details (a payment valued later); its id and outbox stay as they are."""
    with store.write() as db:
        db.execute(
            "UPDATE events SET details = ? WHERE id = ?",
            [json.dumps(details, sort_keys=True), event_id],
        )


def may_have_unvalued(store: Store, case: str | None = None) -> bool:
    """A cheap test before parsing every event: is any payment stored with a null value?"""
    sql = (
        "SELECT 1 FROM events WHERE kind IN ('payment_received', 'payment_confirmed') "
        "AND details LIKE '%\"value\": null%'" + (" AND case_name = ?" if case else "") + " LIMIT 1"
    )
    return store._db.execute(sql, [case] if case else []).fetchone() is not None


def cached_price_count(store: Store) -> int:
    """How many prices the cache holds (a fetch reports how many it added)."""
    return int(store._db.execute("SELECT count(*) FROM price_cache").fetchone()[0])
