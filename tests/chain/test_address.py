"""Address parsing and rendering: Bitcoin Core key_io vectors, networks, error messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from btcwatch.chain.address import (
    Address,
    address_to_script,
    decode_address,
    network_of,
    script_to_address,
)
from btcwatch.chain.encoding import B58_ALPHABET, b58check_encode, bech32_encode
from btcwatch.chain.network import MAINNET, REGTEST, SIGNET, TESTNET, Network
from btcwatch.chain.script import (
    ScriptType,
    op_return,
    p2pkh,
    p2sh,
    p2tr,
    p2wpkh,
    witness_program,
)
from btcwatch.errors import AddressError, InputError

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"
ALL_NETWORKS: list[Network | None] = [None, MAINNET, TESTNET, SIGNET, REGTEST]
CHAINS = {
    "main": MAINNET,
    "test": TESTNET,
    "testnet4": TESTNET,
    "signet": SIGNET,
    "regtest": REGTEST,
}


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def _addresses(name: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Address entries of a key_io_valid file; isPrivkey entries are WIF keys, not addresses."""
    return [(a, s, m) for a, s, m in _load(name) if not m["isPrivkey"]]


CORE_2021 = _addresses("key_io_valid.json")
CORE_NOW = _addresses("key_io_valid_1010c48.json")
INVALID = [row[0] for row in _load("key_io_invalid.json")] + [
    row[0] for row in _load("key_io_invalid_03d816b.json")
]
BIP350 = _load("bech32_bech32m_vectors.json")["bip350_bech32m"]

# BIP-32 test vector 1, chain m: investigators get sent xpubs too.
BIP32_XPUB = (
    "xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD2"
    "65TMg7usUDFdp6W1EGMcet8"
)
WANNACRY = [
    ("115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn", ScriptType.P2PKH),
    ("12t9YDPgwueZ9NyMgw519p7AA8isjr6SMw", ScriptType.P2PKH),
    ("13AM4VW2dhxYgXeQepoHkHSQuy6NgaEb94", ScriptType.P2PKH),
]
FAMOUS = [
    *WANNACRY,
    ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", ScriptType.P2SH),
    ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", ScriptType.P2WPKH),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", ScriptType.P2TR),
]


def _is_bech32(meta: dict[str, Any]) -> bool:
    return bool(meta.get("tryCaseFlip"))


# --- Bitcoin Core vectors --------------------------------------------------------------------


@pytest.mark.parametrize(("text", "script_hex", "meta"), CORE_NOW, ids=[r[0] for r in CORE_NOW])
def test_core_valid_addresses(text: str, script_hex: str, meta: dict[str, Any]) -> None:
    network = CHAINS[meta["chain"]]
    address = Address.parse(text, network)
    assert address.script.hex() == script_hex
    assert address.network == network
    assert str(address) == text  # Core's strings are canonical already
    assert Address.from_script(bytes.fromhex(script_hex), network) == address
    assert script_to_address(bytes.fromhex(script_hex), network) == text
    if _is_bech32(meta):
        assert Address.parse(text.swapcase(), network) == address
        assert Address.parse(text.upper(), network) == address


@pytest.mark.parametrize(("text", "script_hex", "meta"), CORE_NOW, ids=[r[0] for r in CORE_NOW])
def test_core_valid_addresses_infer_the_network(
    text: str, script_hex: str, meta: dict[str, Any]
) -> None:
    inferred = Address.parse(text).network
    expected = CHAINS[meta["chain"]]
    if expected is SIGNET or (expected is REGTEST and not _is_bech32(meta)):
        expected = TESTNET  # signet and regtest base58 share testnet's prefixes
    assert inferred == expected
    assert network_of(text) == expected
    assert address_to_script(text).hex() == script_hex


def test_core_2021_vectors_before_and_after_bip350() -> None:
    """The 2021 file predates BIP-350: its v1+ entries use bech32 and must now be refused, and
    the same scripts must render as the BIP-350 bech32m strings."""
    bip350 = {v["scriptPubKey"]: v["string"].lower() for v in BIP350["valid_addresses"]}
    refused = 0
    for text, script_hex, meta in CORE_2021:
        network = CHAINS[meta["chain"]]
        if _is_bech32(meta) and not script_hex.startswith("00"):
            with pytest.raises(AddressError, match="uses bech32 checksum, bech32m required"):
                Address.parse(text, network)
            rendered = str(Address.from_script(bytes.fromhex(script_hex), network))
            assert rendered == bip350[script_hex]
            refused += 1
            continue
        address = Address.parse(text, network)
        assert address.script.hex() == script_hex
        assert str(address) == (text.lower() if _is_bech32(meta) else text)
    assert refused == 3


