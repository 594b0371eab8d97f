"""Find Bitcoin addresses in free text: ransom e-mails, .eml files, CSV, PDF-to-text dumps.

The rule, in three steps:

1. Shape. A token is a maximal run of ASCII letters and digits (so URLs such as
   ``bitcoin:ADDR?amount=1`` or ``.../address/ADDR`` and quoted or bracketed addresses split
   cleanly). It has an address's shape when it is either
   - base58-like: 25-35 characters starting with 1, 3 (mainnet), m, n or 2 (testnet), or
   - bech32-like: ``bc1``, ``tb1`` or ``bcrt1`` (any case) followed by 11+ characters, at most
     90 in all.
   Quoted-printable text (soft line breaks ``=\\n`` or a ``quoted-printable`` header) is decoded
   first, so an address folded across two lines of an .eml file is found whole.
2. Valid. A shaped token that parses as an address (checksum, length, version, network) is a
   candidate carrying that Address. A checksum-valid address of another network than the one
   asked for is a candidate carrying the "is a testnet address, not mainnet" error.
3. Near miss. A shaped token that fails to parse is reported (with the reason, e.g. "bad base58
   checksum") only if it still looks like a mistyped address rather than ordinary text:
   - it is not all hexadecimal (txids, SHA-1/SHA-256/MD5 hashes, PGP fingerprints);
   - at most one of its characters lies outside the alphabet (base58 or bech32): one typo;
   - base58-like: it mixes upper and lower case, and switches between digit, upper-case and
     lower-case at least once every three characters. Random base58 switches about twice as
     often; words and identifiers ("3DPrintingAndManufacturingGuide", "1Password" is too short
     anyway) switch rarely;
   - it does not sit inside a base64 blob (a whitespace-free run of 48+ base64 characters:
     MIME attachments, DKIM signatures, PGP armour), where random runs of letters are expected.
   Everything else is dropped silently: false alarms cost an investigator more than they help.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import pairwise

from btcwatch.chain.address import Address, decode_address
from btcwatch.chain.encoding import B58_ALPHABET
from btcwatch.chain.network import Network
from btcwatch.errors import AddressError

__all__ = ["Candidate", "extract_addresses", "find_candidates"]

_TOKEN = re.compile(
    r"(?<![A-Za-z0-9])"
    r"(?:[13mn2][A-Za-z0-9]{24,34}"
    r"|(?:[bB][cC][rR][tT]|[bB][cC]|[tT][bB])1[A-Za-z0-9]{11,85})"
    r"(?![A-Za-z0-9])"
)
_QP_HINT = re.compile(r"=\r?\n|quoted-printable", re.IGNORECASE)
_QP_ESCAPE = re.compile(r"=(?:\r?\n|[0-9A-F]{2})")
_HEX = frozenset("0123456789abcdefABCDEF")
_B58 = frozenset(B58_ALPHABET)
_BECH32 = frozenset("qpzry9x8gf2tvdw0s3jn54khce6mua7l")
_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_BLOB_MIN = 48
_BECH32_PREFIXES = ("bc1", "tb1", "bcrt1")


@dataclass(frozen=True, slots=True)
class Candidate:
    """An address-shaped token: valid ones carry address, near misses carry error."""

    text: str
    line: int
    address: Address | None
    error: str | None


def _unfold_quoted_printable(text: str) -> tuple[str, list[int]]:
    """Decode soft line breaks and =XX escapes; return the text and where newlines were removed.

    Escapes become their ASCII character, or a space for control and non-ASCII bytes (they only
    need to separate tokens), so line numbers stay countable from the remaining newlines.
    """
    if _QP_HINT.search(text) is None:
        return text, []
    removed_at: list[int] = []
    shift = 0

    def replace(m: re.Match[str]) -> str:
        nonlocal shift
        s = m.group()
        if s[1] in "\r\n":
            removed_at.append(m.start() - shift)
            shift += len(s)
            return ""
        shift += 2
        code = int(s[1:], 16)
        return chr(code) if 0x20 <= code < 0x7F else " "

    return _QP_ESCAPE.sub(replace, text), removed_at


def _char_class(c: str) -> int:
    return 0 if c.isdigit() else 1 if c.isupper() else 2


def _looks_random(token: str) -> bool:
    """Base58 addresses switch character class often; words and identifiers rarely do."""
    if token.islower() or token.isupper():
        return False
    classes = [_char_class(c) for c in token]
    switches = sum(1 for a, b in pairwise(classes) if a != b)
    return switches * 3 >= len(token) - 1


def _in_base64_blob(body: str, start: int, end: int) -> bool:
    left = start
    while left > 0 and not body[left - 1].isspace():
        left -= 1
    right = end
    n = len(body)
    while right < n and not body[right].isspace():
        right += 1
    if right - left < _BLOB_MIN or (left, right) == (start, end):
        return False  # short, or the token is the whole word: not part of a blob
    return all(c in _BASE64 for c in body[left:right])


def _near_miss(token: str, body: str, start: int, end: int) -> bool:
    """True if an invalid token still looks like a mistyped address (see module docstring)."""
    if all(c in _HEX for c in token):
        return False
    lower = token.lower()
    if lower.startswith(_BECH32_PREFIXES):
        data = lower[lower.index("1") + 1 :]
        if sum(c not in _BECH32 for c in data) > 1:
            return False
    else:
        if sum(c not in _B58 for c in token) > 1:
            return False
        if not _looks_random(token):
            return False
    return not _in_base64_blob(body, start, end)


def _judge(
    token: str, body: str, start: int, end: int, network: Network | None
) -> tuple[Address | None, str | None] | None:
    """(address, None) if valid, (None, reason) if worth reporting, None to drop the token."""
    try:
        return decode_address(token, network), None
    except AddressError as exc:
        error = str(exc)
    if network is not None:
        try:
            decode_address(token, None)
        except AddressError:
            pass
        else:  # a real address, of another network: always worth showing
            return None, error
    if _near_miss(token, body, start, end):
        return None, error
    return None


def find_candidates(text: str, network: Network | None = None) -> list[Candidate]:
    """Every address-shaped token in text, in order, valid or near miss (see module docstring).

    With network None each address's network is inferred from its prefix; otherwise addresses
    of other networks are candidates with an error. line is 1-based, in the original text.
    """
    body, removed_at = _unfold_quoted_printable(text)
    newlines: list[int] | None = None
    found: list[Candidate] = []
    for m in _TOKEN.finditer(body):
        token = m.group()
        if len(token) > 90:
            continue
        judged = _judge(token, body, m.start(), m.end(), network)
        if judged is None:
            continue
        if newlines is None:
            newlines = [nl.start() for nl in re.finditer("\n", body)]
        pos = m.start()
        line = 1 + bisect_left(newlines, pos) + bisect_right(removed_at, pos)
        found.append(Candidate(token, line, *judged))
    return found


def extract_addresses(text: str, network: Network | None = None) -> list[Address]:
    """The valid addresses in text, de-duplicated, in order of first appearance."""
    seen: dict[Address, None] = {}
    for cand in find_candidates(text, network):
        if cand.address is not None:
            seen.setdefault(cand.address, None)
    return list(seen)
