"""Issue 13: a simulated case's bundle verifies offline, tampering is caught, replay reproduces.

One module-wide session runs the case as a user would, through the CLI, against the simulator
on loopback: case, addresses, tags, one watch cycle, a trace, the report, the evidence bundle
(which fetches the Merkle proofs). The simulator is then stopped and the same commands are run
again in a fresh database against ``--explorer replay:BUNDLE``. The local clock is fixed in both
sessions: the times at which btcwatch itself ran are the only thing a replay cannot know.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from casebuild import tagpack
from typer.testing import CliRunner

from btcwatch.cli import app
from btcwatch.errors import BtcwatchError
from btcwatch.proofs import ensure_proofs
from btcwatch.providers import HttpOptions
from btcwatch.providers.factory import make_provider
from btcwatch.report.bundle import MANIFEST, _manifest
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.store import Store
from btcwatch.store.chaindata import load_txs
from btcwatch.store.evidence import EvidenceLog
from btcwatch.store.proofs import all_txids
from btcwatch.verify import no_network, verify_bundle

CASE = "v"
FIXED = "2026-11-29T18:30:00Z"
CLOCKED = ("cases", "events", "traces", "chaindata", "watchstate", "tags", "proofs")


def cli(db: Path, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, ["--db", str(db), *args], env={})
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    return result


def _session(db: Path, explorer: str, addresses: list[str], tags: Path) -> tuple[str, str]:
    cli(db, "case", "create", CASE)
    cli(db, "add", "--case", CASE, *addresses, "--demand", "200EUR")
    cli(db, "tags", "import", str(tags))
    cli(db, "watch", "--case", CASE, "--once", "--mode", "address", "--explorer", explorer)
    traced = cli(db, "trace", "--case", CASE, "--json", "--explorer", explorer).stdout
    report = cli(db, "report", "--case", CASE, "--format", "json").stdout
    return traced, report


async def _proof_cost(db: Path, url: str) -> dict[str, int]:
    """Proofs for every tx of a freshly watched case: requests, twice (the second is cached)."""
    with Store.open(db) as store:
        txids = all_txids(store)
        blocks = {t.block.hash for t in load_txs(store, txids).values() if t.block}
        log = EvidenceLog()
        provider = make_provider(url, HttpOptions(rate=math.inf, on_evidence=log))
        try:
            first = await ensure_proofs(store, txids, provider=provider, log=log)
            before = provider.requests
            second = await ensure_proofs(store, txids, provider=provider, log=log)
            again = provider.requests - before
        finally:
            await provider.aclose()
    return {
        "txs": len(txids),
        "blocks": len(blocks),
        "requests": first.requests,
        "proven": len(first.proven),
        "second_requests": again,
        "second_proven": len(second.proven),
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("verify")
    scenario = vastaamo(victims=20, seed=2020, background=3)
    truth = scenario.ground_truth()
    addresses = [r["address"] for r in truth["ransom_addresses"]]
    tags = tmp / "tags.yaml"
    tags.write_text(yaml.safe_dump(tagpack(truth)), encoding="utf-8")
    bundle = tmp / "bundle"
    with pytest.MonkeyPatch.context() as mp:
        for module in CLOCKED:
            mp.setattr(f"btcwatch.store.{module}.now_iso", lambda: FIXED)
        with SimServer(SimChain.from_scenario(scenario, tip="end")) as server:
            original = _session(tmp / "a.db", server.url, addresses, tags)
            made = cli(
                tmp / "a.db", "evidence", "--case", CASE, "-o", str(bundle),
                "--explorer", server.url, "--simulated",
            )  # fmt: skip
            fresh = tmp / "cost.db"
            cli(fresh, "case", "create", CASE)
            cli(fresh, "add", "--case", CASE, *addresses)
            cli(fresh, "watch", "--case", CASE, "--once", "--mode", "address",
                "--explorer", server.url)  # fmt: skip
            cost = asyncio.run(_proof_cost(fresh, server.url))
        # the explorer is gone from here on
        replayed = _session(tmp / "r.db", f"replay:{bundle}", addresses, tags)
    yield {
        "tmp": tmp,
        "bundle": bundle,
        "original": original,
        "replayed": replayed,
        "made": made,
        "cost": cost,
    }


def test_trace_and_report_replayed_from_the_bundle_are_byte_identical(world: Any) -> None:
    (trace_a, report_a), (trace_r, report_r) = world["original"], world["replayed"]
    assert trace_r == trace_a
    assert report_r == report_a
    assert json.loads(trace_a)["requests"] > 0  # the replay really answered the requests


def test_replay_fails_loudly_on_anything_not_recorded(world: Any, tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    unknown = "ab" * 32
    result = cli(db, "trace", unknown, "--explorer", f"replay:{world['bundle']}", code=1)
    assert "not recorded in the bundle" in result.stderr
    assert result.stderr.count("\n") == 1
    assert cli(db, "trace", unknown, "--explorer", "replay:/nonexistent", code=2).stderr


def test_the_bundle_verifies_offline_with_every_tx_proven(world: Any) -> None:
    assert "transactions proven in a block" in world["made"].stderr
    result = cli(Path("unused.db"), "verify", str(world["bundle"]), "--json")
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["problems"] == []
    assert doc["txs_total"] > 20 and doc["txs_proven"] == doc["txs_total"]
    assert doc["simulated"] is True and doc["figures_checked"] > 100
    assert sum(doc["heights"].values()) > 0
    text = cli(Path("unused.db"), "verify", str(world["bundle"])).stdout
    assert text.startswith("OK: ") and "simulated chain" in text


@pytest.mark.usefixtures("socket_disabled")
def test_verify_needs_no_network_at_all(world: Any) -> None:
    # pytest-socket forbids every socket here (loopback too); verify must not even try
    assert verify_bundle(world["bundle"]).ok
    with no_network(), pytest.raises(BtcwatchError, match="no network"):
        __import__("socket").create_connection(("127.0.0.1", 9))


def test_the_bundle_describes_itself(world: Any) -> None:
    readme = (world["bundle"] / "README.txt").read_text(encoding="utf-8")
    assert "sha256sum -c MANIFEST.sha256" in readme and "btcwatch verify" in readme
    meta = json.loads((world["bundle"] / "bundle.json").read_text(encoding="utf-8"))
    assert meta["btcwatch_version"] in readme and meta["btcwatch_commit"] in readme
    assert meta["simulated"] is True and meta["case"] == CASE


def test_the_report_marks_each_transaction_proven_or_not(world: Any) -> None:
    report = json.loads(world["original"][1])
    statuses = {p["status"] for p in report["proofs"]}
    # a mainnet case on the simulator: honest about the simulator's regtest proof of work
    assert statuses and all("simulated chain" in s for s in statuses)
    bundled = json.loads((world["bundle"] / "report.json").read_text(encoding="utf-8"))
    assert {p["txid"] for p in bundled["proofs"]} >= {p["txid"] for p in bundled["payments"]}


def test_proofs_cost_one_request_per_tx_and_one_per_block_once(world: Any) -> None:
    cost = world["cost"]
    assert cost["proven"] == cost["txs"] > 0
    assert cost["requests"] == cost["txs"] + cost["blocks"]  # raw bytes come from the JSON
    assert cost["second_requests"] == 0 and cost["second_proven"] == cost["txs"]


# --- tampering: the forger rewrites the manifest to match, verify still says no ------------


@pytest.fixture
def forged(world: Any, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(world["bundle"], copy)
    return copy


def _reseal(root: Path) -> None:
    (root / MANIFEST).write_text(_manifest(root), encoding="utf-8")


def _db(root: Path) -> sqlite3.Connection:
    return sqlite3.connect(root / "database" / "btcwatch.sqlite")


def _verify_fails(root: Path, *expected: str) -> str:
    result = cli(Path("unused.db"), "verify", str(root), code=1)
    for text in expected:
        assert text in result.stdout, (text, result.stdout)
    assert result.stderr.startswith("btcwatch: error: the bundle does not verify")
    return str(result.stdout)


def _a_payment(root: Path) -> tuple[str, int]:
    with _db(root) as conn:
        row = conn.execute(
            "SELECT txid, vout FROM watched_outputs ORDER BY txid LIMIT 1"
        ).fetchone()
    conn.close()
    return str(row[0]), int(row[1])


def test_a_changed_value_in_one_raw_answer_is_caught(forged: Path) -> None:
    txid, _ = _a_payment(forged)
    answer = next(
        p for p in sorted((forged / "responses").glob("E*.json")) if txid in p.read_text()
    )
    obj = json.loads(answer.read_text(encoding="utf-8"))
    text = answer.read_text(encoding="utf-8")
    value = next(o["value"] for tx in (obj if isinstance(obj, list) else [obj]) for o in tx["vout"])
    answer.write_text(text.replace(f'"value":{value}', f'"value":{value + 1}', 1))
    assert answer.read_text() != text
    _reseal(forged)
    _verify_fails(forged, answer.name.split("-")[0], "the raw answer was changed")


def test_a_changed_raw_answer_rewritten_in_the_database_too_is_caught(forged: Path) -> None:
    txid, vout = _a_payment(forged)
    with _db(forged) as conn:
        ev_id, body = conn.execute(
            "SELECT e.id, e.body FROM evidence e JOIN transactions t ON t.evidence_id = e.id "
            "WHERE t.txid = ?",
            [txid],
        ).fetchone()
        obj = json.loads(body)
        for tx in obj if isinstance(obj, list) else [obj]:
            if tx["txid"] == txid:
                tx["vout"][vout]["value"] += 1
        new = json.dumps(obj).encode()
        conn.execute(
            "UPDATE evidence SET body = ?, sha256 = ? WHERE id = ?",
            [new, hashlib.sha256(new).hexdigest(), ev_id],
        )
    conn.close()
    _reseal(forged)
    # re-parsing the answer shows the lie (here: the stated fee no longer adds up), and the
    # answer's new SHA-256 differs from the one the report and responses/index.csv cite
    _verify_fails(
        forged,
        f"E{ev_id} (",
        f"E{ev_id}: index.csv and the database disagree on its SHA-256",
        "report.json evidence[",
    )


def test_a_changed_value_in_one_database_row_is_caught(forged: Path) -> None:
    txid, vout = _a_payment(forged)
    with _db(forged) as conn:
        conn.execute(
            "UPDATE tx_outputs SET value_sat = value_sat + 100000 WHERE txid = ? AND vout = ?",
            [txid, vout],
        )
    conn.close()
    _reseal(forged)
    _verify_fails(
        forged,
        f"tx {txid} output {vout}: the proven raw tx says",
        f"watched output {txid}:{vout}: recorded",  # the payment no longer matches its tx
    )


def test_a_removed_transaction_is_caught(forged: Path) -> None:
    txid, _ = _a_payment(forged)
    with _db(forged) as conn:
        for table in ("tx_inputs", "tx_outputs", "tx_proofs", "transactions"):
            conn.execute(f"DELETE FROM {table} WHERE txid = ?", [txid])
    conn.close()
    _reseal(forged)
    _verify_fails(forged, f"tx {txid} is named by the case but not in the database")


def test_a_swapped_header_is_caught(forged: Path) -> None:
    with _db(forged) as conn:
        (a, _), (b, other) = conn.execute(
            "SELECT hash, header_hex FROM block_headers ORDER BY height LIMIT 2"
        ).fetchall()
        conn.execute("UPDATE block_headers SET header_hex = ? WHERE hash = ?", [other, a])
    conn.close()
    _reseal(forged)
    _verify_fails(forged, f"header stored for block {a} hashes to {b}")


def test_a_forged_merkle_branch_is_caught(forged: Path) -> None:
    txid, _ = _a_payment(forged)
    with _db(forged) as conn:
        (merkle,) = conn.execute("SELECT merkle FROM tx_proofs WHERE txid = ?", [txid]).fetchone()
        branch = json.loads(merkle)
        branch[0] = ("1" if branch[0][0] != "1" else "2") + branch[0][1:]
        conn.execute("UPDATE tx_proofs SET merkle = ? WHERE txid = ?", [json.dumps(branch), txid])
    conn.close()
    _reseal(forged)
    _verify_fails(forged, f"tx {txid} is not proven: the Merkle branch leads to")


def test_a_mangled_table_fails_in_one_line(forged: Path) -> None:
    with _db(forged) as conn:
        conn.execute("UPDATE tx_proofs SET merkle = 'not json'")
    conn.close()
    _reseal(forged)
    result = cli(Path("unused.db"), "verify", str(forged), code=1)
    assert result.stderr.startswith("btcwatch: error: ") and result.stderr.count("\n") == 1


def test_a_bundle_missing_a_file_fails(forged: Path) -> None:
    (forged / "report.md").unlink()
    _verify_fails(forged, "report.md is listed in MANIFEST.sha256 but missing")
    shutil.rmtree(forged / "database")
    _reseal(forged)
    _verify_fails(forged, "database/btcwatch.sqlite is missing from the bundle")


def test_a_corrupt_database_fails_in_one_line(forged: Path) -> None:
    db = forged / "database" / "btcwatch.sqlite"
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    db.write_bytes(bytes(data))
    _reseal(forged)
    result = cli(Path("unused.db"), "verify", str(forged), code=1)
    assert result.stdout == ""
    assert result.stderr.startswith("btcwatch: error: ") and result.stderr.count("\n") == 1
    db.write_bytes(b"not a database at all")
    _reseal(forged)
    again = cli(Path("unused.db"), "verify", str(forged), "--json", code=1)
    assert again.stderr.startswith("btcwatch: error: ") and again.stderr.count("\n") == 1


def test_verify_refuses_what_is_not_a_bundle(tmp_path: Path) -> None:
    result = cli(Path("unused.db"), "verify", str(tmp_path / "nope"), code=2)
    assert result.stderr.startswith("btcwatch: error: ") and "not a folder" in result.stderr
