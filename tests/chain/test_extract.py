"""Finding addresses in ransom notes, e-mails and dumps: all real ones, nothing else."""

from __future__ import annotations

import base64
import quopri
import random

import pytest

from btcwatch.chain.address import Address
from btcwatch.chain.encoding import B58_ALPHABET
from btcwatch.chain.extract import Candidate, extract_addresses, find_candidates
from btcwatch.chain.network import MAINNET, REGTEST, TESTNET, Network
from btcwatch.chain.script import p2pkh, p2sh, p2tr, p2wpkh, p2wsh, witness_program

BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

WANNACRY_NOTE = """\
Ooops, your important files are encrypted.

Send $300 worth of bitcoin to this address:
115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn
(some variants used 12t9YDPgwueZ9NyMgw519p7AA8isjr6SMw or
<13AM4VW2dhxYgXeQepoHkHSQuy6NgaEb94>.)
Payment check: https://blockchain.info/address/115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn
"""

# Tokens that have some of an address's traits but none of its substance.
NOISE = [
    "Use 1Password or KeePass for the new vault.",
    "See 3DPrintingAndManufacturingGuide and 2FactorAuthenticationRequiredNow.",
    "Cert bundle mTLSCertificateAuthorityConfig2024 rotated by nOpsOnCallEngineerRotation.",
    "txid 1f3a9c2b7d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789abcd confirmed",
    "block bc1f00000000000000000000000a7b2c3d4e5f60718293a4b5c6d7e8f9012345 mined",
    "sha1 3da541559918a808c2402bba5012f6c60b27661c md5 2d9d8c5e1a7f3b4c6d0e9f8a7b6c5d4e",
    "PGP 4096R/1A2B3C4D fingerprint 1A2B 3C4D 5E6F 7A8B 9C0D  1E2F 3A4B 5C6D 7E8F 9A0B",
    "Key ID 1A2B3C4D5E6F7A8B9C0D1E2F3A4B5C6D7E8F9A0B",
    "Tracking 1Z999AA10123456784, order 2024-113-5567, ref 3f2a-bb19.",
    "Microsoft365BusinessPremiumLicense and mssql2019enterpriseedition",
    "Disclaimer: the contents of this e-mail are confidential (c) 2017 Mega Corp.",
]


def _random_script(rng: random.Random, i: int) -> bytes:
    kind = i % 6
    if kind == 0:
        return p2pkh(rng.randbytes(20))
    if kind == 1:
        return p2sh(rng.randbytes(20))
    if kind == 2:
        return p2wpkh(rng.randbytes(20))
    if kind == 3:
        return p2wsh(rng.randbytes(32))
    if kind == 4:
        return p2tr(rng.randbytes(32))
    return witness_program(rng.randint(2, 16), rng.randbytes(rng.randint(2, 40)))


def _typo(rng: random.Random, text: str) -> str:
    """Change one character to another of the same alphabet (never the prefix)."""
    if text[:3].lower() in ("bc1", "tb1") or text.lower().startswith("bcrt1"):
        alphabet, start = BECH32_CHARSET, text.index("1") + 2
    else:
        alphabet, start = B58_ALPHABET, 2
    pos = rng.randrange(start, len(text))
    choice = rng.choice([c for c in alphabet if c != text[pos].lower()])
    return text[:pos] + choice + text[pos + 1 :]


def _wrap(rng: random.Random, address: str) -> str:
    templates = [
        "Send the payment to {a} within 72 hours.",
        "bitcoin:{a}?amount=0.15&label=Decryptor",
        '<a href="https://mempool.space/address/{a}">track payment</a>',
        "2017-05-12,{a},0.1729,WannaCry-like",
        "Wallet ({a}) must receive exactly 0.5 BTC.",
        "'{a}' is the only valid address!",
        "address={a};network=btc",
        "Contact: pay-{a}@onionmail.example after paying.",
        "{a}",
    ]
    return rng.choice(templates).format(a=address)


def _base64_attachment(rng: random.Random, size: int) -> list[str]:
    blob = base64.b64encode(rng.randbytes(size)).decode()
    return [blob[i : i + 76] for i in range(0, len(blob), 76)]


def _ransom_mail(seed: int) -> tuple[str, list[Address], list[str]]:
    """An e-mail body: 300 distinct valid addresses among prose, hashes, words and typos."""
    rng = random.Random(seed)
    networks: list[Network] = [MAINNET, TESTNET, REGTEST]
    expected: list[Address] = []
    shown: list[str] = []
    while len(expected) < 300:
        i = len(expected)
        text = str(Address.from_script(_random_script(rng, i), networks[i % 3]))
        if i % 17 == 0 and text.startswith(("bc1", "tb1", "bcrt1")):
            text = text.upper()  # QR-code style
        if text.lower() in {s.lower() for s in shown}:
            continue
        shown.append(text)
        # Parsing infers the network from the prefix (regtest base58 reads as testnet).
        expected.append(Address.parse(text))
    typos = [_typo(rng, str(a)) for a in rng.sample(expected, 12)]
    pending = list(typos)
    lines = ["From: support@decrypt.example", "Subject: YOUR FILES ARE ENCRYPTED", ""]
    for text in shown:
        lines.append(_wrap(rng, text))
        if rng.random() < 0.3:
            lines.append(rng.choice(NOISE))
        if rng.random() < 0.04 and pending:
            lines.append(f"Old address (do not use): {pending.pop()}")
    lines.extend(f"Old address (do not use): {t}" for t in pending)
    lines.extend(NOISE)
    lines.append("Content-Type: application/pdf; name=invoice.pdf")
    lines.append("Content-Transfer-Encoding: base64")
    lines.extend(_base64_attachment(rng, 60_000))
    return "\n".join(lines) + "\n", expected, typos


