"""The mainnet profile: block size and script mix, byte-validity, a busy mempool in simulated
time, 100,000-transaction hot wallets paged as Esplora pages them, and the Vastaamo story
inside the traffic."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from simcheck import check_chain
from typer.testing import CliRunner

from btcwatch.chain.address import Address
from btcwatch.chain.script import ScriptType, classify
from btcwatch.chain.tx import parse_block, parse_tx_hex
from btcwatch.cli import app as btcwatch_app
from btcwatch.errors import InputError
from btcwatch.sim.chain import SimChain
from btcwatch.sim.history import HistoryView
from btcwatch.sim.mainnet import MainnetChain, MainnetProfile, mainnet_chain, mainnet_scenario
from btcwatch.sim.scenarios import VastaamoScenario
from btcwatch.sim.server import SimServer
from btcwatch.sim.traffic import Traffic

QUIET = MainnetProfile(mempool_rate=0, mempool_backlog=0)


@pytest.fixture(scope="module")
def story() -> VastaamoScenario:
    scenario = mainnet_scenario(30, 2020, background=3)
    scenario.ground_truth()
    return scenario


@pytest.fixture(scope="module")
def truth(story: VastaamoScenario) -> dict[str, Any]:
    return story.ground_truth()


@pytest.fixture(scope="module")
def busy(story: VastaamoScenario) -> MainnetChain:
    """Default settings (5 tx/s, 20,000 waiting), two mainnet blocks mined past the start."""
    chain = mainnet_chain(story)
    chain.advance(2)
    return chain


@pytest.fixture
def quiet(story: VastaamoScenario) -> MainnetChain:
    """No traffic unless a test injects it."""
    return mainnet_chain(story, profile=QUIET)


def mined(chain: SimChain, count: int) -> list[Any]:
    return [chain.block_at(chain.tip_height - i) for i in range(count)][::-1]


def test_a_mainnet_block_has_mainnet_size_count_and_script_mix(busy: MainnetChain) -> None:
    kinds: Counter[ScriptType] = Counter()
    for rec in mined(busy, 2):
        assert 2_000 <= len(rec.entries) <= 4_000, len(rec.entries)
        assert 1_500_000 <= rec.size <= 2_000_000, rec.size
        assert rec.weight <= 4_000_000
        block = parse_block(rec.serialize())
        assert len(block.serialize()) == rec.size
        for tx in block.txs[1:]:
            kinds.update(classify(o.script) for o in tx.outputs)
    total = sum(kinds.values())
    share = {kind: count / total for kind, count in kinds.items()}
    ranked = [k for k, _ in kinds.most_common()]
    assert ranked[0] is ScriptType.P2WPKH and share[ScriptType.P2WPKH] > 0.4
    assert ranked[1] is ScriptType.P2TR
    assert share[ScriptType.P2SH] > share[ScriptType.P2WSH]
    assert share[ScriptType.P2PKH] > share[ScriptType.P2WSH] > 0.01
    assert 0 < share[ScriptType.OP_RETURN] < 0.05


def test_mainnet_blocks_are_byte_valid(busy: MainnetChain) -> None:
    blocks = list(busy.best_blocks())
    report = check_chain(
        (b.serialize() for b in blocks), blocks[0].height, busy.network, op_return=True
    )
    assert report.blocks == len(blocks) and report.tip_hash == busy.tip_hash
    assert report.txs == sum(len(b.entries) for b in blocks) > 5_000


def test_traffic_has_batches_consolidations_and_address_reuse(story: VastaamoScenario) -> None:
    assert story.story is not None
    exchanges = [(ex.name, ex.hot[0], coins) for ex, coins in
                 zip(story.story.exchanges, story.story.traffic_hot, strict=True)]  # fmt: skip
    traffic = Traffic(7, story.story.traffic_coins, exchanges)
    hot = {key.script for _, key, _ in exchanges}
    made = [traffic.next() for _ in range(12_000)]
    batches = [t for t in made if t.kind == "batch"]
    sweeps = [t for t in made if t.kind == "consolidation"]
    assert batches and sweeps
    assert all(101 <= len(t.outs) <= 301 and t.outs[-1][0] in hot for t in batches)
    assert all(len(t.ins) >= 100 and len(t.outs) == 1 and t.outs[0][0] in hot for t in sweeps)
    reused = Counter(t.outs[0][0] for t in sweeps) + Counter(t.outs[-1][0] for t in batches)
    assert max(reused.values()) >= 2  # one hot address, paid again and again
    assert {t.kind for t in made} >= {"payment", "deposit", "inscription", "op_return"}
    assert all(t.fee > 0 for t in made)
    again = Traffic(7, story.story.traffic_coins, exchanges)
    assert [again.next().txid for _ in range(50)] == [t.txid for t in made[:50]]


def test_traffic_is_made_only_when_someone_looks(story: VastaamoScenario) -> None:
    chain = mainnet_chain(story, profile=MainnetProfile(mempool_backlog=5_000))
    assert chain.mempool_state()["traffic_made"] == 0
    chain.advance_time(60)  # 300 more arrive, still unmade
    assert chain.mempool_state() | {"sim_time": 0} == chain.mempool_state() | {
        "sim_time": 0,
        "traffic_made": 0,
        "traffic_due": 5_300,
    }
    assert len(chain.mempool()) >= 5_300
    assert chain.mempool_state()["traffic_made"] == 5_300


@pytest.fixture
def quiet_server(quiet: MainnetChain) -> Iterator[SimServer]:
    with SimServer(quiet) as srv:
        yield srv


def test_mempool_injection_over_http_and_python(quiet_server: SimServer) -> None:
    chain = quiet_server.chain
    assert isinstance(chain, MainnetChain)
    with httpx.Client(base_url=quiet_server.base_url, timeout=30) as http:
        before = http.get("/api/mempool/txids").json()
        assert all(chain.any_tx(t) and chain.any_tx(t).plan is not None for t in before)
        state = http.post("/_sim/mempool", params={"add": 3000}).json()
        assert state["traffic_made"] == 3000
        txids = http.get("/api/mempool/txids").json()
        assert len(txids) == len(before) + 3000
        assert http.get("/api/mempool").json()["count"] == len(txids)
        new = [t for t in txids if t not in set(before)]
        recent = http.get("/api/mempool/recent").json()
        assert [r["txid"] for r in recent] == new[::-1][:10]
        tx = http.get(f"/api/tx/{new[0]}").json()
        assert tx["status"] == {"confirmed": False} and tx["fee"] > 0
        assert parse_tx_hex(http.get(f"/api/tx/{new[0]}/hex").text).txid == new[0]
        spends = http.get(f"/api/tx/{new[0]}/outspends").json()
        assert len(spends) == len(tx["vout"])
        bulk = http.get("/api/txs/outspends", params={"txids": ",".join(new[:50])}).json()
        assert len(bulk) == 50 and bulk[0] == spends
        # Simulated time at a rate: 2 tx/s for 100 s is 200 more.
        http.post("/_sim/mempool", params={"rate": 2})
        http.post("/_sim/time", params={"seconds": 100})
        assert len(http.get("/api/mempool/txids").json()) == len(txids) + 200
        for bad in ({"add": -1}, {"add": "lots"}, {"add": 1.5}, {"rate": "-2"}):
            reply = http.post("/_sim/mempool", params=bad)
            assert reply.status_code == 400, bad
    assert quiet_server.add_mempool(1000) == len(chain.mempool())
    assert quiet_server.advance_time(10) == chain.clock
    oldest = [e.txid for e in chain.mempool() if e.plan is not None and e.plan.height < 0][:100]
    quiet_server.advance()
    assert all(chain.tx(t) is not None and chain.tx(t).block is chain.tip for t in oldest)


def test_the_mempool_is_fed_at_its_rate_between_blocks(quiet: MainnetChain) -> None:
    quiet.set_rate(5)
    start = len(quiet.mempool())
    quiet.advance_time(600)
    assert len(quiet.mempool()) == start + 3000
    with pytest.raises(InputError):
        quiet.advance_time(-1)
    with pytest.raises(InputError):
        quiet.add_mempool(-5)


def test_time_control_needs_the_mainnet_profile(server: SimServer) -> None:
    reply = httpx.post(server.base_url + "/_sim/time", params={"seconds": 10})
    assert reply.status_code == 400 and "mainnet" in reply.text
    with pytest.raises(Exception, match="mainnet"):
        server.advance_time(10)


def test_small_profile_mempool_injection_is_unrelated_noise(server: SimServer) -> None:
    """On the small profile ``/_sim/mempool?add=N`` injects sim/noise.py's fan-out instead."""
    before = len(server.chain.mempool())
    reply = httpx.post(server.base_url + "/_sim/mempool", params={"add": 10})
    assert reply.status_code == 200 and reply.json()["added"] >= 10
    assert len(server.chain.mempool()) == before + reply.json()["added"]
    assert httpx.post(server.base_url + "/_sim/mempool", params={"add": "x"}).status_code == 400


