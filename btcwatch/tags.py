"""Attribution tags: who is known to control an address, read from TagPack YAML or CSV.

A tag turns a bare address into "Binance reserve wallet" or "OFAC-sanctioned": the tracer
stops there (``--stop-at exchange``) and the report says so. This module only parses files
into `Tag` values; matching tags against a trace lives in the trace layer.

Formats:

- GraphSense TagPack YAML (github.com/graphsense/graphsense-tagpacks): header fields such as
  ``title, creator, source, category, abuse, label, confidence, currency, actor, is_public``
  apply to every entry of ``tags:`` unless the entry sets its own value.
- CSV with a header ``address,label,category,source,confidence`` (plus an optional
  ``entity`` column), for an investigator's own lists. Any error names file and line.

Only Bitcoin mainnet addresses are kept, in canonical form (bech32 lower-case). Packs also
hold Ethereum, Tron, BCH... entries: those are skipped and counted, never silently mixed in.

Categories are normalised to the small vocabulary of `CATEGORIES`; the GraphSense category
and abuse values stay on the tag (``raw_category``, ``abuse``). Confidence is GraphSense's
0-100 level (``service_data`` = 50, ``authority_data`` = 60, ...), with the name kept.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from btcwatch.chain.address import Address
from btcwatch.chain.network import MAINNET
from btcwatch.errors import AddressError, InputError
from btcwatch.resources import data_file
from btcwatch.text import check_text, unsafe_char

CATEGORIES = (
    "exchange",
    "mixer",
    "sanctioned",
    "ransomware",
    "hack",
    "service",
    "gambling",
    "miner",
    "darknet",
    "other",
)

# GraphSense entity and abuse concepts (and a few common spellings) -> btcwatch category.
_CATEGORY_MAP: dict[str, str] = {
    **{c: c for c in CATEGORIES},
    "atm": "exchange",
    "otc": "exchange",
    "vasp": "service",
    "coinjoin": "mixer",
    "mixing_service": "mixer",
    "mixing": "mixer",
    "tumbler": "mixer",
    "sanction": "sanctioned",
    "sanctions": "sanctioned",
    "ofac": "sanctioned",
    "service_hack": "hack",
    "hacker": "hack",
    "theft": "hack",
    "wallet_service": "service",
    "payment_processor": "service",
    "shop": "service",
    "faucet": "service",
    "hosting": "service",
    "ico_wallet": "service",
    "defi": "service",
    "defi_dex": "service",
    "defi_lending": "service",
    "defi_bridge": "service",
    "mining_service": "miner",
    "mining_pool": "miner",
    "market": "darknet",
    "darknet_market": "darknet",
    "darkweb": "darknet",
    "user": "other",
    "perpetrator": "other",
    "donation": "other",
    "entity": "other",
    "organization": "other",
    "scam": "other",
    "phishing": "other",
    "sextortion": "other",
    "ponzi_scheme": "other",
    "terrorism_financing": "other",
}

# GraphSense confidence levels (graphsense-tagpack-tool, confidence.csv).
CONFIDENCE_LEVELS: dict[str, int] = {
    "override": 100,
    "ownership": 100,
    "manual_transaction": 90,
    "service_api": 70,
    "authority_data": 60,
    "trusted_provider": 50,
    "service_data": 50,
    "forensic": 50,
    "untrusted_transaction": 40,
    "web_crawl": 20,
    "heuristic": 10,
    "unknown": 5,
}
CSV_COLUMNS = ("address", "label", "category", "source", "confidence")


@dataclass(frozen=True, slots=True)
class Tag:
    """One attribution: this address belongs to ``label`` (of kind ``category``)."""

    address: str
    label: str
    category: str
    source: str
    confidence: int
    entity: str | None
    is_public: bool
    pack: str
    raw_category: str | None = None
    abuse: str | None = None
    confidence_name: str | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A pack entry that is not a usable Bitcoin tag, and why (for counts and audits).

    ``reason`` is the category (``currency ETH``, ``not a Bitcoin mainnet address``); for an
    entry meant as Bitcoin that is not usable, ``detail`` says why (``bad base58 checksum``)
    and ``line`` where it is in the file (0 when unknown).
    """

    address: str
    reason: str
    detail: str = ""
    line: int = 0
    number: int = 0  # position in the pack's tags list, from 1

    @property
    def is_mistake(self) -> bool:
        """Meant as a Bitcoin tag but unusable (not merely another chain's entry)."""
        return bool(self.detail)


@dataclass(frozen=True, slots=True)
class TagPack:
    """What one file yielded: its tags and the entries left out."""

    name: str
    tags: tuple[Tag, ...]
    skipped: tuple[Skipped, ...]


