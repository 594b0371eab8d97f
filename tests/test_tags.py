"""Attribution tags (btcwatch.tags) read from real GraphSense packs, the OFAC list and CSV."""

from __future__ import annotations

import collections
import importlib.util
import re
from pathlib import Path

import pytest

from btcwatch.errors import AddressError, InputError
from btcwatch.resources import data_file
from btcwatch.tags import (
    CATEGORIES,
    Tag,
    by_address,
    canonical_btc_address,
    default_tags,
    load_tag_csv,
    load_tagpack,
    load_tags,
    normalise_category,
    parse_tagpack,
    read_tagpack,
)

HERE = Path(__file__).parent / "data" / "tags"
PACKS = HERE / "graphsense"
OFAC_TXT = HERE / "ofac-0xB10C" / "sanctioned_addresses_XBT.txt"
REPO = Path(__file__).resolve().parents[1]

# (Bitcoin tags kept, entries skipped), counted outside btcwatch: an entry is kept when its
# currency (own or inherited) is BTC and the address passes a separate base58check/bech32
# checksum script. OFAC's one "BTC" entry TUCsTq7T... is a Tron address.
EXPECTED = {
    "chaininfo": (122, 0),
    "coinjoin_bounty": (1, 0),
    "exchange-wallets-binance": (4, 82),
    "exchange-wallets-bitfinexcom": (3, 132),
    "exchange-wallets-bybit": (4, 4),
    "exchange-wallets-cryptocom": (6, 4),
    "exchange-wallets-deribit": (7, 11),
    "exchange-wallets-huobi": (3, 55),
    "exchange-wallets-kucoin": (4, 55),
    "exchange-wallets-okx": (23, 13),
    "exchange-wallets-swissborg": (6, 8),
    "hacks.head100": (100, 0),
    "interpol-real_services": (7, 3),
    "mixing_fc2021": (66, 0),
    "ofac": (384, 188),
    "ransomware.head60": (60, 0),
    "ransomwhere.head50": (50, 0),
    "service-wallets-checksig": (247, 0),
    "walletexplorer": (386, 0),
    "wasabi_collector": (2, 0),
}
ADDRESS_LINE = re.compile(r"^-? *address:", re.MULTILINE)


def address_lines(path: Path) -> int:
    return len(ADDRESS_LINE.findall(path.read_text(encoding="utf-8")))


def tags_of(pack: str) -> list[Tag]:
    return load_tagpack(PACKS / f"{pack}.yaml")


# --- real packs ---------------------------------------------------------------------------


