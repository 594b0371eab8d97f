"""Intake: turn what investigators are handed (arguments, ransom e-mails, CSVs) into a watchlist.

Everything is validated before anything is written, so a typo never leaves half a watchlist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from btcwatch.case import Case, Role, check_case_name
from btcwatch.chain.address import Address
from btcwatch.chain.extract import find_candidates
from btcwatch.chain.network import network_by_name
from btcwatch.errors import AddressError, InputError
from btcwatch.money import parse_demand
from btcwatch.store import Store
from btcwatch.store.cases import get_case, insert_addresses, insert_case, update_addresses
from btcwatch.text import check_text
from btcwatch.textfiles import read_input


@dataclass(slots=True)
class IntakeResult:
    """What an add or import did: counts an investigator can check against the ransom note."""

    added: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)  # present, with new values given to `add`
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (candidate, reason)
    empty: list[str] = field(default_factory=list)  # files in which no address was found

    def as_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "already_present": self.present,
            "updated": self.updated,
            "rejected": [{"candidate": c, "reason": r} for c, r in self.rejected],
            "files_without_address": self.empty,
        }


def create_case(
    store: Store, name: str, *, title: str = "", note: str = "", network: str = "mainnet"
) -> Case:
    """Create a case after checking its name, network and text fields."""
    check_text("--title", title)
    check_text("--note", note)
    return insert_case(
        store, check_case_name(name), title=title, note=note, network=network_by_name(network).name
    )


def validate_address(text: str, case: Case) -> Address:
    """Parse ``text`` for the case's network; the error names the address and the reason once."""
    return Address.parse(text, network_by_name(case.network))


def _row(
    case: Case, address: Address, role: Role, label: str, note: str, demand: str | None, source: str
) -> dict[str, object]:
    return {
        "case_name": case.name,
        "address": str(address),
        "script_hex": address.script.hex(),
        "script_type": str(address.type),
        "role": role.value,
        "label": label,
        "note": note,
        "demand": demand,
        "source": source,
    }


def check_demand(text: str | None) -> str | None:
    """Validate a demand such as ``200EUR`` or ``200EUR then 500EUR after 24h``; keep its text."""
    if text is None or not text.strip():
        return None
    parse_demand(text)
    return text.strip()


def add_addresses(
    store: Store,
    case_name: str,
    texts: list[str],
    *,
    role: Role | None = None,
    label: str | None = None,
    note: str | None = None,
    demand: str | None = None,
    source: str = "cli",
) -> IntakeResult:
    """Add addresses to a case: all valid or nothing written (first bad one raises).

    An address already on the watchlist gets the values that were given (not None): a new
    role, label, note or demand updates it (``updated``); ``""`` clears a label, note or demand.
    New addresses default to role ransom and no label, note or demand.
    """
    if not texts:
        raise InputError("no address given")
    check_text("--label", label or "")
    check_text("--note", note or "")
    case = get_case(store, case_name)
    checked_demand = check_demand(demand)
    parsed = list(dict.fromkeys(validate_address(t, case) for t in texts))
    rows = [
        _row(case, a, role or Role.RANSOM, label or "", note or "", checked_demand, source)
        for a in parsed
    ]
    changes: dict[str, object] = {}
    if role is not None:
        changes["role"] = role.value
    if label is not None:
        changes["label"] = label
    if note is not None:
        changes["note"] = note
    if demand is not None:
        changes["demand"] = checked_demand
    with store.write():  # one transaction: added and updated together, or nothing
        added, present = insert_addresses(store, rows)
        updated, present = update_addresses(store, case.name, present, changes)
    return IntakeResult(added=added, present=present, updated=updated)


def import_files(
    store: Store,
    case_name: str,
    paths: list[Path],
    *,
    role: Role = Role.RANSOM,
    label: str = "",
    demand: str | None = None,
    strict: bool = False,
) -> IntakeResult:
    """Extract every address from the files and add the valid ones; report the rejected ones.

    E-mails are searched as they are and part by part decoded (`btcwatch.textfiles`). A file
    with no address-shaped text at all is listed in ``empty``; with ``strict`` it is an
    InputError and nothing is written.
    """
    check_text("--label", label)
    case = get_case(store, case_name)
    network = network_by_name(case.network)
    demand = check_demand(demand)
    inputs = [(path, read_input(path)) for path in paths]
    result = IntakeResult()
    rows: dict[str, dict[str, object]] = {}
    for path, texts in inputs:
        found = False
        reported: set[str] = set()
        for part in texts:
            for cand in find_candidates(part.text):
                found = True
                where = f"{part.where}:{cand.line}"
                try:
                    if cand.address is None:
                        raise AddressError(cand.error or "not an address")
                    address = Address.parse(cand.text, network)
                except AddressError as exc:
                    if cand.text not in reported:
                        reported.add(cand.text)
                        result.rejected.append((cand.text, f"{where}: {exc}"))
                    continue
                key = str(address)
                reported.add(cand.text)
                if key not in rows:
                    rows[key] = _row(case, address, role, label, "", demand, f"import:{where}")
        if not found:
            result.empty.append(str(path))
    if strict and result.empty:
        raise InputError(f"{result.empty[0]}: no Bitcoin address found (--strict)")
    result.added, result.present = insert_addresses(store, list(rows.values()))
    return result
