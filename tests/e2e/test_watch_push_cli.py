"""`btcwatch watch --interval 60` as a child process: a payment is alerted by push within
seconds, long before the next poll; SIGTERM still stops it cleanly. Nothing is timed: the test
waits for conditions, and "long before the next poll" is the 60 s interval itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from btcwatch.chain.address import Address
from btcwatch.chain.tx import RawTx, RawTxIn, RawTxOut
from btcwatch.intake import add_addresses, create_case
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.sim.ws import hub_of
from btcwatch.store import Store

REPO = Path(__file__).resolve().parents[2]
WAIT = 50.0  # below the 60 s interval: a condition met in time was not met by the timer


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while not (found := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)
    return found


def alerts(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_the_cli_daemon_alerts_a_payment_by_push_and_stops_on_sigterm(tmp_path: Path) -> None:
    scenario = vastaamo(victims=5, seed=11, background=1)
    truth = scenario.ground_truth()
    chain = SimChain.from_scenario(scenario, tip=truth["start_tip_height"])
    addresses = [r["address"] for r in truth["ransom_addresses"]]
    db = tmp_path / "case.db"
    with Store.open(db) as store:
        create_case(store, "vastaamo")
        add_addresses(store, "vastaamo", addresses)
    sink = tmp_path / "alerts.jsonl"
    config = tmp_path / "empty.toml"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BTCWATCH_")}
    env["BTCWATCH_CONFIG"] = str(config)
    with SimServer(chain) as server:
        command = [sys.executable, "-m", "btcwatch", "--db", str(db), "watch", "--case"]
        command += ["vastaamo", "--explorer", server.url, "--interval", "60"]
        command += ["--alert", f"jsonl:{sink}"]
        daemon = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            hub = hub_of(server)
            wait_for(lambda: any(hub.tracked()), "the subscription")
            wait_for(lambda: server.requests.total() > 0, "the first poll")
            time.sleep(1.5)  # let the connection's reconciliation cycle pass (not asserted)
            coinbase = chain.tip.entries[0]
            script, have = coinbase.outs[0]
            txin = RawTxIn(coinbase.txid, 0, b"", 0xFFFFFFFD, (bytes(71), bytes(33)))
            paid = RawTxOut(300_000, Address.parse(addresses[0], chain.network).script)
            tx = RawTx(2, (txin,), (paid, RawTxOut(have - 302_000, script)), 0)
            txid = chain.broadcast(tx.serialize().hex())
            found = wait_for(
                lambda: [a for a in alerts(sink) if a.get("txid") == txid],
                "the payment's alert",
            )
            daemon.send_signal(signal.SIGTERM)
            out, err = daemon.communicate(timeout=WAIT)
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.communicate()
    assert daemon.returncode == 0, err
    assert [a["kind"] for a in found] == ["payment_received"]
    assert found[0]["address"] == addresses[0]
    assert out == ""
    assert "push: subscribed at ws://127.0.0.1:" in err
    assert "Traceback" not in err
