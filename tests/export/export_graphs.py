"""Test graphs for the export tests: a hand-built Vastaamo-like flow and a real one.

Victim pays a ransom address -> the attacker sweeps three ransom addresses -> two peel
transactions pay exchange deposit addresses and keep change -> the last change enters an
(unconfirmed) CoinJoin. Labels carry HTML/script, quotes, ampersands, unicode, CR/LF, a tab
and spreadsheet-formula starts (= + - @) so every writer's escaping is exercised.
Addresses are valid P2WPKH encodings of hashed names and txids are hashes of names: stable,
realistic-looking, and obviously not real coins.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx

from btcwatch.chain.encoding import bech32_encode
from btcwatch.money import format_btc

T0 = 1603432800  # 2020-10-23T06:00:00Z
DAILY_SOURCE = "Yahoo Finance BTC-USD daily close (UTC day); EUR via ECB reference rate"
HOURLY_SOURCE = 'mempool http://127.0.0.1:8999/api hourly price (evidence 7) "<b>"'
HOURLY = {"price_time": "2020-10-23T06:00:00Z", "price_resolution": "hour"}
SCRIPT_LABEL = "<script>alert(1)</script>"


def addr(name: str) -> str:
    return str(bech32_encode("bc", 0, hashlib.sha256(name.encode()).digest()[:20]))


def txid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _evidence(path: str) -> str:
    body_hash = hashlib.sha256(path.encode()).hexdigest()
    return f"https://mempool.space/api/{path} sha256={body_hash}"


def add_address(g: nx.MultiDiGraph, name: str, **attrs: Any) -> None:
    a = addr(name)
    data: dict[str, Any] = {
        "kind": "address",
        "address": a,
        "label": "",
        "entity": "",
        "category": "",
        "role": "",
        "cluster": -1,
        "taint_sat": 0,
        "received_sat": 0,
        "first_seen": 0,
        "stop_reason": "",
        "is_source": False,
        "evidence": _evidence(f"address/{a}"),
    }
    data.update(attrs)
    g.add_node(f"addr:{a}", **data)


def add_tx(g: nx.MultiDiGraph, name: str, **attrs: Any) -> None:
    t = txid(name)
    data: dict[str, Any] = {
        "kind": "tx",
        "txid": t,
        "height": -1,
        "time": 0,
        "fee_sat": 0,
        "coinjoin": False,
        "peel": False,
        "change_vout": -1,
        "findings": "[]",
        "evidence": _evidence(f"tx/{t}"),
    }
    data.update(attrs)
    g.add_node(f"tx:{t}", **data)


def _edge(kind: str, outpoint: str, value: int, tx: dict[str, Any], **attrs: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": kind,
        "outpoint": outpoint,
        "value_sat": value,
        "value_btc": format_btc(value),
        "value_eur": "",
        "price_time": "",
        "price_resolution": "",
        "price_source": "",
        "time": tx["time"],
        "height": tx["height"],
        "taint_sat": value,
        "is_change": False,
        "hop": 0,
    }
    data.update(attrs)
    if data["value_eur"] and not data["price_time"]:  # valued: name the price, as the tracer does
        data["price_time"] = datetime.fromtimestamp(tx["time"], UTC).date().isoformat()
        data["price_resolution"] = "day"
        data["price_source"] = DAILY_SOURCE
    return data


def add_input(
    g: nx.MultiDiGraph, who: str, tx_name: str, prev: str, vout: int, value: int, **attrs: Any
) -> None:
    outpoint = f"{txid(prev)}:{vout}"
    tx = g.nodes[f"tx:{txid(tx_name)}"]
    data = _edge("input", outpoint, value, tx, **attrs)
    g.add_edge(f"addr:{addr(who)}", f"tx:{txid(tx_name)}", key=outpoint, **data)


def add_output(
    g: nx.MultiDiGraph, tx_name: str, vout: int, who: str, value: int, **attrs: Any
) -> None:
    outpoint = f"{txid(tx_name)}:{vout}"
    tx = g.nodes[f"tx:{txid(tx_name)}"]
    data = _edge("output", outpoint, value, tx, **attrs)
    g.add_edge(f"tx:{txid(tx_name)}", f"addr:{addr(who)}", key=outpoint, **data)


def _finding(heuristic: str, verdict: str, subject: str, **facts: Any) -> dict[str, Any]:
    return {
        "heuristic": heuristic,
        "verdict": verdict,
        "confidence": 0.8,
        "subject": subject,
        "facts": facts,
    }


def build_flow_graph() -> nx.MultiDiGraph:
    """20 nodes (15 addresses, 5 txs) and 21 edges; see the module docstring."""
    g = nx.MultiDiGraph(
        title="Vastaamo-like extortion flow (test)",
        case='FI-2020 "psychotherapy" & <extortion>',
        trace_id=42,
        created_at="2020-11-01T08:00:00+00:00",
        policy="haircut",
    )
    # Nodes are added in a scrambled order on purpose: writers must sort.
    add_address(g, "mixer-out-3", stop_reason="coinjoin", taint_sat=668_826, received_sat=1_000_000)
    add_address(
        g,
        "mixer-out-1",
        label="@mixer output 1",
        stop_reason="coinjoin",
        taint_sat=668_826,
        received_sat=1_000_000,
        first_seen=T0 + 7 * 86400,
    )
    add_address(g, "mixer-out-2", stop_reason="coinjoin", taint_sat=668_826, received_sat=1_000_000)
    add_address(
        g,
        "coinjoin-change",
        label="-1+1 =cmd|' /C calc'!A0\r\nsecond line",
        stop_reason="coinjoin",
        taint_sat=2_635_148,
        received_sat=3_940_000,
    )
    add_address(
        g,
        "victim",
        label="Patient payment – Jyväskylä",
        role="victim",
        received_sat=200_000,
        first_seen=T0 - 86400,
    )
    for n in (1, 2, 3):
        add_address(
            g,
            f"ransom-{n}",
            label=f'Ransom address #{n} ("ransom_man" & co)',
            entity="Vastaamo extortion",
            category="ransomware",
            role="ransom",
            taint_sat=3_580_000 if n == 1 else 1_800_000,
            received_sat=3_580_000 if n == 1 else 1_800_000,
            first_seen=T0,
            is_source=True,
        )
    add_address(
        g,
        "attacker",
        label="Attacker wallet",
        role="attacker",
        cluster=7,
        taint_sat=7_155_000,
        received_sat=7_155_000,
        first_seen=T0 + 30 * 3600,
    )
    add_address(
        g,
        "exchange-1",
        label="Kryptopörssi – deposit Ä€ 😀 & <b>bold</b>",
        entity="Kryptopörssi Oy",
        category="exchange",
        role="exchange",
        taint_sat=1_000_000,
        received_sat=1_000_000,
        first_seen=T0 + 5 * 86400,
        stop_reason="exchange",
    )
    add_address(
        g,
        "change-1",
        label='=HYPERLINK("http://evil.example","click")',
        role="attacker",
        cluster=7,
        taint_sat=6_150_000,
        received_sat=6_150_000,
    )
    add_address(
        g,
        "exchange-2",
        label=SCRIPT_LABEL,
        entity='Exchange "Big" & Co',
        category="exchange",
        role="exchange",
        taint_sat=1_500_000,
        received_sat=1_500_000,
        stop_reason="exchange",
        first_seen=T0 + 6 * 86400,
    )
    add_address(
        g,
        "change-2",
        label="+358 40 123 4567",
        role="attacker",
        cluster=7,
        taint_sat=4_645_000,
        received_sat=4_645_000,
    )
    add_address(g, "other-in-1", received_sat=1_200_000, category="other")
    add_address(
        g,
        "other-in-2",
        label="\tTabbed",
        category="mixer",
        entity="Whirlpool?",
        received_sat=1_100_000,
    )

    add_tx(g, "sweep", height=654_500, time=T0 + 30 * 3600, fee_sat=10_000)
    add_tx(g, "pay-1", height=654_321, time=T0, fee_sat=10_000, change_vout=1)
    peel_1 = txid("peel-1")
    add_tx(
        g,
        "peel-1",
        height=655_200,
        time=T0 + 5 * 86400,
        fee_sat=5_000,
        peel=True,
        change_vout=1,
        findings=json.dumps(
            [_finding("optimal_change", "change", f"{peel_1}:1", smallest_input_sats=7_155_000)]
        ),
    )
    add_tx(
        g, "peel-2", height=655_350, time=T0 + 6 * 86400, fee_sat=5_000, peel=True, change_vout=0
    )
    coinjoin = txid("coinjoin")
    add_tx(
        g,
        "coinjoin",
        height=-1,
        time=T0 + 7 * 86400,
        fee_sat=5_000,
        coinjoin=True,
        findings=json.dumps([_finding("coinjoin", "coinjoin", coinjoin, equal_outputs=3)]),
    )

    # victim pays ransom-1, change back to the victim (address reuse)
    add_input(g, "victim", "pay-1", "funding-victim", 0, 2_000_000, taint_sat=0)
    hourly = {**HOURLY, "price_source": HOURLY_SOURCE}
    add_output(g, "pay-1", 0, "ransom-1", 1_790_000, value_eur="200.00", **hourly)
    add_output(g, "pay-1", 1, "victim", 200_000, taint_sat=0, is_change=True, value_eur="22.35")
    # sweep of the three ransom addresses (ransom-1 was paid twice: parallel edges)
    add_input(g, "ransom-1", "sweep", "pay-1", 0, 1_790_000, hop=1, value_eur="200.00")
    add_input(g, "ransom-1", "sweep", "pay-1b", 0, 1_790_000, hop=1)
    add_input(g, "ransom-2", "sweep", "pay-2", 0, 1_800_000, hop=1)
    add_input(g, "ransom-3", "sweep", "pay-3", 1, 1_785_000, hop=1)
    add_output(g, "sweep", 0, "attacker", 7_155_000, hop=1, value_eur="599.51")
    # two peels
    add_input(g, "attacker", "peel-1", "sweep", 0, 7_155_000, hop=2)
    add_output(g, "peel-1", 0, "exchange-1", 1_000_000, hop=2, value_eur="111.75")
    add_output(g, "peel-1", 1, "change-1", 6_150_000, hop=2, is_change=True)
    add_input(g, "change-1", "peel-2", "peel-1", 1, 6_150_000, hop=3)
    add_output(g, "peel-2", 0, "change-2", 4_645_000, hop=3, is_change=True)
    add_output(g, "peel-2", 1, "exchange-2", 1_500_000, hop=3)
    # CoinJoin (unconfirmed) with two strangers' inputs
    add_input(g, "change-2", "coinjoin", "peel-2", 0, 4_645_000, hop=4)
    add_input(g, "other-in-1", "coinjoin", "other-1", 3, 1_200_000, hop=4, taint_sat=0)
    add_input(g, "other-in-2", "coinjoin", "other-2", 0, 1_100_000, hop=4, taint_sat=0)
    for vout in (0, 1, 2):
        add_output(
            g, "coinjoin", vout, f"mixer-out-{vout + 1}", 1_000_000, hop=4, taint_sat=668_826
        )
    add_output(g, "coinjoin", 3, "coinjoin-change", 3_940_000, hop=4, taint_sat=2_635_148)
    return g


WANNACRY_JSON = Path(__file__).resolve().parents[1] / "data" / "export" / "wannacry_cashout.json"


def build_wannacry_graph() -> nx.MultiDiGraph:
    """The real 2017-08-03 WannaCry cash-out: 3 ransom addresses, 6 txs, 352 inputs, 9 outputs."""
    data = json.loads(WANNACRY_JSON.read_text(encoding="utf-8"))
    g = nx.MultiDiGraph(
        title="WannaCry cash-out, 2017-08-03",
        case="wannacry",
        trace_id="wannacry-cashout",
        created_at="2017-08-04T00:00:00Z",
        policy="poison",
    )
    received: dict[str, int] = {}
    for tx in data["txs"]:
        for i in tx["inputs"]:
            received[i["addr"]] = received.get(i["addr"], 0) + i["value"]
        for o in tx["out"]:
            received[o["addr"]] = received.get(o["addr"], 0) + o["value"]
    for a, total in sorted(received.items()):
        ransom = a in data["ransom_addresses"]
        g.add_node(
            f"addr:{a}",
            kind="address",
            address=a,
            label="WannaCry ransom address" if ransom else "",
            entity="WannaCry" if ransom else "",
            category="ransomware" if ransom else "",
            role="ransom" if ransom else "",
            cluster=-1,
            taint_sat=total,
            received_sat=total,
            first_seen=0,
            stop_reason="",
            is_source=ransom,
            evidence=f"https://blockchain.info/rawaddr/{a} (recorded by xpfio/blockchain_viz)",
        )
    for tx in data["txs"]:
        fee = sum(i["value"] for i in tx["inputs"]) - sum(o["value"] for o in tx["out"])
        t = f"tx:{tx['hash']}"
        g.add_node(
            t,
            kind="tx",
            txid=tx["hash"],
            height=tx["block_height"],
            time=tx["time"],
            fee_sat=fee,
            coinjoin=False,
            peel=False,
            change_vout=-1,
            findings="[]",
            evidence="",
        )
        common = {
            "value_eur": "",
            "price_time": "",
            "price_resolution": "",
            "price_source": "",
            "time": tx["time"],
            "height": tx["block_height"],
            "is_change": False,
            "hop": 1,
        }
        for i in tx["inputs"]:
            op = f"{i['prev_hash']}:{i['n']}"
            g.add_edge(
                f"addr:{i['addr']}",
                t,
                key=op,
                kind="input",
                outpoint=op,
                value_sat=i["value"],
                value_btc=format_btc(i["value"]),
                taint_sat=i["value"],
                **common,
            )
        for o in tx["out"]:
            op = f"{tx['hash']}:{o['n']}"
            g.add_edge(
                t,
                f"addr:{o['addr']}",
                key=op,
                kind="output",
                outpoint=op,
                value_sat=o["value"],
                value_btc=format_btc(o["value"]),
                taint_sat=o["value"],
                **common,
            )
    return g


GOLDEN_DIR = Path(__file__).resolve().parents[1] / "data" / "export"


def check_golden(name: str, data: bytes) -> None:
    """Compare with tests/data/export/NAME; BTCWATCH_UPDATE_GOLDEN=1 rewrites it instead."""
    path = GOLDEN_DIR / name
    if os.environ.get("BTCWATCH_UPDATE_GOLDEN") == "1":
        path.write_bytes(data)
        return
    assert path.exists(), f"{path} missing: run with BTCWATCH_UPDATE_GOLDEN=1 once and review it"
    assert data == path.read_bytes(), f"{name} differs from the golden file (review, then update)"
