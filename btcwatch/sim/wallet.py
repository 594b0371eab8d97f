"""Simulated keys and coins: byte-valid locking and unlocking data without real cryptography.

Every key is derived from a 32-byte seed drawn from the scenario's seeded RNG, so a whole chain
is reproducible from one integer. Public keys hash to the addresses that hold the coins (a
P2PKH scriptSig reveals the key that matches its address), but they are random bytes with a
valid prefix rather than curve points, and signatures are well-formed DER or 64-byte Schnorr
blobs that verify nothing. That is enough for explorers, parsers and tracers, which never check
signatures, and it keeps generation at microseconds per transaction.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass

from btcwatch.chain.script import ScriptType, p2pkh, p2sh, p2tr, p2wpkh, p2wsh
from btcwatch.chain.tx import RawTx, RawTxIn, RawTxOut
from btcwatch.errors import InputError

__all__ = [
    "ADDRESS_KINDS",
    "DUST",
    "RBF_SEQUENCE",
    "Built",
    "Coin",
    "Key",
    "KeyFactory",
    "build_tx",
    "estimate_vsize",
    "make_key",
    "pay",
    "unlock",
]

#: The five script types with an address form that wallets actually use.
ADDRESS_KINDS: tuple[ScriptType, ...] = (
    ScriptType.P2PKH,
    ScriptType.P2SH,
    ScriptType.P2WPKH,
    ScriptType.P2WSH,
    ScriptType.P2TR,
)
#: Bitcoin Core's dust threshold for P2PKH outputs: smaller change is left to the fee.
DUST = 546
#: nSequence that signals BIP125 replaceability (what most 2020 wallets sent).
RBF_SEQUENCE = 0xFFFFFFFD
FINAL_SEQUENCE = 0xFFFFFFFF

_SIG_SIZE = 71  # DER r and s of 32 bytes each, plus the sighash byte
_PUB_SIZE = 33


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _hash160(data: bytes) -> bytes:
    return hashlib.new("ripemd160", _sha256(data)).digest()


def _push(data: bytes) -> bytes:
    """A direct push (every item we push is shorter than 76 bytes)."""
    return bytes((len(data),)) + data


def _pubkey(seed: bytes, index: int) -> bytes:
    digest = _sha256(seed + bytes((index,)))
    return bytes((2 | (digest[0] & 1),)) + digest[1:] + digest[:1]


def _multisig_2of3(seed: bytes) -> bytes:
    keys = b"".join(_push(_pubkey(seed, i)) for i in range(3))
    return b"\x52" + keys + b"\x53\xae"


@dataclass(frozen=True, slots=True)
class Key:
    """One receiving address of a simulated wallet: its type, its seed and its scriptPubKey.

    P2SH keys are P2SH-P2WPKH (nested segwit), P2WSH keys are 2-of-3 multisig, P2TR keys spend
    by key path: the common forms of each type in 2020.
    """

    kind: ScriptType
    seed: bytes
    script: bytes
    pubkey: bytes = b""  # the first public key (cached: every spend reveals it)


def make_key(kind: ScriptType, seed: bytes) -> Key:
    """The key of ``kind`` derived from a 32-byte seed."""
    if len(seed) != 32:
        raise InputError(f"a key seed is 32 bytes, got {len(seed)}")
    pub = _pubkey(seed, 0)
    if kind is ScriptType.P2PKH:
        script = p2pkh(_hash160(pub))
    elif kind is ScriptType.P2WPKH:
        script = p2wpkh(_hash160(pub))
    elif kind is ScriptType.P2SH:
        script = p2sh(_hash160(b"\x00\x14" + _hash160(pub)))
    elif kind is ScriptType.P2WSH:
        script = p2wsh(_sha256(_multisig_2of3(seed)))
    elif kind is ScriptType.P2TR:
        script = p2tr(_sha256(seed + b"taproot"))
    else:
        raise InputError(f"cannot make a key of script type {kind}")
    return Key(kind, seed, script, pub)


class KeyFactory:
    """Fresh keys from the scenario's RNG (each call consumes 32 random bytes)."""

    __slots__ = ("_rng",)

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def new(self, kind: ScriptType) -> Key:
        return make_key(kind, self._rng.randbytes(32))


def _der_signature(rng: random.Random) -> bytes:
    """A strict-DER-shaped ECDSA signature (low r and s, no padding) with SIGHASH_ALL."""
    r = bytearray(rng.randbytes(32))
    s = bytearray(rng.randbytes(32))
    r[0] = (r[0] & 0x7F) or 1
    s[0] = (s[0] & 0x7F) or 1
    return b"\x30\x44\x02\x20" + bytes(r) + b"\x02\x20" + bytes(s) + b"\x01"