@pytest.mark.parametrize("text", INVALID)
def test_core_invalid_strings_rejected_on_every_network(text: str) -> None:
    for network in ALL_NETWORKS:
        with pytest.raises(AddressError):
            Address.parse(text, network)


@pytest.mark.parametrize(
    ("text", "script_hex"), [(v["string"], v["scriptPubKey"]) for v in BIP350["valid_addresses"]]
)
def test_bip350_valid_addresses(text: str, script_hex: str) -> None:
    address = Address.parse(text)
    assert address.script.hex() == script_hex
    assert str(address) == text.lower()


@pytest.mark.parametrize(("text", "kind"), FAMOUS)
def test_real_ransom_and_famous_addresses(text: str, kind: ScriptType) -> None:
    address = Address.parse(text, MAINNET)
    assert address.type is kind
    assert str(address) == text
    assert Address.parse(text) == address


def test_real_outputs_render_like_mempool_space() -> None:
    outputs = json.loads((VECTORS / "mempool_space_scripts.json").read_text())["outputs"]
    checked = 0
    for out in outputs:
        rendered = script_to_address(bytes.fromhex(out["scriptpubkey"]), MAINNET)
        assert rendered == out["address"], out
        checked += rendered is not None
    assert checked >= 35


# --- networks ----------------------------------------------------------------------------------


def test_wrong_network_is_named() -> None:
    cases = [
        ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", MAINNET, "testnet"),
        ("mo9ncXisMeAoXwqcV5EWuyncbmCcQN4rVs", MAINNET, "testnet"),
        ("2N2JD6wb56AfK4tfmM6PwdVmoYk2dCKf4Br", MAINNET, "testnet"),
        ("115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn", TESTNET, "mainnet"),
        ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", REGTEST, "mainnet"),
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", SIGNET, "mainnet"),
        ("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", TESTNET, "regtest"),
        ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", REGTEST, "testnet"),
    ]
    for text, network, owner in cases:
        with pytest.raises(AddressError) as info:
            Address.parse(text, network)
        assert str(info.value) == f"{text} is a {owner} address, not {network.name}"


def test_regtest_and_signet_accept_testnet_forms() -> None:
    base58 = "mo9ncXisMeAoXwqcV5EWuyncbmCcQN4rVs"
    tb = "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7"
    assert Address.parse(base58, REGTEST).network == REGTEST
    assert Address.parse(base58, SIGNET).network == SIGNET
    assert Address.parse(tb, SIGNET).network == SIGNET
    assert Address.parse(base58).network == TESTNET
    # Identity is (script, network): the same script on two networks is two addresses.
    assert Address.parse(base58, REGTEST) != Address.parse(base58, TESTNET)
    assert Address.parse(base58, REGTEST).script == Address.parse(base58, TESTNET).script


def test_regtest_renders_base58_with_testnet_prefix_and_bech32_with_bcrt() -> None:
    h = bytes(range(20))
    assert str(Address(p2pkh(h), REGTEST)) == str(Address(p2pkh(h), TESTNET))
    assert str(Address(p2wpkh(h), REGTEST)).startswith("bcrt1q")
    assert str(Address(p2wpkh(h), SIGNET)).startswith("tb1q")


# --- messages ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty address"),
        ("   \n", "empty address"),
        ("115p7UMMngoj1pMvkpHijcRdfJNXj6LrLm", "bad base58 checksum"),
        ("115p7UMMngoj1pMvkpHijcRdfJNXj6LrL0", "invalid base58 character '0'"),
        (b58check_encode(bytes(22)), "invalid base58 address length: 22 bytes"),
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdp", "bad bech32 checksum"),
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdQ", "mixed upper and lower case"),
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdb", "invalid bech32 character 'b'"),
        ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "bech32m required"),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "bech32 required"),
        ("tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", "unknown bech32 prefix 'tc'"),
        # Litecoin forms of a key hash: valid checksums, but not Bitcoin
        (bech32_encode("ltc", 0, bytes(20)), "unknown bech32 prefix 'ltc'"),
        (b58check_encode(b"\x30" + bytes(20)), "unknown base58 version byte 0x30"),
        ("1" * 200, "too long for an address (200 characters)"),
        (BIP32_XPUB, "extended key"),
    ],
)
def test_errors_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(AddressError) as info:
        Address.parse(text)
    message = str(info.value)
    assert problem in message
    assert "\n" not in message
    if text.strip():
        assert "invalid address '" in message  # the offending text is shown


def test_private_key_is_refused_without_being_echoed() -> None:
    wif = "5Kd3NBUAdUnhyzenEwVLy9pBKxSwXvE9FMPyR4UKZvpe6E3AgLr"  # Core key_io_valid privkey
    with pytest.raises(AddressError) as info:
        Address.parse(wif)
    assert "private key" in str(info.value)
    assert wif not in str(info.value)