def why_not_btc(text: str) -> str:
    """Why ``text`` is not a Bitcoin mainnet address, e.g. ``bad base58 checksum``."""
    try:
        Address.parse(text, MAINNET)
    except AddressError as exc:
        return str(exc).removeprefix(f"invalid address {text!r}: ")
    return ""


def canonical_btc_address(text: str) -> str | None:
    """The canonical mainnet rendering of ``text``, or None if it is not a mainnet address."""
    try:
        return str(Address.parse(text, MAINNET))
    except AddressError:
        return None


def normalise_category(category: str | None, abuse: str | None = None) -> str:
    """Map GraphSense category/abuse to `CATEGORIES`; an abuse with a meaning wins.

    hacks.yaml marks thieves with ``abuse: service_hack`` and no category; ransomware packs
    say ``abuse: ransomware``. Unknown names fall back to ``other``.
    """
    by_abuse = _CATEGORY_MAP.get(_key(abuse), "other") if abuse else "other"
    if by_abuse != "other":
        return by_abuse
    return _CATEGORY_MAP.get(_key(category), "other") if category else by_abuse


def load_tagpack(path: Path | str) -> list[Tag]:
    """The Bitcoin tags of a GraphSense TagPack YAML file."""
    return list(read_tagpack(path).tags)


def read_tagpack(path: Path | str) -> TagPack:
    """Parse a TagPack file, keeping the skipped entries (other chains, invalid addresses)."""
    path = Path(path)
    text = _read_text(path)
    try:
        document = yaml.load(text, Loader=_SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise InputError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    pack = parse_tagpack(document, path.stem, str(path))
    if any(s.is_mistake for s in pack.skipped):
        lines = _entry_lines(text)
        skipped = tuple(
            replace(s, line=lines.get(s.number, 0)) if s.is_mistake else s for s in pack.skipped
        )
        pack = TagPack(pack.name, pack.tags, skipped)
    return pack


def _entry_lines(text: str) -> dict[int, int]:
    """Tag number (from 1) -> the line its entry starts on, from the YAML node tree."""
    try:
        root = yaml.compose(text, Loader=_SafeLoader)
    except yaml.YAMLError:
        return {}
    if not isinstance(root, yaml.MappingNode):
        return {}
    for key, value in root.value:
        if getattr(key, "value", None) == "tags" and isinstance(value, yaml.SequenceNode):
            return {n: item.start_mark.line + 1 for n, item in enumerate(value.value, start=1)}
    return {}


def parse_tagpack(document: object, pack: str, where: str = "") -> TagPack:
    """Tags from an already loaded TagPack document; header fields are inherited."""
    where = where or pack
    if not isinstance(document, dict) or not isinstance(document.get("tags"), list):
        raise InputError(f"{where}: not a TagPack (expected a mapping with a 'tags' list)")
    header = {k: v for k, v in document.items() if k != "tags"}
    tags: list[Tag] = []
    skipped: list[Skipped] = []
    for number, entry in enumerate(document["tags"], start=1):
        if not isinstance(entry, dict) or "address" not in entry:
            raise InputError(f"{where}: tag #{number} has no address")
        result = _pack_tag({**header, **entry}, pack)
        if isinstance(result, Tag):
            tags.append(result)
        else:
            skipped.append(replace(result, number=number))
    return TagPack(pack, tuple(tags), tuple(skipped))


def load_tag_csv(path: Path | str) -> list[Tag]:
    """Tags from ``address,label,category,source,confidence`` rows; strict, errors name the line.

    ``confidence`` is a GraphSense name (``forensic``) or an integer 0-100, empty = unknown.
    An investigator's CSV is treated as non-public.
    """
    path = Path(path)
    lines = _read_text(path, "utf-8-sig").splitlines()
    reader = csv.DictReader(lines)
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"{path}:1: tag CSV header must name {','.join(CSV_COLUMNS)} "
            f"(missing {', '.join(missing)})"
        )
    reader.fieldnames = header
    tags: list[Tag] = []
    for row in reader:
        tags.append(_csv_tag(row, path, reader.line_num))
    return tags


def read_tags(path: Path | str) -> TagPack:
    """Like `load_tags`, keeping a TagPack's skipped entries (a CSV has none: it is strict)."""
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        return read_tagpack(path)
    return TagPack(path.stem, tuple(load_tags(path)), ())