def test_every_copied_pack_is_covered() -> None:
    assert sorted(p.stem for p in PACKS.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("pack", sorted(EXPECTED))
def test_pack_counts(pack: str) -> None:
    path = PACKS / f"{pack}.yaml"
    result = read_tagpack(path)
    kept, skipped = EXPECTED[pack]
    assert (len(result.tags), len(result.skipped)) == (kept, skipped)
    assert len(result.tags) + len(result.skipped) == address_lines(path)
    for tag in result.tags:
        assert tag.category in CATEGORIES
        assert canonical_btc_address(tag.address) == tag.address
        assert tag.label
        assert tag.pack == pack
        assert not tag.is_public  # GraphSense packs default to private unless they say so


def test_every_real_pack_in_shared_data(shared_data: Path) -> None:
    """All of /work/shared/data/tags, including the two large ransomware packs."""
    files = sorted((shared_data / "tags").glob("*.yaml"))
    assert len(files) == 20
    for path in files:
        result = read_tagpack(path)
        assert len(result.tags) + len(result.skipped) == address_lines(path), path.name
        assert {t.category for t in result.tags} <= set(CATEGORIES)
    ransomware = load_tagpack(shared_data / "tags" / "ransomware.yaml")
    assert len(ransomware) == 7178
    families = collections.Counter(t.label for t in ransomware)
    assert families["Locky"] == 7036 and families["Wannacry"] == 5
    assert len(load_tagpack(shared_data / "tags" / "ransomwhere.yaml")) == 7457


def test_header_fields_are_inherited_and_overridden() -> None:
    bybit = {t.address: t for t in tags_of("exchange-wallets-bybit")}
    header_source = "https://blog.bybit.com/en-US/post/statement-from-ben-on-bybit-s-wallets-bltfb7a70c50462875b/"
    for address, tag in bybit.items():
        assert tag.label == "Bybit reserve wallets"
        assert tag.entity == "bybit"
        assert tag.category == "exchange"
        assert tag.confidence == 50 and tag.confidence_name == "service_data"
        if address == "1GrwDkr33gT6LuumniYjKEGjTLhsL5kmqC":
            assert tag.source == "https://www.bybithelp.com/bybitHC_Article?id=000001880"
        else:
            assert tag.source == header_source
    okx = {t.address: t.label for t in tags_of("exchange-wallets-okx")}
    assert okx["16rF2zwSJ9goQ9fZfYoti5LsUqqegb5RnA"] == "okx reserves wallets"


def test_label_falls_back_to_the_actor_then_the_title() -> None:
    deribit = tags_of("exchange-wallets-deribit")
    assert {t.label for t in deribit} == {"deribit reserves"}
    no_label = parse_tagpack(
        {"title": "Some pack", "tags": [{"address": "1Fp9KLM6cs35y8QvyqAiL714WMFSLBJDLC"}]},
        "p",
    )
    assert no_label.tags[0].label == "Some pack"


def test_other_chains_are_skipped_even_when_they_look_like_bitcoin() -> None:
    # Huobi's BCH reserve 17om4d... is a valid Bitcoin string, but the pack says BCH.
    huobi = read_tagpack(PACKS / "exchange-wallets-huobi.yaml")
    assert canonical_btc_address("17om4dHcDNy9LAagMj8mGW59vyXjvA3GBn") is not None
    assert "17om4dHcDNy9LAagMj8mGW59vyXjvA3GBn" not in {t.address for t in huobi.tags}
    assert any(
        s.address == "17om4dHcDNy9LAagMj8mGW59vyXjvA3GBn" and s.reason == "currency BCH"
        for s in huobi.skipped
    )
    reasons = collections.Counter(s.reason for s in read_tagpack(PACKS / "ofac.yaml").skipped)
    assert reasons["not a Bitcoin mainnet address"] == 1
    assert reasons["currency ETH"] == 147


def test_currency_with_trailing_space_is_bitcoin() -> None:
    # ransomwhere.yaml writes "currency: BTC " on every tag
    assert "currency: BTC \n" in (PACKS / "ransomwhere.head50.yaml").read_text()
    tags = tags_of("ransomwhere.head50")
    assert tags[0].address == "17TMc2UkVRSga2yYvuxSD9Q1XyB2EPRjTF"
    assert tags[0].label == "Netwalker (Mailto)"
    assert tags[0].category == "ransomware" and tags[0].abuse == "ransomware"


def test_bech32_is_stored_lower_case() -> None:
    address = "bc1qm34lsc65zpw79lxes69zkqmk6ee3ewf0j77s3h"  # Binance, from the real pack
    pack = parse_tagpack(
        {"category": "exchange", "tags": [{"address": address.upper(), "label": "x"}]}, "p"
    )
    assert pack.tags[0].address == address
    assert address in {t.address for t in tags_of("exchange-wallets-binance")}


# --- categories ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "abuse", "expected"),
    [
        ("exchange", None, "exchange"),
        ("mixing_service", None, "mixer"),
        ("coinjoin", None, "mixer"),
        ("wallet_service", None, "service"),
        ("service", None, "service"),
        ("market", None, "darknet"),
        ("miner", None, "miner"),
        ("gambling", None, "gambling"),
        ("user", None, "other"),
        ("perpetrator", None, "other"),
        ("something_new", None, "other"),
        (None, "ransomware", "ransomware"),
        (None, "service_hack", "hack"),
        ("exchange", "service_hack", "hack"),
        ("user", "sanction", "sanctioned"),
        ("exchange", "scam", "exchange"),
        ("Mixing Service", None, "mixer"),
        ("sanctioned", None, "sanctioned"),
        (None, None, "other"),
    ],
)
def test_normalise_category(category: str | None, abuse: str | None, expected: str) -> None:
    assert normalise_category(category, abuse) == expected


