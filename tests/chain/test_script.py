"""Script classification and builders, checked against real mainnet outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from btcwatch.chain.script import (
    ScriptType,
    classify,
    op_return,
    p2pkh,
    p2sh,
    p2tr,
    p2wpkh,
    p2wsh,
    witness_program,
    witness_version_and_program,
)

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"
MEMPOOL = json.loads((VECTORS / "mempool_space_scripts.json").read_text())["outputs"]

# mempool.space / Esplora type names -> ours. Esplora's "unknown" is a witness program of an
# unassigned version/length; its "op_return" is any script starting with OP_RETURN.
ESPLORA_TYPES = {
    "p2pkh": ScriptType.P2PKH,
    "p2sh": ScriptType.P2SH,
    "v0_p2wpkh": ScriptType.P2WPKH,
    "v0_p2wsh": ScriptType.P2WSH,
    "v1_p2tr": ScriptType.P2TR,
    "unknown": ScriptType.WITNESS_UNKNOWN,
    "p2pk": ScriptType.P2PK,
    "multisig": ScriptType.MULTISIG,
    "op_return": ScriptType.OP_RETURN,
}

H20 = bytes(range(20))
H32 = bytes(range(32))
PUB33 = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
PUB65 = bytes.fromhex(
    "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"
)


@pytest.mark.parametrize("out", MEMPOOL, ids=lambda o: f"{o['type']}-{o['scriptpubkey'][:12]}")
def test_classify_matches_mempool_space(out: dict[str, str]) -> None:
    assert classify(bytes.fromhex(out["scriptpubkey"])) is ESPLORA_TYPES[out["type"]]


def test_real_data_covers_every_type_with_a_mainnet_example() -> None:
    found = {ESPLORA_TYPES[o["type"]] for o in MEMPOOL}
    assert found == set(ScriptType) - {ScriptType.NONSTANDARD}


def test_builders_produce_standard_templates() -> None:
    assert p2pkh(H20).hex() == "76a914" + H20.hex() + "88ac"
    assert p2sh(H20).hex() == "a914" + H20.hex() + "87"
    assert p2wpkh(H20).hex() == "0014" + H20.hex()
    assert p2wsh(H32).hex() == "0020" + H32.hex()
    assert p2tr(H32).hex() == "5120" + H32.hex()
    assert witness_program(16, b"\x75\x1e").hex() == "6002751e"  # BIP-350 vector
    assert classify(p2pkh(H20)) is ScriptType.P2PKH
    assert classify(p2sh(H20)) is ScriptType.P2SH
    assert classify(p2wpkh(H20)) is ScriptType.P2WPKH
    assert classify(p2wsh(H32)) is ScriptType.P2WSH
    assert classify(p2tr(H32)) is ScriptType.P2TR


@pytest.mark.parametrize(
    ("builder", "size"), [(p2pkh, 20), (p2sh, 20), (p2wpkh, 20), (p2wsh, 32), (p2tr, 32)]
)
def test_builders_check_hash_length(builder: Callable[[bytes], bytes], size: int) -> None:
    with pytest.raises(ValueError, match=f"needs {size} bytes, got {size + 1}"):
        builder(bytes(size + 1))


def test_witness_program_limits() -> None:
    with pytest.raises(ValueError, match=r"0\.\.16"):
        witness_program(17, H20)
    with pytest.raises(ValueError, match=r"2\.\.40"):
        witness_program(1, b"\x01")
    with pytest.raises(ValueError, match=r"2\.\.40"):
        witness_program(1, bytes(41))


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (b"", ScriptType.NONSTANDARD),
        (b"\x51", ScriptType.NONSTANDARD),  # OP_TRUE alone
        (witness_program(0, bytes(25)), ScriptType.NONSTANDARD),  # v0 needs 20 or 32
        (witness_program(1, bytes(20)), ScriptType.WITNESS_UNKNOWN),  # v1, not 32 bytes
        (witness_program(2, bytes(32)), ScriptType.WITNESS_UNKNOWN),
        (bytes.fromhex("51024e73"), ScriptType.WITNESS_UNKNOWN),  # pay-to-anchor
        (bytes([0x21]) + PUB33 + b"\xac", ScriptType.P2PK),
        (bytes([0x41]) + PUB65 + b"\xac", ScriptType.P2PK),
        (bytes([0x21]) + b"\x05" + PUB33[1:] + b"\xac", ScriptType.NONSTANDARD),  # bad header
        (b"\x52\x21" + PUB33 + b"\x41" + PUB65 + b"\x52\xae", ScriptType.MULTISIG),  # 2-of-2
        (b"\x53\x21" + PUB33 + b"\x41" + PUB65 + b"\x52\xae", ScriptType.NONSTANDARD),  # 3-of-2
        (b"\x51\x21" + PUB33 + b"\x52\xae", ScriptType.NONSTANDARD),  # says 2 keys, has 1
        (b"\x51\x21" + PUB33[:-1] + b"\x51\xae", ScriptType.NONSTANDARD),  # truncated key
        (b"\x6a", ScriptType.OP_RETURN),
        (op_return(b"hello"), ScriptType.OP_RETURN),
        (p2pkh(H20)[:-1] + b"\xad", ScriptType.NONSTANDARD),  # CHECKSIGVERIFY
        (p2sh(H20)[:-1] + b"\x88", ScriptType.NONSTANDARD),
    ],
)
def test_classify_edge_cases(script: bytes, expected: ScriptType) -> None:
    assert classify(script) is expected


@pytest.mark.parametrize("size", [0, 1, 75, 76, 255, 256, 65535, 65536])
def test_op_return_uses_smallest_push(size: int) -> None:
    data = bytes(size)
    script = op_return(data)
    assert script[0] == 0x6A
    assert script.endswith(data)
    header = len(script) - size - 1
    assert header == (1 if size <= 75 else 2 if size <= 255 else 3 if size <= 65535 else 5)
    assert classify(script) is ScriptType.OP_RETURN


def test_witness_version_and_program() -> None:
    assert witness_version_and_program(p2wpkh(H20)) == (0, H20)
    assert witness_version_and_program(p2tr(H32)) == (1, H32)
    assert witness_version_and_program(witness_program(16, b"\x75\x1e")) == (16, b"\x75\x1e")
    assert witness_version_and_program(p2pkh(H20)) is None
    assert witness_version_and_program(b"\x00\x15" + H20) is None  # length byte lies
    assert witness_version_and_program(b"\x4f\x02ab") is None  # OP_1NEGATE is no version


@given(st.integers(min_value=0, max_value=16), st.binary(min_size=2, max_size=40))
def test_any_witness_program_roundtrips(version: int, program: bytes) -> None:
    script = witness_program(version, program)
    assert witness_version_and_program(script) == (version, program)
    kind = classify(script)
    if version == 0:
        expected = {20: ScriptType.P2WPKH, 32: ScriptType.P2WSH}.get(
            len(program), ScriptType.NONSTANDARD
        )
    elif version == 1 and len(program) == 32:
        expected = ScriptType.P2TR
    else:
        expected = ScriptType.WITNESS_UNKNOWN
    assert kind is expected


@given(st.binary(max_size=100))
def test_classify_never_fails(script: bytes) -> None:
    assert isinstance(classify(script), ScriptType)