def test_decode_address_gives_the_bare_problem() -> None:
    with pytest.raises(AddressError) as info:
        decode_address("115p7UMMngoj1pMvkpHijcRdfJNXj6LrLm")
    assert str(info.value) == "bad base58 checksum"


def test_address_error_is_an_input_error() -> None:
    with pytest.raises(InputError):
        Address.parse("nope")


def test_parse_strips_whitespace() -> None:
    assert str(Address.parse("  \t115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn\r\n")) == (
        "115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn"
    )


# --- from_script / rendering -------------------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    [
        op_return(b"ransom paid"),
        bytes.fromhex("210279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798ac"),
        witness_program(0, bytes(25)),
        b"",
        b"\x51",
    ],
)
def test_scripts_without_address_form(script: bytes) -> None:
    assert script_to_address(script, MAINNET) is None
    with pytest.raises(AddressError, match="has no address form"):
        Address.from_script(script, MAINNET)


def test_address_is_a_hashable_value() -> None:
    a = Address.parse("BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ")
    b = Address.parse("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")
    assert a == b
    assert len({a, b}) == 1
    assert repr(a) == "Address('bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', mainnet)"
    with pytest.raises(AttributeError):
        a.network = TESTNET  # type: ignore[misc]


def test_from_script_accepts_bytes_like() -> None:
    script = p2tr(bytes(32))
    assert Address.from_script(bytearray(script), MAINNET) == Address(script, MAINNET)
    assert type(Address.from_script(memoryview(script), MAINNET).script) is bytes


# --- property round trips ----------------------------------------------------------------------

NETWORKS = st.sampled_from([MAINNET, TESTNET, SIGNET, REGTEST])


@st.composite
def scripts(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["p2pkh", "p2sh", "segwit"]))
    if kind == "p2pkh":
        return p2pkh(draw(st.binary(min_size=20, max_size=20)))
    if kind == "p2sh":
        return p2sh(draw(st.binary(min_size=20, max_size=20)))
    version = draw(st.integers(min_value=0, max_value=16))
    sizes = st.sampled_from([20, 32]) if version == 0 else st.integers(min_value=2, max_value=40)
    size = draw(sizes)
    return witness_program(version, draw(st.binary(min_size=size, max_size=size)))


@given(scripts(), NETWORKS)
def test_roundtrip_script_to_text_to_script(script: bytes, network: Network) -> None:
    address = Address.from_script(script, network)
    text = str(address)
    assert script_to_address(script, network) == text
    assert Address.parse(text, network) == address
    parsed = Address.parse(text)  # inferred: signet and base58 regtest read as testnet
    assert parsed.script == script
    if text[0] in "bt":
        assert text == text.lower()
        assert Address.parse(text.upper(), network) == address


@given(scripts(), NETWORKS, NETWORKS)
def test_other_networks_refuse_with_a_reason(
    script: bytes, network: Network, other: Network
) -> None:
    text = str(Address.from_script(script, network))
    same_form = text == str(Address.from_script(script, other))
    if same_form:
        assert Address.parse(text, other).network == other
    else:
        with pytest.raises(AddressError, match=f"address, not {other.name}$"):
            Address.parse(text, other)


@given(st.text(max_size=120))
def test_any_text_parses_or_raises_address_error(text: str) -> None:
    try:
        address = Address.parse(text)
    except AddressError as exc:
        assert "\n" not in str(exc)  # one line: the offending text is shown with repr()
    else:
        assert Address.parse(str(address)) == address


@given(scripts(), NETWORKS, st.data())
def test_single_character_substitution_is_caught(
    script: bytes, network: Network, data: st.DataObject
) -> None:
    text = str(Address.from_script(script, network))
    bech32 = text[0] in "bt"
    alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l" if bech32 else B58_ALPHABET
    start = text.index("1") + 1 if bech32 else 1
    pos = data.draw(st.integers(min_value=start, max_value=len(text) - 1))
    other = data.draw(st.sampled_from([c for c in alphabet if c != text[pos]]))
    with pytest.raises(AddressError):
        Address.parse(text[:pos] + other + text[pos + 1 :], network)


def test_script_to_address_accepts_buffer_slices() -> None:
    raw = bytearray(b"\xff" + p2tr(bytes(32)) + b"\xff")
    expected = str(Address(p2tr(bytes(32)), MAINNET))
    assert script_to_address(memoryview(raw)[1:-1], MAINNET) == expected  # type: ignore[arg-type]
    assert script_to_address(bytearray(p2tr(bytes(32))), MAINNET) == expected  # type: ignore[arg-type]
