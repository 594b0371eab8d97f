"""Addresses: a scriptPubKey rendered for one network, parsed back with errors that say why.

Identity is (script, network): the same key hash typed as "BC1Q..." or "bc1q..." is one Address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from btcwatch.chain.encoding import (
    b58check_decode,
    b58check_encode,
    bech32_decode,
    bech32_decode_string,
    bech32_encode,
)
from btcwatch.chain.network import MAINNET, REGTEST, SIGNET, TESTNET, Network
from btcwatch.chain.script import (
    ADDRESS_TYPES,
    ScriptType,
    classify,
    p2pkh,
    p2sh,
    witness_program,
    witness_version_and_program,
)
from btcwatch.errors import AddressError

__all__ = ["Address", "address_to_script", "decode_address", "network_of", "script_to_address"]

# Networks in the order used to name where a string belongs; SIGNET shares testnet's
# prefixes, so a string is only ever *inferred* to be mainnet, testnet or regtest.
_INFERABLE = (MAINNET, TESTNET, REGTEST)
_KNOWN = (MAINNET, TESTNET, SIGNET, REGTEST)
_MAX_LENGTH = 120  # longer than any address: refuse before doing big-number work
_WIF_VERSIONS = (0x80, 0xEF)
# Some hrp, the separator, then only bech32 characters: a bech32 string of another chain.
_BECH32_SHAPE = re.compile(r"([a-z]{1,83})1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{6,}")


class _SelfExplainingError(AddressError):
    """An error whose message must not be wrapped: it names the address, or hides a secret."""


def _shown(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _bech32_prefix(lower: str, network: Network | None) -> str | None:
    hrps = {n.hrp for n in _KNOWN}
    if network is not None:
        hrps.add(network.hrp)
    # Longest first so that "bcrt1..." is never read as hrp "bc".
    for hrp in sorted(hrps, key=len, reverse=True):
        if lower.startswith(hrp + "1"):
            return hrp
    return None


def _wrong_network(text: str, owner: Network | None, network: Network) -> _SelfExplainingError:
    if owner is None:
        return _SelfExplainingError(f"{_shown(text)} does not belong to {network.name}")
    return _SelfExplainingError(f"{text} is a {owner.name} address, not {network.name}")


def _parse_bech32(text: str, network: Network | None) -> tuple[bytes, Network]:
    hrp, witver, program = bech32_decode(text)
    script = witness_program(witver, program)
    if network is not None:
        if network.hrp != hrp:
            owner = next((n for n in _INFERABLE if n.hrp == hrp), None)
            raise _wrong_network(text, owner, network)
        return script, network
    for n in _INFERABLE:
        if n.hrp == hrp:
            return script, n
    raise AddressError(f"unknown bech32 prefix {hrp!r} (expected bc, tb or bcrt)")


def _parse_base58(text: str, network: Network | None) -> tuple[bytes, Network]:
    payload = b58check_decode(text)
    version = payload[0] if payload else -1
    if len(payload) in (33, 34) and version in _WIF_VERSIONS:
        raise _SelfExplainingError("this is a private key (WIF), not an address")
    if len(payload) == 78:
        raise AddressError("this is an extended key (xpub/tpub...), not an address")
    if len(payload) != 21:
        raise AddressError(
            f"invalid base58 address length: {len(payload)} bytes decoded (expected 21)"
        )
    body = payload[1:]
    candidates = (network,) if network is not None else _INFERABLE
    for n in candidates:
        if version == n.p2pkh_version:
            return p2pkh(body), n
        if version == n.p2sh_version:
            return p2sh(body), n
    if network is not None:
        owner = next((n for n in _INFERABLE if version in (n.p2pkh_version, n.p2sh_version)), None)
        if owner is not None:
            raise _wrong_network(text, owner, network)
    raise AddressError(
        f"unknown base58 version byte 0x{version:02x} (not a Bitcoin P2PKH or P2SH address)"
    )


def _decode(text: str, network: Network | None) -> tuple[bytes, Network]:
    """Parse an already stripped string; errors name only the problem (callers add context)."""
    if not text:
        raise AddressError("empty address")
    if len(text) > _MAX_LENGTH:
        raise AddressError(f"too long for an address ({len(text)} characters)")
    if _bech32_prefix(text.lower(), network) is not None:
        return _parse_bech32(text, network)
    try:
        hrp, _, _ = bech32_decode_string(text)
    except AddressError:
        pass
    else:  # a checksum-valid bech32 string for some other chain (e.g. Litecoin "ltc1...")
        raise AddressError(f"unknown bech32 prefix {hrp!r} (expected bc, tb or bcrt)")
    try:
        return _parse_base58(text, network)
    except AddressError:
        looks_bech32 = _BECH32_SHAPE.fullmatch(text.lower())
        if looks_bech32 is None or not (text.islower() or text.isupper()):
            raise
    raise AddressError(f"unknown bech32 prefix {looks_bech32[1]!r} (expected bc, tb or bcrt)")


@dataclass(frozen=True, slots=True, repr=False)
class Address:
    """An output script together with the network it is rendered for."""

    script: bytes
    network: Network

    def __post_init__(self) -> None:
        if classify(self.script) not in ADDRESS_TYPES:
            raise AddressError(
                f"a {classify(self.script)} script has no address form ({self.script.hex()})"
            )

    @classmethod
    def parse(cls, text: str, network: Network | None = None) -> Address:
        """Parse any Bitcoin address; with network None it is inferred from the prefix."""
        stripped = text.strip()
        try:
            script, net = _decode(stripped, network)
        except _SelfExplainingError as exc:
            raise AddressError(str(exc)) from None
        except AddressError as exc:
            raise AddressError(f"invalid address {_shown(stripped)}: {exc}") from None
        return cls(script, net)

    @classmethod
    def from_script(cls, script: bytes | bytearray | memoryview, network: Network) -> Address:
        """The address of a scriptPubKey; AddressError if it has none (OP_RETURN, P2PK, ...)."""
        return cls(bytes(script), network)

    @property
    def type(self) -> ScriptType:
        return classify(self.script)

    def __str__(self) -> str:
        text = script_to_address(self.script, self.network)
        assert text is not None  # guaranteed by __post_init__
        return text

    def __repr__(self) -> str:
        return f"Address({str(self)!r}, {self.network.name})"


def script_to_address(script: bytes, network: Network) -> str | None:
    """Canonical address string of a scriptPubKey, or None when it has no address form.

    Called for every output in block-scan mode: template checks are inlined, and results are
    memoised (bounded) because the same scripts (exchange hot wallets, pools) recur in block
    after block and in every poll of a watched address.
    """
    if type(script) is not bytes:  # bytearray/memoryview slices are not hashable
        script = bytes(script)
    return _script_to_address(script, network)


@lru_cache(maxsize=8192)
def _script_to_address(script: bytes, network: Network) -> str | None:
    n = len(script)
    if n == 25 and script[:3] == b"\x76\xa9\x14" and script[23:] == b"\x88\xac":
        return b58check_encode(bytes((network.p2pkh_version,)) + script[3:23])
    if n == 23 and script[:2] == b"\xa9\x14" and script[22] == 0x87:
        return b58check_encode(bytes((network.p2sh_version,)) + script[2:22])
    found = witness_version_and_program(script)
    if found is None:
        return None
    version, program = found
    if version == 0 and len(program) not in (20, 32):
        return None
    return bech32_encode(network.hrp, version, program)


def decode_address(text: str, network: Network | None = None) -> Address:
    """Address.parse whose errors carry only the problem ("bad base58 checksum").

    For callers that show the offending text next to the reason themselves (extract, intake).
    """
    script, net = _decode(text.strip(), network)
    return Address(script, net)


def address_to_script(text: str, network: Network | None = None) -> bytes:
    """The scriptPubKey an address pays to."""
    return Address.parse(text, network).script


def network_of(text: str) -> Network:
    """The network an address string belongs to (MAINNET, TESTNET or REGTEST)."""
    return Address.parse(text).network
