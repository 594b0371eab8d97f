"""`btcwatch sim generate` and `serve`, checked with the library, not by scraping output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from typer.testing import CliRunner

from btcwatch.chain.tx import BLK_MAGICS, iter_blk_records, parse_block, parse_tx_hex
from btcwatch.cli.sim import app

runner = CliRunner()


def test_generate_writes_blocks_and_ground_truth(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["generate", "-o", str(tmp_path), "--victims", "6", "--background", "1"]
    )
    assert result.exit_code == 0, result.output
    truth = json.loads((tmp_path / "ground-truth.json").read_text())
    data = (tmp_path / "blk00000.dat").read_bytes()
    blocks = [parse_block(raw) for raw in iter_blk_records(data, BLK_MAGICS["mainnet"])]
    best = [b for b in blocks if b.hash != truth["reorg"]["stale_block_hash"]]
    assert len(best) == truth["last_height"] - truth["first_height"] + 1
    assert sum(len(b.txs) for b in best) == truth["tx_count"]
    assert (tmp_path / "exchanges.tagpack.yaml").read_text().startswith("title:")
    lines = (tmp_path / "mempool-only.hex").read_text().split()
    assert truth["rbf"]["replaced_txid"] in {parse_tx_hex(line).txid for line in lines}


def test_generate_raw_files_and_bad_input(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["generate", "-o", str(tmp_path), "--victims", "2", "--background", "0",
              "--format", "raw", "--network", "regtest"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    raws = sorted(tmp_path.glob("*.raw"))
    assert raws and all(parse_block(p.read_bytes()).hash in p.name for p in raws)
    bad = runner.invoke(app, ["generate", "-o", str(tmp_path), "--scenario", "wannacry"])
    assert bad.exit_code != 0
    assert "unknown scenario" in str(bad.exception)


def test_help_texts() -> None:
    for command in ([], ["serve"], ["generate"]):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0
        assert "Usage" in result.output


def test_serve_prints_its_url_and_stops_on_sigterm(tmp_path: Path) -> None:
    truth_path = tmp_path / "gt.json"
    code = "from btcwatch.cli.sim import app; app()"
    args = ["serve", "--victims", "6", "--background", "1", "--port", "0",
            "--ground-truth", str(truth_path), "--faults", "0",
            "--tagpack", str(tmp_path / "tags.yaml"),
            "--emails", str(tmp_path / "mail.txt")]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("serving Esplora API at http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        truth = json.loads(truth_path.read_text())
        mail = (tmp_path / "mail.txt").read_text()
        assert all(r["address"] in mail for r in truth["ransom_addresses"])
        assert (tmp_path / "tags.yaml").read_text().startswith("title:")
        assert httpx.get(f"{url}/blocks/tip/height").text == str(truth["start_tip_height"])
        moved = httpx.post(url.removesuffix("/api") + "/_sim/advance", params={"blocks": 2})
        assert moved.json()["tip_height"] == truth["start_tip_height"] + 2
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
