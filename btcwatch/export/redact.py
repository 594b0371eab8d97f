"""``--redact victims``: victims' names out of the files that leave the investigator's desk.

Case files travel to exchanges and courts; a victim's label ("patient 1042, Matti V.") or the
e-mail an address was imported from names the very people an extortionist exploited. Redacted
output keeps every amount and address (they are the evidence) and replaces the label, note and
source of each victim and ransom address by a pseudonym such as ``victim-k3q7zm2a``.

A pseudonym is derived from the case name and the address alone (SHA-256, base32), so:

- it is stable across runs, formats (report, GraphML, CSV...) and later additions to the
  watchlist: a report sent in October and a graph sent in November name the same person alike,
  which numbering by sorted order (``victim-0007``) would not once an address is added;
- it encodes nothing the output does not already show: the address is printed beside it, so a
  secret key would protect nothing, and no order of import (patient numbers!) leaks;
- no state is stored and no database migration is needed.

Eight base32 characters (40 bits) leave about one chance in 2,500 of two equal codes among
Vastaamo's ~30,000 victims; codes that do collide are lengthened until they differ.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx

from btcwatch.case import Role, WatchedAddress
from btcwatch.errors import InputError
from btcwatch.store import Store
from btcwatch.store.cases import list_addresses

#: What ``--redact`` accepts (one kind of person to hide, for now).
REDACTIONS = ("victims",)
#: The roles whose addresses stand for a victim: the victim's own, and the one they paid to.
VICTIM_ROLES = frozenset({Role.VICTIM.value, Role.RANSOM.value})
PREFIX = "victim-"
_SHORT = 8


def check_redaction(what: str) -> str:
    """``victims`` (any case), else an InputError naming the choices."""
    name = what.strip().lower()
    if name not in REDACTIONS:
        raise InputError(f"unknown redaction {what!r}; choose one of: {', '.join(REDACTIONS)}")
    return name


def _code(case: str, address: str, length: int) -> str:
    digest = hashlib.sha256(f"btcwatch-redact\0{case}\0{address}".encode()).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:length]


def pseudonyms(case: str, addresses: Iterable[str]) -> dict[str, str]:
    """address -> ``victim-xxxxxxxx``, unique among ``addresses`` (colliding codes lengthened)."""
    wanted = sorted(set(addresses))
    length = _SHORT
    names = {a: _code(case, a, length) for a in wanted}
    while True:
        seen: dict[str, list[str]] = {}
        for address, code in names.items():
            seen.setdefault(code, []).append(address)
        clashes = [a for group in seen.values() if len(group) > 1 for a in group]
        if not clashes:
            return {a: PREFIX + code for a, code in names.items()}
        length += 4
        for address in clashes:
            names[address] = _code(case, address, length)


@dataclass(frozen=True, slots=True)
class Redaction:
    """Who is hidden in one case's output, and by which name."""

    case: str
    names: Mapping[str, str] = field(default_factory=dict)  # address -> pseudonym

    @classmethod
    def victims(cls, case: str, watched: Iterable[WatchedAddress]) -> Redaction:
        """Every victim and ransom address of ``case``'s watchlist."""
        hidden = [w.address for w in watched if w.role.value in VICTIM_ROLES]
        return cls(case, pseudonyms(case, hidden))

    def hides(self, address: str | None) -> bool:
        return address is not None and address in self.names

    def label(self, address: str | None, label: str) -> str:
        """The pseudonym of a hidden address (whatever its label was), else ``label``."""
        return self.names[address] if address is not None and address in self.names else label


def victims_redaction(store: Store, case: str) -> Redaction:
    """The redaction of ``case``'s victims (none for a trace that belongs to no case)."""
    return Redaction.victims(case, list_addresses(store, case) if case else [])


def redact_graph(g: nx.MultiDiGraph, redaction: Redaction) -> nx.MultiDiGraph:
    """A copy of a flow graph whose victim and ransom nodes are named by pseudonym.

    Besides the watchlist's addresses, any address node whose ``role`` is victim or ransom is
    hidden too (a pseudonym from the graph's case), so no victim label survives in any format.
    """
    out = g.copy()
    case = str(out.graph.get("case", "")) or redaction.case
    extra = {
        str(data["address"])
        for _, data in out.nodes(data=True)
        if data.get("kind") == "address" and data.get("role") in VICTIM_ROLES
    } - set(redaction.names)
    names = {**pseudonyms(case, extra), **redaction.names} if extra else dict(redaction.names)
    for _, data in out.nodes(data=True):
        if data.get("kind") == "address" and str(data.get("address")) in names:
            data["label"] = names[str(data["address"])]
    return out