BODY, EXPECTED, TYPOS = _ransom_mail(2017)


def test_generated_mail_is_what_the_test_claims() -> None:
    assert len(EXPECTED) == len(set(EXPECTED)) == 300
    kinds = {a.type for a in EXPECTED}
    assert len(kinds) == 6
    assert {a.network for a in EXPECTED} == {MAINNET, TESTNET, REGTEST}
    assert len(TYPOS) == 12
    assert len(BODY) > 100_000


def test_extracts_exactly_the_300_addresses_in_order() -> None:
    assert extract_addresses(BODY) == EXPECTED


def test_typos_are_candidates_with_a_checksum_error() -> None:
    candidates = find_candidates(BODY)
    misses = [c for c in candidates if c.address is None]
    assert sorted(c.text for c in misses) == sorted(TYPOS)
    for c in misses:
        assert c.error is not None
        assert "checksum" in c.error, c


def test_nothing_else_is_a_candidate() -> None:
    candidates = find_candidates(BODY)
    valid = [c for c in candidates if c.address is not None]
    assert {c.address for c in valid} == set(EXPECTED)
    assert all(c.error is None for c in valid)
    assert len(candidates) == len(valid) + len(TYPOS)


def test_line_numbers_point_at_the_address() -> None:
    lines = BODY.splitlines()
    for c in find_candidates(BODY):
        assert c.text in lines[c.line - 1]


def test_quoted_printable_mail_gives_the_same_result() -> None:
    encoded = quopri.encodestring(BODY.encode()).decode()
    assert "=\n" in encoded and "=3D" in encoded  # soft breaks split some addresses
    folded = sum(1 for a in EXPECTED if str(a) not in encoded and str(a).upper() not in encoded)
    assert folded > 10
    assert extract_addresses(encoded) == EXPECTED
    misses = [c.text for c in find_candidates(encoded) if c.address is None]
    assert sorted(misses) == sorted(TYPOS)


def test_crlf_quoted_printable_and_line_numbers() -> None:
    mail = (
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "Pay to bc1qar0srrr7xfkvy5l643lydn=\r\n"
        "w9re59gtzzwf5mdq today.\r\n"
        "Or address=3D115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn =E2=80=9C3J98t1WpEZ73CNmQviecrnyiW=\r\n"
        "rnqRhWNLy=E2=80=9D\r\n"
    )
    found = find_candidates(mail)
    assert [(c.text, c.line) for c in found] == [
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", 3),
        ("115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn", 5),
        ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", 5),
    ]
    assert all(c.address is not None for c in found)


def test_plain_text_keeps_equals_signs() -> None:
    text = "address=1AGNa15ZQXAZUgFiqJ2i7Z2DPU2J6hW62i\n"  # "=1A" is not an escape here
    assert [str(a) for a in extract_addresses(text)] == ["1AGNa15ZQXAZUgFiqJ2i7Z2DPU2J6hW62i"]


def test_wannacry_note() -> None:
    found = extract_addresses(WANNACRY_NOTE, MAINNET)
    assert [str(a) for a in found] == [
        "115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn",
        "12t9YDPgwueZ9NyMgw519p7AA8isjr6SMw",
        "13AM4VW2dhxYgXeQepoHkHSQuy6NgaEb94",
    ]
    lines = [c.line for c in find_candidates(WANNACRY_NOTE)]
    assert lines == [4, 5, 6, 7]


def test_noise_alone_yields_nothing() -> None:
    text = "\n".join(NOISE) + "\n" + "\n".join(_base64_attachment(random.Random(1), 200_000))
    assert find_candidates(text) == []


def test_other_network_is_a_candidate_with_the_reason() -> None:
    text = "main 115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn test mo9ncXisMeAoXwqcV5EWuyncbmCcQN4rVs"
    found = find_candidates(text, MAINNET)
    assert found[0].address == Address.parse("115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn")
    assert found[1] == Candidate(
        "mo9ncXisMeAoXwqcV5EWuyncbmCcQN4rVs",
        1,
        None,
        "mo9ncXisMeAoXwqcV5EWuyncbmCcQN4rVs is a testnet address, not mainnet",
    )
    assert extract_addresses(text, MAINNET) == [found[0].address]
    regtest = extract_addresses(text, REGTEST)
    assert [a.network for a in regtest] == [REGTEST]


@pytest.mark.parametrize(
    ("token", "error"),
    [
        ("115p7UMMngoj1pMvkpHijcRdfJNXj6LrL0", "invalid base58 character '0'"),
        (
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdQ",
            "mixed upper and lower case in bech32 string",
        ),
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdp", "bad bech32 checksum"),
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
            "witness v1 address uses bech32 checksum, bech32m required (BIP-350)",
        ),
    ],
)
def test_near_misses_carry_the_bare_reason(token: str, error: str) -> None:
    (candidate,) = find_candidates(f"Pay to: {token}.")
    assert candidate == Candidate(token, 1, None, error)


def test_duplicates_are_candidates_but_extracted_once() -> None:
    a = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    text = f"{a}\n{a.upper()}\n{a}"
    assert len(find_candidates(text)) == 3
    assert extract_addresses(text) == [Address.parse(a)]


def test_empty_text() -> None:
    assert find_candidates("") == []
    assert extract_addresses("") == []