def unlock(key: Key, rng: random.Random) -> tuple[bytes, tuple[bytes, ...]]:
    """(scriptSig, witness) that spend an output of ``key`` in the usual shape for its type."""
    kind = key.kind
    if kind is ScriptType.P2TR:
        return b"", (rng.randbytes(64),)
    if kind is ScriptType.P2WSH:
        return b"", (b"", _der_signature(rng), _der_signature(rng), _multisig_2of3(key.seed))
    pub = key.pubkey or _pubkey(key.seed, 0)
    sig = _der_signature(rng)
    if kind is ScriptType.P2PKH:
        return _push(sig) + _push(pub), ()
    if kind is ScriptType.P2SH:
        return _push(b"\x00\x14" + _hash160(pub)), (sig, pub)
    return b"", (sig, pub)


# Serialised bytes per input: (non-witness part, witness part) for our unlocking shapes.
_INPUT_BYTES: dict[ScriptType, tuple[int, int]] = {
    ScriptType.P2PKH: (41 + 2 + _SIG_SIZE + _PUB_SIZE, 0),
    ScriptType.P2SH: (41 + 23, 3 + _SIG_SIZE + _PUB_SIZE),
    ScriptType.P2WPKH: (41, 3 + _SIG_SIZE + _PUB_SIZE),
    ScriptType.P2WSH: (41, 5 + 2 * _SIG_SIZE + 105),
    ScriptType.P2TR: (41, 2 + 64),
}


def _varint_size(n: int) -> int:
    return 1 if n < 0xFD else 3 if n <= 0xFFFF else 5


def estimate_vsize(kinds: Sequence[ScriptType], scripts: Sequence[bytes]) -> int:
    """The exact vsize of a tx spending inputs of ``kinds`` to outputs with ``scripts``.

    Exact because our signatures have fixed sizes; it lets fees be set before the tx exists.
    """
    base = 8 + _varint_size(len(kinds)) + _varint_size(len(scripts))
    base += sum(9 + len(s) for s in scripts)
    witness = 0
    for kind in kinds:
        b, w = _INPUT_BYTES[kind]
        base += b
        witness += w
    if witness:
        witness += 2 + sum(1 for k in kinds if _INPUT_BYTES[k][1] == 0)  # marker, flag, empty
    return (4 * base + witness + 3) // 4


@dataclass(frozen=True, slots=True)
class Coin:
    """An unspent output the simulation owns: where it is, what it holds, who can spend it."""

    txid: str
    vout: int
    value: int
    key: Key


@dataclass(frozen=True, slots=True)
class Built:
    """A transaction built from coins, with the coins it creates (indexed by vout)."""

    tx: RawTx
    coins: tuple[Coin, ...]
    fee: int

    @property
    def txid(self) -> str:
        return self.tx.txid


def build_tx(
    rng: random.Random,
    coins: Sequence[Coin],
    outputs: Sequence[tuple[Key, int]],
    *,
    sequence: int = RBF_SEQUENCE,
    locktime: int = 0,
) -> Built:
    """Spend ``coins`` to ``outputs`` exactly as given; the fee is what is left over."""
    if not coins:
        raise InputError("a transaction needs at least one coin to spend")
    total_in = sum(c.value for c in coins)
    total_out = sum(v for _, v in outputs)
    if total_out > total_in:
        raise InputError(f"outputs ({total_out} sat) exceed inputs ({total_in} sat)")
    inputs = []
    for coin in coins:
        script_sig, witness = unlock(coin.key, rng)
        inputs.append(RawTxIn(coin.txid, coin.vout, script_sig, sequence, witness))
    tx = RawTx(2, tuple(inputs), tuple(RawTxOut(v, k.script) for k, v in outputs), locktime)
    txid = tx.txid
    made = tuple(Coin(txid, i, v, k) for i, (k, v) in enumerate(outputs))
    return Built(tx, made, total_in - total_out)


def pay(
    rng: random.Random,
    coins: Sequence[Coin],
    payments: Sequence[tuple[Key, int]],
    change: Key | None,
    feerate: float,
    *,
    change_index: int | None = None,
    sequence: int = RBF_SEQUENCE,
) -> tuple[Built, int | None]:
    """Pay ``payments`` from ``coins`` at ``feerate`` sat/vB, the rest to ``change``.

    Change below the dust limit is left to the miner. ``change_index`` places the change output
    (default: a random position, as privacy-minded wallets do). Returns the tx and the vout of
    the change, or None when there is none.
    """
    kinds = [c.key.kind for c in coins]
    total_in = sum(c.value for c in coins)
    paid = sum(v for _, v in payments)
    scripts = [k.script for k, _ in payments]
    change_value = 0
    position: int | None = None
    if change is not None:
        fee = int(estimate_vsize(kinds, [*scripts, change.script]) * feerate)
        change_value = total_in - paid - fee
        if change_value >= DUST:
            position = rng.randint(0, len(payments)) if change_index is None else change_index
    if position is None:
        if not payments:
            raise InputError(f"coins of {total_in} sat leave nothing above dust after the fee")
        fee = int(estimate_vsize(kinds, scripts) * feerate)
        if total_in - paid < fee:
            raise InputError(f"coins of {total_in} sat cannot pay {paid} sat plus a {fee} sat fee")
    outputs = list(payments)
    if position is not None and change is not None:
        outputs.insert(position, (change, change_value))
    return build_tx(rng, coins, outputs, sequence=sequence), position