def load_tags(path: Path | str) -> list[Tag]:
    """Load a ``.yaml``/``.yml`` TagPack or a ``.csv`` tag list, by suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return load_tagpack(path)
    if suffix == ".csv":
        return load_tag_csv(path)
    raise InputError(f"{path}: unknown tag file type {suffix!r} (use .yaml, .yml or .csv)")


def default_tags() -> list[Tag]:
    """The tags btcwatch ships (data/tags/), parsed once per process."""
    return list(_default_tags())


@functools.cache
def _default_tags() -> tuple[Tag, ...]:
    folder = data_file("tags")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".yaml", ".yml", ".csv"))
    return tuple(tag for path in files for tag in load_tags(path))


def by_address(tags: Iterable[Tag]) -> dict[str, tuple[Tag, ...]]:
    """Index tags by address; an address can carry several tags (e.g. exchange and hack)."""
    index: dict[str, list[Tag]] = {}
    for tag in tags:
        index.setdefault(tag.address, []).append(tag)
    return {address: tuple(found) for address, found in index.items()}


def _pack_tag(fields: Mapping[str, Any], pack: str) -> Tag | Skipped:
    raw_address = str(fields["address"]).strip()
    currency = _text(fields.get("currency"))
    if currency is not None and currency.upper() != "BTC":
        return Skipped(raw_address, f"currency {currency}")
    address = canonical_btc_address(raw_address)
    if address is None:
        return Skipped(raw_address, "not a Bitcoin mainnet address", why_not_btc(raw_address))
    category, abuse = _text(fields.get("category")), _text(fields.get("abuse"))
    confidence_name = _text(fields.get("confidence"))
    entity = _text(fields.get("actor"))
    label = _text(fields.get("label")) or entity or _text(fields.get("title")) or pack
    for name, value in (("label", label), ("actor", entity), ("source", fields.get("source"))):
        bad = unsafe_char(str(value or ""))
        if bad is not None:
            return Skipped(
                raw_address,
                "unsafe text",
                f"its {name} contains the control character U+{ord(bad):04X}",
            )
    return Tag(
        address=address,
        label=label,
        category=normalise_category(category, abuse),
        source=_text(fields.get("source")) or "",
        confidence=_confidence_level(confidence_name),
        entity=entity,
        is_public=fields.get("is_public") is True,
        pack=pack,
        raw_category=category,
        abuse=abuse,
        confidence_name=confidence_name,
    )


def _csv_tag(row: Mapping[str, str | None], path: Path, line: int) -> Tag:
    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    where = f"{path}:{line}"
    if None in row:
        raise InputError(f"{where}: more cells than the header has columns")
    raw_address = cell("address")
    address = canonical_btc_address(raw_address)
    if address is None:
        raise AddressError(
            f"{where}: not a Bitcoin mainnet address: {raw_address!r} ({why_not_btc(raw_address)})"
        )
    label = cell("label")
    for column in ("label", "entity", "source"):
        check_text(f"{where}: {column}", cell(column))
    if not label:
        raise InputError(f"{where}: empty label for {address}")
    category = cell("category")
    if _key(category) not in _CATEGORY_MAP:
        raise InputError(
            f"{where}: unknown category {category!r} (use one of {', '.join(CATEGORIES)})"
        )
    confidence = cell("confidence")
    if not confidence:
        level, name = CONFIDENCE_LEVELS["unknown"], None
    elif confidence.isdigit() and int(confidence) <= 100:
        level, name = int(confidence), None
    elif _key(confidence) in CONFIDENCE_LEVELS:
        level, name = CONFIDENCE_LEVELS[_key(confidence)], _key(confidence)
    else:
        raise InputError(
            f"{where}: confidence must be 0-100 or a GraphSense name such as 'forensic', "
            f"not {confidence!r}"
        )
    return Tag(
        address=address,
        label=label,
        category=normalise_category(category),
        source=cell("source"),
        confidence=level,
        entity=cell("entity") or None,
        is_public=False,
        pack=path.stem,
        raw_category=category,
        confidence_name=name,
    )


def _confidence_level(name: str | None) -> int:
    if name is None:
        return CONFIDENCE_LEVELS["unknown"]
    return CONFIDENCE_LEVELS.get(_key(name), CONFIDENCE_LEVELS["unknown"])


def _key(name: str | None) -> str:
    return (name or "").strip().lower().replace("-", "_").replace(" ", "_")


def _text(value: object) -> str | None:
    """A header or tag value as stripped text (dates and numbers included), None if empty."""
    if value is None:
        return None
    text = value.isoformat() if isinstance(value, date) else str(value)
    return text.strip() or None


def _read_text(path: Path, encoding: str = "utf-8") -> str:
    try:
        return path.read_text(encoding=encoding)
    except OSError as exc:
        raise InputError(f"cannot read tag file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None


# libyaml's safe loader when present: same safety as yaml.safe_load, ten times faster.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
