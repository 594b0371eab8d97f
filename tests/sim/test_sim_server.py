"""The Esplora API over real loopback sockets: shapes, paging, mempool, control, faults."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from btcwatch.chain.address import Address
from btcwatch.chain.tx import RawTx, RawTxIn, RawTxOut, parse_block, parse_header, parse_tx_hex
from btcwatch.sim.chain import SimChain
from btcwatch.sim.faults import FaultKind, Faults
from btcwatch.sim.scenarios import VastaamoScenario
from btcwatch.sim.server import SimServer

DATA = Path(__file__).parent.parent / "data" / "sim"
BLOCK_KEYS = [
    "id", "height", "version", "timestamp", "tx_count", "size", "weight", "merkle_root",
    "previousblockhash", "mediantime", "nonce", "bits", "difficulty",
]  # fmt: skip
STATS_KEYS = ["funded_txo_count", "funded_txo_sum", "spent_txo_count", "spent_txo_sum", "tx_count"]


@pytest.fixture
def api(server: SimServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture
def ctl(server: SimServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def recorded() -> list[dict[str, Any]]:
    txs: list[dict[str, Any]] = json.loads((DATA / "esplora_address_txs.json").read_text())
    return txs + json.loads((DATA / "mempool_space_txs.json").read_text())


def key_order(items: list[dict[str, Any]]) -> set[tuple[str, ...]]:
    return {tuple(item) for item in items}


def test_tip_routes(api: httpx.Client, chain: SimChain) -> None:
    height = api.get("/blocks/tip/height")
    assert height.status_code == 200 and height.headers["content-type"] == "text/plain"
    assert int(height.text) == chain.tip_height
    assert api.get("/blocks/tip/hash").text == chain.tip_hash
    assert api.get(f"/block-height/{chain.tip_height}").text == chain.tip_hash
    assert api.get(f"/block-height/{chain.tip_height + 1}").status_code == 404


def test_block_routes(api: httpx.Client, chain: SimChain) -> None:
    tip = chain.tip_hash
    block = api.get(f"/block/{tip}").json()
    assert list(block) == BLOCK_KEYS
    assert block["id"] == tip and block["height"] == chain.tip_height
    assert block["tx_count"] == len(chain.tip.entries)
    header = api.get(f"/block/{tip}/header").text
    assert parse_header(bytes.fromhex(header)).hash == tip
    raw = api.get(f"/block/{tip}/raw")
    assert raw.headers["content-type"] == "application/octet-stream"
    assert parse_block(raw.content).hash == tip
    txids = api.get(f"/block/{tip}/txids").json()
    assert txids == [e.txid for e in chain.tip.entries]
    assert api.get(f"/block/{tip}/txid/0").text == txids[0]
    txs = api.get(f"/block/{tip}/txs").json()
    assert [t["txid"] for t in txs] == txids[:25]
    assert api.get(f"/block/{tip}/txs/3").status_code == 400
    parent = block["previousblockhash"]
    assert api.get(f"/block/{parent}/status").json() == {
        "in_best_chain": True,
        "height": chain.tip_height - 1,
        "next_best": tip,
    }
    assert api.get(f"/block/{tip}/status").json()["next_best"] is None
    recent = api.get("/blocks").json()
    assert [b["height"] for b in recent] == list(range(chain.tip_height, chain.tip_height - 10, -1))
    older = api.get(f"/blocks/{chain.tip_height - 20}").json()
    assert older[0]["height"] == chain.tip_height - 20 and len(older) == 10


def test_block_txs_paging(api: httpx.Client, chain: SimChain) -> None:
    # Fill a block: spend 30 matured coinbase outputs that the scenario never spends.
    for height in range(chain.base_height, chain.tip_height - 100):
        coinbase = chain.block_at(height).entries[0]  # type: ignore[union-attr]
        if chain.outspend(coinbase.txid, 0) is None and len(chain.mempool()) < 60:
            script, value = coinbase.outs[0]
            txin = RawTxIn(coinbase.txid, 0, b"", 0xFFFFFFFF, (bytes(71), bytes(33)))
            tx = RawTx(2, (txin,), (RawTxOut(value - 1000, script),), 0)
            assert api.post("/tx", content=tx.serialize().hex()).text == tx.txid
    chain.advance()
    tip = chain.tip_hash
    count = len(chain.tip.entries)
    assert count > 25
    pages = [api.get(f"/block/{tip}/txs/{start}").json() for start in range(0, count, 25)]
    assert [len(p) for p in pages[:-1]] == [25] * (len(pages) - 1)
    assert [t["txid"] for p in pages for t in p] == [e.txid for e in chain.tip.entries]
    assert api.get(f"/block/{tip}/txs/{len(pages) * 25}").status_code == 404


def test_tx_routes_match_esplora_shapes(
    api: httpx.Client, chain: SimChain, recorded: list[dict[str, Any]]
) -> None:
    entry = next(e for e in chain.tip.entries[1:])
    tx = api.get(f"/tx/{entry.txid}").json()
    assert list(tx) == list(recorded[0])
    assert tx["status"] == {
        "confirmed": True,
        "block_height": chain.tip_height,
        "block_hash": chain.tip_hash,
        "block_time": chain.tip.time,
    }
    recorded_vins = key_order([v for t in recorded for v in t["vin"]])
    recorded_vouts = key_order([v for t in recorded for v in t["vout"]])
    # Every input and output shape we produce is one Esplora produces.
    for block in list(chain.best_blocks())[-40:]:
        for e in block.entries:
            body = api.get(f"/tx/{e.txid}").json()
            for vin in body["vin"]:
                if not vin["is_coinbase"]:
                    assert tuple(vin) in recorded_vins, tuple(vin)
            assert key_order(body["vout"]) <= recorded_vouts
            assert body["fee"] == e.fee and body["weight"] == e.weight
    assert parse_tx_hex(api.get(f"/tx/{entry.txid}/hex").text).txid == entry.txid
    assert api.get(f"/tx/{entry.txid}/raw").content == entry.raw
    assert api.get(f"/tx/{entry.txid}/status").json() == tx["status"]


def test_coinbase_input_shape(api: httpx.Client, chain: SimChain) -> None:
    coinbase = api.get(f"/tx/{chain.tip.entries[0].txid}").json()
    vin = coinbase["vin"][0]
    assert vin["is_coinbase"] is True and vin["prevout"] is None
    assert vin["txid"] == "0" * 64 and vin["vout"] == 0xFFFFFFFF
    assert coinbase["fee"] == 0
    assert coinbase["vout"][-1]["scriptpubkey_type"] == "op_return"
    assert "scriptpubkey_address" not in coinbase["vout"][-1]


def test_outspends(api: httpx.Client, chain: SimChain, truth: dict[str, Any]) -> None:
    chain.advance_to(chain.last_planned_height)
    sweep = truth["sweeps"][0]
    txid, vout = sweep["outpoints"][0].split(":")
    spends = api.get(f"/tx/{txid}/outspends").json()
    assert spends[int(vout)]["spent"] is True
    assert spends[int(vout)]["txid"] == sweep["txid"]
    assert spends[int(vout)]["vin"] == 0
    assert spends[int(vout)]["status"]["confirmed"] is True
    one = api.get(f"/tx/{txid}/outspend/{vout}").json()
    assert one == spends[int(vout)]
    assert api.get(f"/tx/{txid}/outspend/99").status_code == 404
    unspent = truth["coinjoin_txid"]
    kept = truth["coinjoin"]["attacker_equal_vouts"][0]  # the attacker never moves these
    assert api.get(f"/tx/{unspent}/outspend/{kept}").json() == {"spent": False}
    bulk = api.get("/txs/outspends", params={"txids": f"{txid},{unspent}"}).json()
    assert bulk[0] == spends and len(bulk[1]) == len(api.get(f"/tx/{unspent}").json()["vout"])
    many = ",".join([txid] * 51)
    assert api.get("/txs/outspends", params={"txids": many}).status_code == 400


def test_ransom_totals_through_the_api(
    api: httpx.Client, chain: SimChain, truth: dict[str, Any]
) -> None:
    chain.advance_to(chain.last_planned_height)
    expected: Counter[str] = Counter()
    for p in truth["payments"]:
        if p["height"] is not None:
            expected[p["address"]] += p["value_sat"]
    for ransom in truth["ransom_addresses"]:
        body = api.get(f"/address/{ransom['address']}").json()
        assert list(body) == ["address", "chain_stats", "mempool_stats"]
        assert list(body["chain_stats"]) == STATS_KEYS
        assert body["chain_stats"]["funded_txo_sum"] == expected[ransom["address"]]
        assert body["chain_stats"]["spent_txo_sum"] == expected[ransom["address"]]  # all swept


def test_address_history_paging_to_the_end(api: httpx.Client, chain: SimChain) -> None:
    chain.advance_to(chain.last_planned_height)
    pool_script = chain.tip.entries[0].outs[0][0]  # a mining pool's payout address
    rec = chain.address(pool_script)
    assert rec is not None and len(rec.history) > 60
    address = chain.tip.entries[0].parse().outputs[0].script
    text = Address.from_script(address, chain.network)
    seen: list[str] = []
    heights: list[int] = []
    page = api.get(f"/address/{text}/txs/chain").json()
    while page:
        assert len(page) <= 25
        seen += [t["txid"] for t in page]
        heights += [t["status"]["block_height"] for t in page]
        page = api.get(f"/address/{text}/txs/chain/{seen[-1]}").json()
    assert len(seen) == len(set(seen)) == len(rec.history)
    assert heights == sorted(heights, reverse=True)
    combined = api.get(f"/address/{text}/txs").json()
    assert [t["txid"] for t in combined] == seen[:25]
    stranger = chain.tip.entries[0].txid
    assert api.get(f"/address/{text}/txs/chain/{'ab' * 32}").json() == []
    assert stranger in seen
    digest = hashlib.sha256(pool_script).hexdigest()
    by_hash = api.get(f"/scripthash/{digest}").json()
    assert by_hash["scripthash"] == digest
    assert by_hash["chain_stats"] == api.get(f"/address/{text}").json()["chain_stats"]
    assert len(api.get(f"/scripthash/{digest}/txs/chain").json()) == 25


def test_unknown_last_seen_can_be_ignored(chain: SimChain) -> None:
    chain.advance_to(chain.last_planned_height)
    script = chain.tip.entries[0].outs[0][0]
    text = str(Address.from_script(script, chain.network))
    with SimServer(chain, unknown_last_seen="ignore") as srv:
        first = httpx.get(f"{srv.url}/address/{text}/txs/chain").json()
        again = httpx.get(f"{srv.url}/address/{text}/txs/chain/{'cd' * 32}").json()
        assert again == first


def test_mempool_then_confirmation(
    api: httpx.Client, ctl: httpx.Client, chain: SimChain, truth: dict[str, Any]
) -> None:
    payment = min(
        (p for p in truth["payments"] if p["height"] is not None), key=lambda p: p["height"]
    )
    ctl.post("/_sim/advance", params={"blocks": payment["height"] - 1 - chain.tip_height})
    assert api.get(f"/tx/{payment['txid']}/status").json() == {"confirmed": False}
    assert payment["txid"] in api.get("/mempool/txids").json()
    mempool = api.get("/mempool").json()
    assert list(mempool) == ["count", "vsize", "total_fee", "fee_histogram"]
    assert mempool["count"] == len(chain.mempool())
    recent = api.get("/mempool/recent").json()
    assert 0 < len(recent) <= 10 and list(recent[0]) == ["txid", "fee", "vsize", "value"]
    stats = api.get(f"/address/{payment['address']}").json()
    assert stats["mempool_stats"]["funded_txo_sum"] == payment["value_sat"]
    assert [t["txid"] for t in api.get(f"/address/{payment['address']}/txs/mempool").json()] == [
        payment["txid"]
    ]
    utxo = api.get(f"/address/{payment['address']}/utxo").json()
    assert utxo == [
        {"txid": payment["txid"], "vout": payment["vout"], "status": {"confirmed": False},
         "value": payment["value_sat"]}
    ]  # fmt: skip
    moved = ctl.post("/_sim/advance").json()
    assert moved["tip_height"] == payment["height"]
    assert api.get(f"/tx/{payment['txid']}/status").json()["confirmed"] is True
    assert payment["txid"] not in api.get("/mempool/txids").json()
    stats = api.get(f"/address/{payment['address']}").json()
    assert stats["chain_stats"]["funded_txo_sum"] == payment["value_sat"]
    assert stats["mempool_stats"]["tx_count"] == 0
    assert api.get("/fee-estimates").json().keys() >= {"1", "6", "144"}


def test_control_reorg_and_replace(api: httpx.Client, ctl: httpx.Client, chain: SimChain) -> None:
    ctl.post("/_sim/advance", params={"blocks": 3})
    victim = chain.tip.entries[-1].txid
    old_tip = api.get("/blocks/tip/hash").text
    answer = ctl.post("/_sim/reorg", params={"depth": 1, "drop": victim}).json()
    assert answer["tip_height"] == chain.tip_height
    assert api.get("/blocks/tip/hash").text == answer["new_hashes"][-1] != old_tip
    assert api.get(f"/tx/{victim}/status").json() == {"confirmed": False}
    assert api.get(f"/block/{old_tip}/status").json() == {"in_best_chain": False}
    swapped = ctl.post("/_sim/replace", params={"txid": victim}).json()
    assert swapped["replaced"] == victim
    assert api.get(f"/tx/{victim}").status_code == 404
    replacement = api.get(f"/tx/{swapped['replacement']}").json()
    assert replacement["status"] == {"confirmed": False}
    state = ctl.get("/_sim/state").json()
    assert state["tip_height"] == chain.tip_height and state["mempool_count"] >= 1
    assert ctl.post("/_sim/replace", params={"txid": "zz"}).status_code == 400


def test_errors_are_text(api: httpx.Client) -> None:
    cases = {
        "/tx/" + "00" * 32: (404, "Transaction not found"),
        "/block/" + "00" * 32: (404, "Block not found"),
        "/tx/nothex": (400, "Invalid hex string"),
        "/address/1notanaddress": (400, "Invalid Bitcoin address"),
        "/address/tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx": (400, "Invalid Bitcoin address"),
        "/block-height/abc": (400, "Invalid height"),
        "/no/such/route": (404, "Not Found"),
    }
    for path, (status, text) in cases.items():
        answer = api.get(path)
        assert (answer.status_code, answer.text) == (status, text), path
        assert answer.headers["content-type"] == "text/plain"


def test_faults_follow_the_seed(chain: SimChain) -> None:
    naps: list[float] = []
    faults = Faults(0.5, seed=3, delay=0.25)
    plan = faults.preview(60)
    outcomes: Counter[str] = Counter()
    with (
        SimServer(chain, faults=faults, sleep=naps.append) as srv,
        httpx.Client(base_url=srv.url) as client,
        httpx.Client() as control,
    ):
        for _ in range(60):
            try:
                answer = client.get("/blocks/tip/hash")
            except httpx.RemoteProtocolError:
                outcomes["drop"] += 1
                continue
            if answer.status_code != 200:
                outcomes[str(answer.status_code)] += 1
                assert "Retry-After" not in answer.headers
            elif len(answer.text) == 32:
                assert answer.headers["content-length"] == "32"
                outcomes["truncate"] += 1
            else:
                assert answer.text == chain.tip_hash
                outcomes["ok"] += 1
            # Control routes are never faulted and do not use up decisions.
            assert control.get(f"{srv.base_url}/_sim/state").status_code == 200
    expected = Counter(k.value if k else "ok" for k in plan)
    slow = expected.pop(FaultKind.SLOW.value, 0)
    expected["ok"] += slow
    assert outcomes == expected
    assert naps == [0.25] * slow
    assert sum(faults.counts.values()) == 60
    assert 0 < sum(1 for k in plan if k) < 60


def test_rate_limit_answers_429_like_mempool_space(chain: SimChain) -> None:
    now = [100.0]
    with (
        SimServer(chain, rate_limit=1.0, burst=2, clock=lambda: now[0]) as srv,
        httpx.Client(base_url=srv.url) as client,
    ):
        assert client.get("/blocks/tip/height").status_code == 200
        assert client.get("/blocks/tip/height").status_code == 200
        limited = client.get("/blocks/tip/height")
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "text/html"
        assert "Retry-After" not in limited.headers
        assert "429 Too Many Requests" in limited.text
        assert httpx.post(f"{srv.base_url}/_sim/advance").status_code == 200
        now[0] += 1.0
        assert client.get("/blocks/tip/height").status_code == 200


def test_faults_can_be_set_over_http(ctl: httpx.Client, server: SimServer) -> None:
    answer = ctl.post("/_sim/faults", params={"rate": 1, "kinds": "503", "seed": 1}).json()
    assert answer["faults"]["rate"] == 1.0
    assert httpx.get(f"{server.url}/blocks/tip/height").status_code == 503
    assert ctl.post("/api/_sim/faults", params={"rate": 0}).json() == {"faults": None}
    assert httpx.get(f"{server.url}/blocks/tip/height").status_code == 200
    assert ctl.post("/_sim/faults", params={"rate": 1, "kinds": "teapot"}).status_code == 400


def test_request_counters_and_keep_alive(server: SimServer, api: httpx.Client) -> None:
    for _ in range(3):
        answer = api.get("/blocks/tip/height")
        assert answer.http_version == "HTTP/1.1"
        assert answer.headers.get("connection", "keep-alive") != "close"
    api.get(f"/tx/{'00' * 32}")
    assert server.requests["GET /blocks/tip/height"] == 3
    assert server.requests["GET /tx/:txid"] == 1


def test_blockchain_info_routes(ctl: httpx.Client, chain: SimChain, truth: dict[str, Any]) -> None:
    chain.advance_to(chain.last_planned_height)
    hot = truth["exchanges"][0]["hot_wallets"][0]
    body = ctl.get(f"/bci/rawaddr/{hot}", params={"limit": 2}).json()
    assert body["address"] == hot and len(body["txs"]) == 2 and body["n_tx"] >= 2
    later = ctl.get(f"/bci/rawaddr/{hot}", params={"limit": 2, "offset": 2}).json()
    assert not {t["hash"] for t in later["txs"]} & {t["hash"] for t in body["txs"]}
    tx = ctl.get(f"/bci/rawtx/{body['txs'][0]['hash']}").json()
    assert {"hash", "inputs", "out", "block_height", "fee"} <= set(tx)
    assert ctl.get(f"/bci/rawtx/{tx['hash']}", params={"format": "hex"}).text
    both = ctl.get(
        "/bci/multiaddr", params={"active": f"{hot}|{truth['merges'][0]['output_address']}"}
    )
    assert both.json()["addresses"][0]["address"] == hot
    assert ctl.get("/bci/latestblock").json()["height"] == chain.tip_height


def test_broadcast_route_refuses_garbage(api: httpx.Client) -> None:
    answer = api.post("/tx", content="00")
    assert answer.status_code == 400 and answer.text.startswith("sendrawtransaction RPC error")


def test_scenario_constructor_and_context(small: VastaamoScenario) -> None:
    chain = SimChain.from_scenario(small)
    server = SimServer(chain).start()
    try:
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/api")
        assert httpx.get(f"{server.url}/blocks/tip/height").text == str(small.default_tip())
    finally:
        server.stop()
