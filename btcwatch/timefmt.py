"""Time as btcwatch writes it: ISO 8601 in UTC to the second, ``2020-10-24T08:00:00Z``.

Stored rows, evidence records, events, CSV columns, graph attributes and reports all use this
one spelling, so it is defined once, below every layer. The clock that providers are given
(`utc_now`) is a timezone-aware datetime; a stored row's timestamp is `now_iso`.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["ISO_UTC", "iso_utc", "now_iso", "parse_iso_utc", "utc_now"]

ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> datetime:
    """The current time, timezone-aware UTC: the default clock wherever a clock is injected."""
    return datetime.now(UTC)


def iso_utc(moment: datetime | int) -> str:
    """A datetime (any zone) or Unix seconds as ``2020-10-24T08:00:00Z``.

    Unix time 0 or less is "unknown" (graphs and rows store 0 when a time is missing; no
    Bitcoin time is that old) and renders as ``""``.
    """
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).strftime(ISO_UTC)
    if moment <= 0:
        return ""
    return datetime.fromtimestamp(moment, UTC).strftime(ISO_UTC)


def now_iso() -> str:
    """The current time as `iso_utc` text: the timestamp every stored row carries."""
    return iso_utc(utc_now())


def parse_iso_utc(text: str) -> datetime:
    """The inverse of `iso_utc` (timezone-aware UTC); ValueError on any other spelling."""
    return datetime.strptime(text, ISO_UTC).replace(tzinfo=UTC)