# -- hot wallets with 100,000+ transactions --------------------------------------------------


def test_hot_wallet_history_is_paged_like_esplora(
    quiet_server: SimServer, truth: dict[str, Any]
) -> None:
    chain = quiet_server.chain
    assert isinstance(chain, MainnetChain)
    quiet_server.add_mempool(2000)
    quiet_server.advance(2)  # consolidations and batches touch the hot wallet in the chain too
    address = truth["exchanges"][0]["hot_wallets"][0]
    script = Address.parse(address, chain.network).script
    rec = chain.address(script)
    assert rec is not None and isinstance(rec.history, HistoryView)
    history = rec.history
    n = len(history)
    assert n >= 100_000 + len(history.live)
    with httpx.Client(base_url=quiet_server.url, timeout=30) as http:
        info = http.get(f"/address/{address}").json()
        assert info["chain_stats"]["tx_count"] == n
        utxo = http.get(f"/address/{address}/utxo").json()
        balance = (
            info["chain_stats"]["funded_txo_sum"] - info["chain_stats"]["spent_txo_sum"]
            + info["mempool_stats"]["funded_txo_sum"] - info["mempool_stats"]["spent_txo_sum"]
        )  # fmt: skip
        assert sum(u["value"] for u in utxo) == balance

        def ids(items: list[dict[str, Any]]) -> list[str]:
            return [t["txid"] for t in items]

        first = http.get(f"/address/{address}/txs").json()
        mempool = [e.txid for e in rec.mempool[::-1][:50]]
        assert ids(first) == mempool + [history[n - 1 - i].txid for i in range(25)]
        # Deep in the ancient part, at the seam and at the very end.
        for k in (60_000, history.ancient.n, 30, 0):
            last_seen = history[k].txid
            page = http.get(f"/address/{address}/txs/chain/{last_seen}").json()
            assert ids(page) == [history[i].txid for i in range(k - 1, max(-1, k - 26), -1)]
            for tx in page:
                assert tx["status"]["confirmed"] is True
                assert tx["status"]["block_height"] < chain.base_height
                touched = [o.get("scriptpubkey_address") for o in tx["vout"]]
                touched += [(i["prevout"] or {}).get("scriptpubkey_address") for i in tx["vin"]]
                assert address in touched
        sweep = history[40_000]  # even index: a sweep into the hot wallet, spent by the next
        spends = http.get(f"/tx/{sweep.txid}/outspends").json()
        assert spends[0]["spent"] and spends[0]["txid"] == history[40_001].txid
        assert http.get(f"/tx/{history[40_001].txid}/hex").text == history[40_001].raw.hex()
    assert len(history.ancient._entries) < 1_000  # nothing like the whole history was made


