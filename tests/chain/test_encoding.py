"""Base58Check and bech32/bech32m against the Bitcoin Core and BIP-173/350 vectors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from btcwatch.chain.encoding import (
    Bech32Variant,
    b58check_decode,
    b58check_encode,
    b58decode,
    b58encode,
    bech32_decode,
    bech32_decode_string,
    bech32_encode,
    bech32_encode_string,
    sha256d,
)
from btcwatch.chain.script import witness_program
from btcwatch.errors import AddressError

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


BASE58 = _load("base58_encode_decode.json")
BECH32 = _load("bech32_bech32m_vectors.json")
BIP173 = BECH32["bip173_bech32"]
BIP350 = BECH32["bip350_bech32m"]


def test_sha256d_is_double_sha256() -> None:
    assert sha256d(b"").hex() == (
        "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"
    )
    data = b"btcwatch"
    assert sha256d(data) == hashlib.sha256(hashlib.sha256(data).digest()).digest()


# --- base58 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("hex_data", "text"), BASE58)
def test_base58_core_vectors(hex_data: str, text: str) -> None:
    assert b58encode(bytes.fromhex(hex_data)) == text
    assert b58decode(text) == bytes.fromhex(hex_data)


@pytest.mark.parametrize("bad", ["0", "O", "I", "l"])
def test_base58_names_the_invalid_character(bad: str) -> None:
    with pytest.raises(AddressError, match=f"^invalid base58 character '{bad}'$"):
        b58decode("1AGNa15ZQXAZU" + bad + "gFiqJ2i7Z2DPU2J6hW62i")


def test_base58check_roundtrip_and_checksum() -> None:
    payload = bytes.fromhex("0065a16059864a2fdbc7c99a4723a8395bc6f188eb")
    text = b58check_encode(payload)
    assert text == "1AGNa15ZQXAZUgFiqJ2i7Z2DPU2J6hW62i"  # Bitcoin Core key_io_valid
    assert b58check_decode(text) == payload
    typo = text[:10] + ("A" if text[10] != "A" else "B") + text[11:]
    with pytest.raises(AddressError, match=r"^bad base58 checksum$"):
        b58check_decode(typo)


def test_base58check_too_short() -> None:
    with pytest.raises(AddressError, match="too short"):
        b58check_decode("x")


@given(st.binary(max_size=64))
def test_base58_roundtrip(data: bytes) -> None:
    assert b58decode(b58encode(data)) == data
    assert b58check_decode(b58check_encode(data)) == data


@given(st.integers(min_value=0, max_value=8), st.binary(max_size=24))
def test_base58_keeps_leading_zero_bytes(zeros: int, rest: bytes) -> None:
    data = b"\0" * zeros + rest
    text = b58encode(data)
    assert len(text) - len(text.lstrip("1")) == zeros + len(rest) - len(rest.lstrip(b"\0"))
    assert b58decode(text) == data


# --- generic bech32 strings (BIP-173/350 "valid/invalid strings") ---------------------------


@pytest.mark.parametrize(
    ("text", "variant"),
    [(v["string"], Bech32Variant.BECH32) for v in BIP173["valid_strings"]]
    + [(v["string"], Bech32Variant.BECH32M) for v in BIP350["valid_strings"]],
)
def test_valid_bech32_strings(text: str, variant: Bech32Variant) -> None:
    hrp, data, found = bech32_decode_string(text)
    assert found is variant
    assert hrp == text[: text.rfind("1")].lower()
    assert bech32_encode_string(hrp, data, variant) == text.lower()


@pytest.mark.parametrize(
    ("text", "variant"),
    [(v["string"], Bech32Variant.BECH32) for v in BIP173["valid_strings"]]
    + [(v["string"], Bech32Variant.BECH32M) for v in BIP350["valid_strings"]],
)
def test_one_flipped_character_breaks_the_checksum(text: str, variant: Bech32Variant) -> None:
    lower = text.lower()
    pos = len(lower) - 1  # last checksum character
    swapped = "q" if lower[pos] != "q" else "p"
    with pytest.raises(AddressError, match=r"^bad bech32 checksum$"):
        bech32_decode_string(lower[:pos] + swapped)


INVALID_STRING_MESSAGES = {
    "HRP character out of range": "invalid character",
    "overall max length exceeded": "too long",
    "No separator character": "no bech32 separator",
    "Empty HRP": "empty bech32 human-readable part",
    "empty HRP": "empty bech32 human-readable part",
    "Invalid data character": "invalid bech32 character",
    "Too short checksum": "checksum too short",
    "Invalid character in checksum": "invalid (bech32 )?character",
    "checksum calculated with uppercase form of HRP": "bad bech32 checksum",
}


@pytest.mark.parametrize(
    ("text", "reason"),
    [(v["string"], v["reason"]) for v in BIP173["invalid_strings"] + BIP350["invalid_strings"]],
)
def test_invalid_bech32_strings_name_the_problem(text: str, reason: str) -> None:
    with pytest.raises(AddressError, match=INVALID_STRING_MESSAGES[reason]):
        bech32_decode_string(text)


# --- segwit addresses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "script_hex"), [(v["string"], v["scriptPubKey"]) for v in BIP350["valid_addresses"]]
)
def test_bip350_valid_addresses(text: str, script_hex: str) -> None:
    hrp, version, program = bech32_decode(text)
    assert witness_program(version, program).hex() == script_hex
    assert bech32_encode(hrp, version, program) == text.lower()


def test_bip173_v1_plus_addresses_now_need_bech32m() -> None:
    """BIP-173 listed v1+ addresses with a bech32 checksum; BIP-350 made them invalid."""
    v0 = [v for v in BIP173["valid_addresses"] if v["scriptPubKey"].startswith("00")]
    later = [v for v in BIP173["valid_addresses"] if not v["scriptPubKey"].startswith("00")]
    assert v0 and later
    for v in v0:
        bech32_decode(v["string"])
    for v in later:
        with pytest.raises(AddressError, match="uses bech32 checksum, bech32m required"):
            bech32_decode(v["string"])


# One distinct message per BIP-350 reason: a person reading it knows what to fix.
INVALID_ADDRESS_MESSAGES = {
    "Invalid human-readable part": None,  # checked in test_address (prefix is network policy)
    "Invalid checksum (Bech32 instead of Bech32m)": "uses bech32 checksum, bech32m required",
    "Invalid checksum (Bech32m instead of Bech32)": "uses bech32m checksum, bech32 required",
    "Invalid character in checksum": "invalid bech32 character 'o'",
    "Invalid witness version": "invalid witness version 17",
    "Invalid program length (1 byte)": "invalid witness program length 1 byte ",
    "Invalid program length (41 bytes)": "invalid witness program length 41 bytes",
    "Invalid program length for witness version 0 (per BIP141)": "witness v0 program length 16",
    "Mixed case": "mixed upper and lower case",
    "zero padding of more than 4 bits": "more than 4 bits",
    "Non-zero padding in 8-to-5 conversion": "non-zero bech32 padding",
    "Empty data section": "empty bech32 data part",
}


@pytest.mark.parametrize(
    ("text", "reason"), [(v["string"], v["reason"]) for v in BIP350["invalid_addresses"]]
)
def test_bip350_invalid_addresses_name_the_problem(text: str, reason: str) -> None:
    expected = INVALID_ADDRESS_MESSAGES[reason]
    if expected is None:
        hrp, _, _ = bech32_decode(text)
        assert hrp not in ("bc", "tb", "bcrt")
        return
    with pytest.raises(AddressError) as info:
        bech32_decode(text)
    assert expected in str(info.value)


def test_messages_are_distinct_per_problem() -> None:
    kinds: dict[str, set[str]] = {}
    for v in BIP350["invalid_addresses"]:
        if INVALID_ADDRESS_MESSAGES[v["reason"]] is None:
            continue
        with pytest.raises(AddressError) as info:
            bech32_decode(v["string"])
        # "length 1 byte" and "length 41 bytes" are one kind of problem: compare without numbers.
        reason = v["reason"].replace(" (1 byte)", "").replace(" (41 bytes)", "")
        kind = "".join(c for c in str(info.value) if not c.isdigit()).replace("bytes", "byte")
        kinds.setdefault(reason, set()).add(kind)
    assert all(len(k) == 1 for k in kinds.values())
    assert len({next(iter(k)) for k in kinds.values()}) == len(kinds) == 10


def test_bech32_encode_rejects_what_has_no_address() -> None:
    with pytest.raises(AddressError, match="witness v0 program length 16"):
        bech32_encode("bc", 0, bytes(16))
    with pytest.raises(AddressError, match="witness version 17"):
        bech32_encode("bc", 17, bytes(32))
    with pytest.raises(AddressError, match="length 41 bytes"):
        bech32_encode("bc", 1, bytes(41))


def test_too_long_string() -> None:
    text = bech32_encode("bc", 1, bytes(40)) + "q" * 20
    with pytest.raises(AddressError, match=r"too long \(94 characters, at most 90\)"):
        bech32_decode(text)


@st.composite
def segwit(draw: st.DrawFn) -> tuple[str, int, bytes]:
    version = draw(st.integers(min_value=0, max_value=16))
    if version == 0:
        size = draw(st.sampled_from([20, 32]))
    else:
        size = draw(st.integers(min_value=2, max_value=40))
    program = draw(st.binary(min_size=size, max_size=size))
    hrp = draw(st.sampled_from(["bc", "tb", "bcrt"]))
    return hrp, version, program


@given(segwit())
def test_bech32_roundtrip(case: tuple[str, int, bytes]) -> None:
    hrp, version, program = case
    text = bech32_encode(hrp, version, program)
    assert text == text.lower()
    assert bech32_decode(text) == (hrp, version, program)
    assert bech32_decode(text.upper()) == (hrp, version, program)
    _, _, variant = bech32_decode_string(text)
    assert variant is (Bech32Variant.BECH32 if version == 0 else Bech32Variant.BECH32M)
