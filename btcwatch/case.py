"""What an investigation is made of: a case, the addresses it watches, their roles and demands."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from btcwatch.errors import CaseError, InputError


class Role(StrEnum):
    """Why an address is on the watchlist; it decides which events and traces matter."""

    RANSOM = "ransom"
    ATTACKER = "attacker"
    VICTIM = "victim"
    EXCHANGE = "exchange"
    OTHER = "other"

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(r.value for r in cls)
            raise InputError(f"unknown role {text!r} (use one of {choices})") from None


@dataclass(frozen=True, slots=True)
class Case:
    """One investigation, e.g. ``vastaamo``; every address and event belongs to one."""

    name: str
    title: str
    note: str
    network: str
    created_at: str


@dataclass(frozen=True, slots=True)
class WatchedAddress:
    """An address on a case's watchlist, with where it came from and what was demanded."""

    case: str
    address: str
    script_hex: str
    role: Role
    label: str
    note: str
    demand: str | None
    source: str
    added_at: str


def check_case_name(name: str) -> str:
    """Case names end up in file names, URLs and cron lines: keep them plain."""
    cleaned = name.strip()
    if not cleaned:
        raise CaseError("case name is empty")
    if len(cleaned) > 64 or not all(c.isalnum() or c in "-_." for c in cleaned):
        raise CaseError(f"bad case name {name!r}: use up to 64 letters, digits, '-', '_' or '.'")
    return cleaned