# -- the story inside the traffic ---------------------------------------------------------------


@pytest.mark.parametrize("event", ["payments", "first sweep", "peel", "coinjoin"])
def test_the_vastaamo_story_runs_inside_mainnet_blocks(
    story: VastaamoScenario, truth: dict[str, Any], event: str
) -> None:
    chain_truth = {
        "payments": min(p["height"] for p in truth["payments"] if p["height"] is not None),
        "first sweep": truth["sweeps"][0]["height"],
    }
    if event in chain_truth:
        height = chain_truth[event]
    else:
        txid = truth["peels"][-1]["txid"] if event == "peel" else truth["coinjoin_txid"]
        scenario_block = next(b for b in story.blocks if any(t.txid == txid for t in b.txs))
        height = scenario_block.height
    chain = mainnet_chain(
        story, profile=MainnetProfile(mempool_backlog=3_000, hot_history=0), tip=height - 1
    )
    planned = next(b for b in story.blocks if b.height == height and not b.stale)
    story_txids = [t.txid for t in planned.txs[1:]]
    in_mempool = {e.txid for e in chain.mempool()}
    assert set(story_txids) <= in_mempool  # waiting among thousands of unrelated ones
    assert len(in_mempool) > 3_000
    chain.advance()
    tip = chain.tip
    assert tip.height == height and len(tip.entries) > 2_000
    for txid in story_txids:
        entry = chain.tx(txid)
        assert entry is not None and entry.block is tip
    for p in truth["payments"]:
        if p["height"] == height:
            entry = chain.tx(p["txid"])
            assert entry is not None
            script, value = entry.outs[p["vout"]]
            assert value == p["value_sat"]
            assert Address.parse(p["address"], chain.network).script == script
    for s in truth["sweeps"]:
        if s["height"] == height:
            for outpoint in s["outpoints"]:
                txid, vout = outpoint.split(":")
                spender = chain.outspend(txid, int(vout))
                assert spender is not None and spender[0].txid == s["txid"]