def test_categories_of_real_packs() -> None:
    hacks = by_address(tags_of("hacks.head100"))
    flexcoin = hacks["1DssS2srnAra8ghUpgEHsEARswej4SMgd3"]  # listed twice in hacks.yaml
    assert {(t.label, t.category) for t in flexcoin} == {
        ("Flexcoin hack", "hack"),
        ("Flexcoin", "service"),
    }
    thief = next(t for t in flexcoin if t.category == "hack")
    assert thief.raw_category is None and thief.abuse == "service_hack"
    assert thief.confidence == 20 and thief.confidence_name == "web_crawl"

    walletexplorer = collections.Counter(t.category for t in tags_of("walletexplorer"))
    assert walletexplorer == {
        "service": 135,
        "exchange": 120,
        "gambling": 58,
        "mixer": 37,
        "miner": 20,
        "darknet": 16,
    }
    interpol = tags_of("interpol-real_services")
    assert {t.label: t.category for t in interpol} == {
        "bitcoinbon.at": "exchange",
        "sideshift.ai": "mixer",
    }
    assert {t.category for t in tags_of("wasabi_collector")} == {"mixer"}
    ransomware = tags_of("ransomware.head60")
    assert {t.category for t in ransomware} == {"ransomware"}
    assert ransomware[0].label == "7ev3n"


# --- the shipped defaults -----------------------------------------------------------------


@pytest.fixture(scope="module")
def defaults() -> list[Tag]:
    return default_tags()


def test_default_tags_load_every_shipped_pack(defaults: list[Tag]) -> None:
    files = sorted(data_file("tags").glob("*.yaml"))
    assert len(files) == 19
    assert len(defaults) == sum(address_lines(p) for p in files) == 2317
    assert {t.pack for t in defaults} == {p.stem for p in files}
    assert all(t.is_public for t in defaults)
    assert all(canonical_btc_address(t.address) == t.address for t in defaults)
    counts = collections.Counter(t.category for t in defaults)
    assert set(counts) <= set(CATEGORIES)
    assert counts["sanctioned"] == 384 + 434
    # chaininfo, the reserve packs, hacks, walletexplorer, interpol
    assert counts["exchange"] == 122 + 60 + 403 + 120 + 1


def test_default_tags_returns_a_fresh_list(defaults: list[Tag]) -> None:
    again = default_tags()
    assert again == defaults and again is not defaults


def test_ofac_addresses_are_sanctioned(defaults: list[Tag]) -> None:
    index = by_address(defaults)
    listed = OFAC_TXT.read_text().split()
    assert len(listed) == 435
    bitcoin = [a for a in listed if canonical_btc_address(a) is not None]
    assert len(bitcoin) == 434
    for address in bitcoin:
        packs = {t.pack: t for t in index[address] if t.category == "sanctioned"}
        assert "ofac-0xB10C" in packs, address
        assert packs["ofac-0xB10C"].confidence == 60
    assert "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq" not in index
    # the GraphSense/INTERPOL copy of the SDN list is tagged sanctioned too
    first = index["3K35dyL85fR9ht7UgzPfd1gLRRXQtNTqE3"]
    assert any(t.pack == "ofac" and t.category == "sanctioned" for t in first)
    assert first[0].raw_category == "sanctioned"


def test_known_exchange_addresses(defaults: list[Tag]) -> None:
    index = by_address(defaults)
    binance = index["34xp4vRoCGJym3xR7yCVPFHoCNxv4Twseo"]  # in chaininfo and binance packs
    assert {t.pack for t in binance} == {"chaininfo", "exchange-wallets-binance"}
    assert {t.category for t in binance} == {"exchange"}
    assert {t.entity for t in binance} == {"binance"}


