"""Base58Check and bech32/bech32m: the two ways Bitcoin spells an output script as text.

Every failure raises AddressError with a message that names the one problem found, because
these strings are typed or pasted by people and "invalid address" alone helps nobody.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from enum import Enum
from functools import lru_cache

from btcwatch.errors import AddressError

__all__ = [
    "B58_ALPHABET",
    "BECH32_MAX_LENGTH",
    "Bech32Variant",
    "b58check_decode",
    "b58check_encode",
    "b58decode",
    "b58encode",
    "bech32_decode",
    "bech32_decode_string",
    "bech32_encode",
    "bech32_encode_string",
    "sha256d",
]


def sha256d(data: bytes) -> bytes:
    """SHA-256 applied twice: Bitcoin's checksum and txid hash."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


# --- base58 -------------------------------------------------------------------------------------

B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(B58_ALPHABET)}


def b58encode(data: bytes) -> str:
    """Encode bytes as base58; each leading zero byte becomes a leading '1'."""
    n = int.from_bytes(data, "big")
    digits: list[str] = []
    while n:
        n, r = divmod(n, 58)
        digits.append(B58_ALPHABET[r])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def b58decode(text: str) -> bytes:
    """Decode base58; a character outside the alphabet (0, O, I, l, ...) is named in the error."""
    n = 0
    index = _B58_INDEX
    for c in text:
        d = index.get(c)
        if d is None:
            raise AddressError(f"invalid base58 character {c!r}")
        n = n * 58 + d
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + n.to_bytes((n.bit_length() + 7) // 8, "big")


def b58check_encode(payload: bytes) -> str:
    """Base58 of payload followed by the first four bytes of its double SHA-256."""
    return b58encode(payload + sha256d(payload)[:4])


def b58check_decode(text: str) -> bytes:
    """Decode Base58Check and verify its four-byte checksum; returns the payload."""
    raw = b58decode(text)
    if len(raw) < 4:
        raise AddressError("base58 string too short to hold a checksum")
    payload, check = raw[:-4], raw[-4:]
    if sha256d(payload)[:4] != check:
        raise AddressError("bad base58 checksum")
    return payload


# --- bech32 / bech32m (BIP-173, BIP-350) -------------------------------------------------------

BECH32_MAX_LENGTH = 90
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {c: i for i, c in enumerate(_CHARSET)}
_GENERATORS = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _gen_xor(b: int) -> int:
    acc = 0
    for i, g in enumerate(_GENERATORS):
        if (b >> i) & 1:
            acc ^= g
    return acc


# XOR of the generators selected by each 5-bit value: one table look-up per symbol.
_GEN_TABLE = tuple(_gen_xor(b) for b in range(32))


class Bech32Variant(Enum):
    """Which checksum constant a bech32 string uses."""

    BECH32 = 1
    BECH32M = 0x2BC830A3

    @property
    def label(self) -> str:
        return "bech32" if self is Bech32Variant.BECH32 else "bech32m"


def _polymod_step2_entry(top: int) -> int:
    chk = top << 20
    for _ in range(2):
        chk = ((chk & 0x1FFFFFF) << 5) ^ _GEN_TABLE[chk >> 25]
    return chk


# Two symbols per step: the checksum is linear over GF(2), so the effect of the top ten bits
# over two steps can be tabulated (1,024 entries), halving the Python-level loop.
_GEN_TABLE2 = tuple(_polymod_step2_entry(top) for top in range(1024))


def _polymod(values: Sequence[int], chk: int = 1) -> int:
    table2 = _GEN_TABLE2
    n = len(values)
    for i in range(0, n - 1, 2):
        chk = ((chk & 0xFFFFF) << 10) ^ (values[i] << 5) ^ values[i + 1] ^ table2[chk >> 20]
    if n & 1:
        chk = ((chk & 0x1FFFFFF) << 5) ^ values[-1] ^ _GEN_TABLE[chk >> 25]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _checksum(hrp: str, data: list[int], variant: Bech32Variant) -> list[int]:
    pm = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ variant.value
    return [(pm >> (5 * (5 - i))) & 31 for i in range(6)]


def bech32_encode_string(hrp: str, data: list[int], variant: Bech32Variant) -> str:
    """Encode 5-bit values under a human-readable part (the generic BIP-173 layer)."""
    hrp = hrp.lower()
    symbols = data + _checksum(hrp, data, variant)
    return hrp + "1" + "".join(_CHARSET[d] for d in symbols)


def bech32_decode_string(text: str) -> tuple[str, list[int], Bech32Variant]:
    """Decode any bech32/bech32m string: (lower-case hrp, 5-bit data without checksum, variant).

    Checks the generic rules only (characters, case, length, separator, checksum); segwit rules
    live in bech32_decode.
    """
    if not text:
        raise AddressError("empty bech32 string")
    if len(text) > BECH32_MAX_LENGTH:
        raise AddressError(
            f"bech32 string too long ({len(text)} characters, at most {BECH32_MAX_LENGTH})"
        )
    for c in text:
        if not 33 <= ord(c) <= 126:
            raise AddressError(f"invalid character {c!r} in bech32 string")
    lower = text.lower()
    if lower != text and text.upper() != text:
        raise AddressError("mixed upper and lower case in bech32 string")
    pos = lower.rfind("1")
    if pos < 0:
        raise AddressError("no bech32 separator '1'")
    if pos == 0:
        raise AddressError("empty bech32 human-readable part")
    if len(lower) - pos - 1 < 6:
        raise AddressError("bech32 checksum too short")
    hrp = lower[:pos]
    data: list[int] = []
    for c in lower[pos + 1 :]:
        d = _CHARSET_INDEX.get(c)
        if d is None:
            raise AddressError(f"invalid bech32 character {c!r}")
        data.append(d)
    residue = _polymod(data, _polymod(_hrp_expand(hrp)))
    if residue == Bech32Variant.BECH32.value:
        variant = Bech32Variant.BECH32
    elif residue == Bech32Variant.BECH32M.value:
        variant = Bech32Variant.BECH32M
    else:
        raise AddressError("bad bech32 checksum")
    return hrp, data[:-6], variant


# RFC 4648 base32 regroups bytes into 5-bit symbols with zero padding, exactly as BIP-173 does;
# the C implementation plus two translate tables make encoding cheap on the block-scan path.
_B32_TO_VALUES = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", bytes(range(32)))
_VALUES_TO_CHARSET = bytes.maketrans(bytes(range(32)), _CHARSET.encode())


def _to_5bit(program: bytes) -> bytes:
    """The program as 5-bit values (one per byte), the last one zero-padded."""
    return base64.b32encode(program).rstrip(b"=").translate(_B32_TO_VALUES)


def _from_5bit(data: list[int]) -> bytes:
    out = bytearray()
    acc = 0
    bits = 0
    for d in data:
        acc = ((acc << 5) | d) & 0xFFF
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    if bits >= 5:
        raise AddressError("invalid bech32 padding (more than 4 bits)")
    if (acc << (8 - bits)) & 0xFF:
        raise AddressError("non-zero bech32 padding")
    return bytes(out)


def _check_program(witver: int, length: int) -> None:
    if not 0 <= witver <= 16:
        raise AddressError(f"invalid witness version {witver} (must be 0..16)")
    if not 2 <= length <= 40:
        unit = "byte" if length == 1 else "bytes"
        raise AddressError(f"invalid witness program length {length} {unit} (must be 2..40)")
    if witver == 0 and length not in (20, 32):
        raise AddressError(f"invalid witness v0 program length {length} bytes (must be 20 or 32)")


@lru_cache(maxsize=16)
def _hrp_state(hrp: str) -> int:
    """Polymod state after the hrp: a pure function of the hrp, and only a few hrps exist."""
    return _polymod(_hrp_expand(hrp))


def bech32_encode(hrp: str, witver: int, program: bytes) -> str:
    """Segwit address: bech32 for witness v0, bech32m for v1 and later (BIP-350); lower case."""
    _check_program(witver, len(program))
    hrp = hrp.lower()
    data = bytes((witver,)) + _to_5bit(program)
    variant = Bech32Variant.BECH32 if witver == 0 else Bech32Variant.BECH32M
    pm = _polymod(data + b"\0\0\0\0\0\0", _hrp_state(hrp)) ^ variant.value
    check = bytes((pm >> shift) & 31 for shift in (25, 20, 15, 10, 5, 0))
    return hrp + "1" + (data + check).translate(_VALUES_TO_CHARSET).decode("ascii")


def bech32_decode(text: str) -> tuple[str, int, bytes]:
    """Decode a segwit address: (lower-case hrp, witness version, program), fully validated."""
    hrp, data, variant = bech32_decode_string(text)
    if not data:
        raise AddressError("empty bech32 data part (no witness version)")
    witver = data[0]
    if witver > 16:
        raise AddressError(f"invalid witness version {witver} (must be 0..16)")
    wanted = Bech32Variant.BECH32 if witver == 0 else Bech32Variant.BECH32M
    if variant is not wanted:
        raise AddressError(
            f"witness v{witver} address uses {variant.label} checksum, "
            f"{wanted.label} required (BIP-350)"
        )
    program = _from_5bit(data[1:])
    _check_program(witver, len(program))
    return hrp, witver, program
