"""Cases and their watchlists in the database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from btcwatch.case import Case, Role, WatchedAddress
from btcwatch.errors import CaseError
from btcwatch.store.db import Store
from btcwatch.timefmt import now_iso


def _case(row: dict[str, Any]) -> Case:
    return Case(row["name"], row["title"], row["note"], row["network"], row["created_at"])


def _watched(row: dict[str, Any]) -> WatchedAddress:
    return WatchedAddress(
        case=row["case_name"],
        address=row["address"],
        script_hex=row["script_hex"],
        role=Role(row["role"]),
        label=row["label"],
        note=row["note"],
        demand=row["demand"],
        source=row["source"],
        added_at=row["added_at"],
    )


def insert_case(
    store: Store, name: str, *, title: str = "", note: str = "", network: str = "mainnet"
) -> Case:
    """Create a case; a second case of the same name is an error, not a silent merge."""
    with store.write() as db:
        if db.table("cases").count_where("name = ?", [name]):
            raise CaseError(f"case {name!r} already exists")
        row = {
            "name": name,
            "title": title,
            "note": note,
            "network": network,
            "created_at": now_iso(),
        }
        db.table("cases").insert(row)
    return _case(row)


def get_case(store: Store, name: str) -> Case:
    rows = list(store._db.table("cases").rows_where("name = ?", [name]))
    if not rows:
        known = ", ".join(c.name for c in list_cases(store)) or "none yet"
        raise CaseError(f"no case named {name!r} (cases: {known})")
    return _case(rows[0])


def list_cases(store: Store) -> list[Case]:
    return [_case(r) for r in store._db.table("cases").rows_where(order_by="name")]


def insert_addresses(store: Store, rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Insert watchlist rows in one transaction; returns (added, already present) addresses.

    Each row needs case_name, address, script_hex, script_type, role, label, note, demand, source.
    """
    added: list[str] = []
    present: list[str] = []
    with store.write() as db:
        for row in rows:
            exists = db.table("addresses").count_where(
                "case_name = ? AND address = ?", [row["case_name"], row["address"]]
            )
            if exists:
                present.append(row["address"])
                continue
            db.table("addresses").insert({**row, "added_at": row.get("added_at") or now_iso()})
            added.append(row["address"])
    return added, present


def update_addresses(
    store: Store, case: str, addresses: Sequence[str], changes: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """Set ``changes`` (role, label, note, demand) on addresses already on the case's watchlist.

    Returns (updated, unchanged): an address whose values already match is unchanged.
    """
    updated: list[str] = []
    unchanged: list[str] = []
    if not changes:
        return updated, list(addresses)
    columns = ", ".join(changes)
    with store.write() as db:
        for address in addresses:
            row = db.execute(
                f"SELECT {columns} FROM addresses WHERE case_name = ? AND address = ?",
                [case, address],
            ).fetchone()
            if row is None or tuple(row) == tuple(changes.values()):
                unchanged.append(address)
                continue
            sets = ", ".join(f"{c} = ?" for c in changes)
            db.execute(
                f"UPDATE addresses SET {sets} WHERE case_name = ? AND address = ?",
                [*changes.values(), case, address],
            )
            updated.append(address)
    return updated, unchanged


def list_addresses(
    store: Store, case: str | None = None, roles: Iterable[Role] | None = None
) -> list[WatchedAddress]:
    """The watchlist, of one case or all, optionally only some roles, in insertion order."""
    where: list[str] = []
    params: list[Any] = []
    if case is not None:
        where.append("case_name = ?")
        params.append(case)
    if roles is not None:
        wanted = [r.value for r in roles]
        where.append(f"role IN ({', '.join('?' for _ in wanted)})")
        params.extend(wanted)
    rows = store._db.table("addresses").rows_where(
        " AND ".join(where) or None, params, order_by="id"
    )
    return [_watched(r) for r in rows]


def count_addresses(store: Store, case: str) -> dict[str, int]:
    """Addresses per role of one case, for `case show` and reports."""
    sql = "SELECT role, COUNT(*) FROM addresses WHERE case_name = ? GROUP BY role"
    return {role: n for role, n in store._db.execute(sql, [case]).fetchall()}
