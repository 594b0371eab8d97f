"""Output scripts (scriptPubKey): classification and builders.

The script, not the address string, is an output's identity; classify() runs on every output of
every block in block-scan mode, so it is a chain of byte comparisons with no parsing.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ADDRESS_TYPES",
    "ScriptType",
    "classify",
    "op_return",
    "p2pkh",
    "p2sh",
    "p2tr",
    "p2wpkh",
    "p2wsh",
    "witness_program",
    "witness_version_and_program",
]

OP_0 = 0x00
OP_PUSHDATA1 = 0x4C
OP_PUSHDATA2 = 0x4D
OP_PUSHDATA4 = 0x4E
OP_1 = 0x51
OP_16 = 0x60
OP_RETURN = 0x6A
OP_DUP = 0x76
OP_EQUAL = 0x87
OP_EQUALVERIFY = 0x88
OP_HASH160 = 0xA9
OP_CHECKSIG = 0xAC
OP_CHECKMULTISIG = 0xAE


class ScriptType(StrEnum):
    """What kind of output a scriptPubKey is (names as used in exports and the database)."""

    P2PKH = "p2pkh"
    P2SH = "p2sh"
    P2WPKH = "p2wpkh"
    P2WSH = "p2wsh"
    P2TR = "p2tr"
    WITNESS_UNKNOWN = "witness_unknown"
    P2PK = "p2pk"
    MULTISIG = "multisig"
    OP_RETURN = "op_return"
    NONSTANDARD = "nonstandard"


# Script types that have an address form.
ADDRESS_TYPES = frozenset(
    {
        ScriptType.P2PKH,
        ScriptType.P2SH,
        ScriptType.P2WPKH,
        ScriptType.P2WSH,
        ScriptType.P2TR,
        ScriptType.WITNESS_UNKNOWN,
    }
)

_P2PKH_HEAD = bytes((OP_DUP, OP_HASH160, 20))
_P2PKH_TAIL = bytes((OP_EQUALVERIFY, OP_CHECKSIG))


def _pubkey_size_ok(header: int, size: int) -> bool:
    """Bitcoin Core's CPubKey::ValidSize: the first byte fixes the length of a public key."""
    if header in (2, 3):
        return size == 33
    if header in (4, 6, 7):
        return size == 65
    return False


def _is_multisig(script: bytes) -> bool:
    """OP_m <pubkey>... OP_n OP_CHECKMULTISIG with 1 <= m <= n <= 16 and well-sized keys."""
    n = len(script)
    if n < 37 or script[-1] != OP_CHECKMULTISIG:
        return False
    m_op, n_op = script[0], script[-2]
    if not (OP_1 <= m_op <= OP_16 and OP_1 <= n_op <= OP_16):
        return False
    i = 1
    keys = 0
    end = n - 2
    while i < end:
        size = script[i]
        if size not in (33, 65) or i + 1 + size > end:
            return False
        if not _pubkey_size_ok(script[i + 1], size):
            return False
        i += 1 + size
        keys += 1
    required, total = m_op - OP_1 + 1, n_op - OP_1 + 1
    return i == end and keys == total and 1 <= required <= total


def classify(script: bytes) -> ScriptType:
    """Classify a scriptPubKey by template, following Bitcoin Core's Solver.

    OP_RETURN means "first byte is OP_RETURN" (provably unspendable, as Esplora reports it).
    A version 0 witness program of a length other than 20 or 32 is NONSTANDARD (unspendable by
    consensus), other witness versions of any valid length are WITNESS_UNKNOWN except v1/32
    bytes which is P2TR.
    """
    n = len(script)
    if n == 0:
        return ScriptType.NONSTANDARD
    first = script[0]
    if n == 25:
        if script[:3] == _P2PKH_HEAD and script[23:] == _P2PKH_TAIL:
            return ScriptType.P2PKH
    elif n == 23:
        if first == OP_HASH160 and script[1] == 20 and script[22] == OP_EQUAL:
            return ScriptType.P2SH
    elif n == 22:
        if first == OP_0 and script[1] == 20:
            return ScriptType.P2WPKH
    elif n == 34 and script[1] == 32:
        if first == OP_0:
            return ScriptType.P2WSH
        if first == OP_1:
            return ScriptType.P2TR
    if first == OP_RETURN:
        return ScriptType.OP_RETURN
    if 4 <= n <= 42 and script[1] == n - 2:
        if first == OP_0:
            return ScriptType.NONSTANDARD
        if OP_1 <= first <= OP_16:
            return ScriptType.WITNESS_UNKNOWN
    if (
        (n == 35 or n == 67)
        and first == n - 2
        and script[-1] == OP_CHECKSIG
        and _pubkey_size_ok(script[1], first)
    ):
        return ScriptType.P2PK
    if _is_multisig(script):
        return ScriptType.MULTISIG
    return ScriptType.NONSTANDARD


def witness_version_and_program(script: bytes) -> tuple[int, bytes] | None:
    """(version, program) if the script is a BIP-141 witness program, else None.

    Any 2..40 byte program counts here, including v0 programs of invalid length: callers that
    need an address check the length rules themselves (bech32_encode does).
    """
    n = len(script)
    if n < 4 or n > 42 or script[1] != n - 2:
        return None
    first = script[0]
    if first == OP_0:
        return 0, script[2:]
    if OP_1 <= first <= OP_16:
        return first - OP_1 + 1, script[2:]
    return None


def _need(name: str, data: bytes, size: int) -> None:
    if len(data) != size:
        raise ValueError(f"{name} needs {size} bytes, got {len(data)}")


def p2pkh(h160: bytes) -> bytes:
    """OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG."""
    _need("p2pkh", h160, 20)
    return _P2PKH_HEAD + h160 + _P2PKH_TAIL


def p2sh(h160: bytes) -> bytes:
    """OP_HASH160 <20> OP_EQUAL."""
    _need("p2sh", h160, 20)
    return bytes((OP_HASH160, 20)) + h160 + bytes((OP_EQUAL,))


def witness_program(version: int, program: bytes) -> bytes:
    """OP_version <program>: a segwit output of any version 0..16 and program of 2..40 bytes."""
    if not 0 <= version <= 16:
        raise ValueError(f"witness version must be 0..16, got {version}")
    if not 2 <= len(program) <= 40:
        raise ValueError(f"witness program must be 2..40 bytes, got {len(program)}")
    op = OP_0 if version == 0 else OP_1 + version - 1
    return bytes((op, len(program))) + program


def p2wpkh(h160: bytes) -> bytes:
    """OP_0 <20-byte key hash>."""
    _need("p2wpkh", h160, 20)
    return witness_program(0, h160)


def p2wsh(h256: bytes) -> bytes:
    """OP_0 <32-byte script hash>."""
    _need("p2wsh", h256, 32)
    return witness_program(0, h256)


def p2tr(xonly32: bytes) -> bytes:
    """OP_1 <32-byte x-only output key>."""
    _need("p2tr", xonly32, 32)
    return witness_program(1, xonly32)


def op_return(data: bytes) -> bytes:
    """OP_RETURN followed by one push of data, using the smallest push opcode."""
    n = len(data)
    if n <= 75:
        push = bytes((n,))
    elif n <= 0xFF:
        push = bytes((OP_PUSHDATA1, n))
    elif n <= 0xFFFF:
        push = bytes((OP_PUSHDATA2,)) + n.to_bytes(2, "little")
    else:
        push = bytes((OP_PUSHDATA4,)) + n.to_bytes(4, "little")
    return bytes((OP_RETURN,)) + push + data