def test_built_data_is_up_to_date(shared_data: Path) -> None:
    spec = importlib.util.spec_from_file_location("build_data", REPO / "scripts" / "build_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build(shared_data)
    for relative, text in built.items():
        assert (REPO / "data" / relative).read_text(encoding="utf-8") == text, relative


# --- CSV ----------------------------------------------------------------------------------

GOOD_CSV = """\
address,label,category,source,confidence,entity
bc1qm34lsc65zpw79lxes69zkqmk6ee3ewf0j77s3h,Binance,exchange,https://example.org/a,service_data,binance
3K35dyL85fR9ht7UgzPfd1gLRRXQtNTqE3,OFAC SDN,sanctioned,,90,
1LAScEFHGkfpyjtFzA4g9283JmL2cYR9Tx,"ChipMixer, seized 2023",mixing_service,case file 12,,
"""


def write(tmp_path: Path, text: str, name: str = "mine.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_loads(tmp_path: Path) -> None:
    tags = load_tag_csv(write(tmp_path, GOOD_CSV))
    assert [t.category for t in tags] == ["exchange", "sanctioned", "mixer"]
    assert tags[0] == Tag(
        address="bc1qm34lsc65zpw79lxes69zkqmk6ee3ewf0j77s3h",
        label="Binance",
        category="exchange",
        source="https://example.org/a",
        confidence=50,
        entity="binance",
        is_public=False,
        pack="mine",
        raw_category="exchange",
        confidence_name="service_data",
    )
    assert tags[1].confidence == 90 and tags[1].entity is None
    assert tags[2].label == "ChipMixer, seized 2023" and tags[2].confidence == 5


def test_csv_tolerates_bom_header_case_and_blank_lines(tmp_path: Path) -> None:
    text = (
        "\ufeffAddress,Label,Category,Source,Confidence\n"
        "\n"
        "BC1QM34LSC65ZPW79LXES69ZKQMK6EE3EWF0J77S3H,B,Exchange,,\n"
    )
    tags = load_tag_csv(write(tmp_path, text))
    assert [t.address for t in tags] == ["bc1qm34lsc65zpw79lxes69zkqmk6ee3ewf0j77s3h"]


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (
            "1Fp9KLM6cs35y8QvyqAiL714WMFSLBJDLD,x,exchange,,\n",
            AddressError,
            r"mine\.csv:3: not a Bitcoin",
        ),
        (
            "0x742d35Cc6634C0532925a3b844Bc454e4438f44e,x,exchange,,\n",
            AddressError,
            r":3: not a Bitcoin",
        ),
        (
            "1Fp9KLM6cs35y8QvyqAiL714WMFSLBJDLC,x,exchnage,,\n",
            InputError,
            r":3: unknown category 'exchnage'",
        ),
        ("1Fp9KLM6cs35y8QvyqAiL714WMFSLBJDLC,,exchange,,\n", InputError, r":3: empty label"),
        (
            "1Fp9KLM6cs35y8QvyqAiL714WMFSLBJDLC,x,exchange,,high\n",
            InputError,
            r":3: confidence must be",
        ),
        (
            "1Fp9KLM6cs35y8QvyqAiL714WMFSLBJDLC,x,exchange,,101\n",
            InputError,
            r":3: confidence must be",
        ),
        (
            "1Fp9KLM6cs35y8QvyqAiL714WMFSLBJDLC,x,exchange,,,extra,more\n",
            InputError,
            r":3: more cells",
        ),
    ],
)
def test_csv_errors_name_file_and_line(
    tmp_path: Path, body: str, error: type[Exception], message: str
) -> None:
    good = "1Fp9KLM6cs35y8QvyqAiL714WMFSLBJDLC,Coinbase,exchange,,\n"
    path = write(tmp_path, "address,label,category,source,confidence\n" + good + body)
    with pytest.raises(error, match=message):
        load_tag_csv(path)


def test_csv_without_header(tmp_path: Path) -> None:
    path = write(tmp_path, "1Fp9KLM6cs35y8QvyqAiL714WMFSLBJDLC,Coinbase,exchange,,\n")
    with pytest.raises(InputError, match=r"mine\.csv:1: tag CSV header must name"):
        load_tag_csv(path)


# --- dispatch and file errors -------------------------------------------------------------


def test_load_tags_dispatches_by_suffix(tmp_path: Path) -> None:
    assert len(load_tags(write(tmp_path, GOOD_CSV))) == 3
    pack = (PACKS / "wasabi_collector.yaml").read_text()
    assert len(load_tags(write(tmp_path, pack, "wasabi.yml"))) == 2
    with pytest.raises(InputError, match=r"unknown tag file type '\.txt'"):
        load_tags(OFAC_TXT)


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "title: x\ntags:\n- address: [unclosed\n", "bad.yaml")
    with pytest.raises(InputError, match=r"bad\.yaml:\d+: not valid YAML"):
        load_tagpack(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just a list\n", "not a TagPack"),
        ("title: x\n", "not a TagPack"),
        ("title: x\ntags:\n- label: no address\n", "tag #1 has no address"),
    ],
)
def test_not_a_tagpack(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_tagpack(write(tmp_path, text, "odd.yaml"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read tag file"):
        load_tags(tmp_path / "missing.csv")