# -- the command line ----------------------------------------------------------------------------


def test_generate_mainnet_writes_mainnet_blocks(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["sim", "generate", "-o", str(tmp_path), "--victims", "6", "--background", "1",
            "--profile", "mainnet", "--blocks", "1", "--mempool-backlog", "4000",
            "--format", "raw"]  # fmt: skip
    result = runner.invoke(btcwatch_app, args)
    assert result.exit_code == 0, result.output
    raws = sorted(tmp_path.glob("*.raw"), key=lambda p: int(p.name.split("-")[0]))
    last = parse_block(raws[-1].read_bytes())
    assert len(last.txs) > 2_000 and 1_500_000 <= len(raws[-1].read_bytes()) <= 2_000_000
    assert (tmp_path / "ground-truth.json").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["sim", "generate", "-o", "x", "--profile", "testnet3"],
        ["sim", "serve", "--profile", "mainnet", "--mempool-rate", "-1"],
        ["sim", "serve", "--profile", "mainnet", "--mempool-backlog", "-5"],
        ["sim", "generate", "-o", "x", "--profile", "mainnet", "--blocks", "-1"],
    ],
)
def test_bad_profile_input_exits_2_with_one_line(args: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(btcwatch_app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("btcwatch: error: "), result.output


def test_a_reorg_inside_traffic_stays_valid(quiet: MainnetChain) -> None:
    quiet.add_mempool(2_500)
    quiet.advance()
    stream = [e.txid for e in quiet.tip.entries[1:] if e.plan is not None and e.plan.height < 0]
    dropped = stream[-1]  # a leaf: nothing later in the block spends it
    quiet.reorg(1, drop=[dropped])
    assert quiet.tx(dropped) is not None and quiet.tx(dropped).block is None  # back in mempool
    quiet.advance()
    entry = quiet.tx(dropped)
    assert entry is not None and entry.block is quiet.tip
    blocks = list(quiet.best_blocks())
    check_chain((b.serialize() for b in blocks), blocks[0].height, quiet.network, op_return=True)


def test_serve_mainnet_over_a_real_socket(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    code = "from btcwatch.cli.sim import app; app()"
    args = ["serve", "--profile", "mainnet", "--victims", "6", "--background", "1",
            "--mempool-backlog", "500", "--mempool-rate", "2", "--hot-history", "1000"]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().rsplit(" ", 1)[1]
        base = url.removesuffix("/api")
        assert len(httpx.get(f"{url}/mempool/txids").json()) >= 500
        state = httpx.post(f"{base}/_sim/mempool", params={"add": 100}).json()
        assert state["traffic_made"] == 600 and state["mempool_rate"] == 2
        assert httpx.post(f"{base}/_sim/time", params={"seconds": 50}).json()["traffic_due"] == 700
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_the_product_parses_every_mainnet_shape(busy: MainnetChain, truth: dict[str, Any]) -> None:
    from btcwatch.providers.esplora_parse import parse_address_stats, parse_outspends, parse_tx

    assert busy.traffic is not None
    made = busy.traffic.made[: busy.mempool_state()["traffic_made"]]
    sample = {}
    for tx in made:
        sample.setdefault(tx.kind, tx)
    assert set(sample) >= {"payment", "deposit", "batch", "consolidation", "inscription"}
    address = truth["exchanges"][1]["hot_wallets"][0]
    hot = busy.address(Address.parse(address, busy.network).script)
    assert hot is not None
    ancient = [hot.history[0].txid, hot.history[1].txid, hot.history[77_777].txid]
    with SimServer(busy) as srv, httpx.Client(base_url=srv.url, timeout=30) as http:
        for txid in [t.txid for t in sample.values()] + ancient:
            body = http.get(f"/tx/{txid}").json()
            parsed = parse_tx(body, busy.network)  # checks the fee against the prevouts too
            raw = parse_tx_hex(http.get(f"/tx/{txid}/hex").text)
            assert parsed.txid == raw.txid == txid
            assert [o.value for o in parsed.outputs] == [o.value for o in raw.outputs]
            assert len(parse_outspends(http.get(f"/tx/{txid}/outspends").json())) == len(
                raw.outputs
            )
        stats = parse_address_stats(http.get(f"/address/{address}").json())
        assert stats.tx_count == len(hot.history) > 100_000


def test_ground_truth_names_this_chains_reorg_blocks(
    story: VastaamoScenario, truth: dict[str, Any]
) -> None:
    chain = mainnet_chain(story, profile=MainnetProfile(mempool_backlog=500, mempool_rate=0.5))
    reorg = truth["reorg"]
    assert chain.ground_truth(truth)["reorg"]["stale_block_hash"] is None  # not mined yet
    chain.advance_to(reorg["height"])
    stale = chain.tip_hash
    assert chain.ground_truth(truth)["reorg"]["stale_block_hash"] == stale
    assert chain.tx(reorg["txid"]) is not None and chain.tx(reorg["txid"]).block is chain.tip
    chain.advance()
    mine = chain.ground_truth(truth)["reorg"]
    assert mine["stale_block_hash"] == stale != mine["best_block_hash"]
    assert chain.block_at(reorg["height"]).hash == mine["best_block_hash"]  # type: ignore[union-attr]
    assert chain.block(stale) is not None and not chain.block(stale).best  # type: ignore[union-attr]
    confirmed = chain.tx(reorg["txid"])
    assert confirmed is not None and confirmed.block is not None
    assert confirmed.block.height == reorg["best_confirmed_height"]
    assert mine["height"] == reorg["height"] and truth["reorg"]["stale_block_hash"] != stale
