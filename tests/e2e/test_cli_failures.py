"""Explorer failures through the CLI: one line naming the explorer, exit 1, nothing stored."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from btcwatch.cli import app
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.store import Store
from btcwatch.store.traces import list_runs

UNKNOWN_TXID = "ab" * 32


def run(db: Path, *args: str) -> tuple[int, str]:
    # Two tries per request: retries are exercised, the test does not wait out the backoff.
    result = CliRunner().invoke(app, ["--db", str(db), *args], env={"BTCWATCH_RETRIES": "2"})
    return result.exit_code, result.stderr.strip()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Garbage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"txid": "ab'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def garbage_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def assert_nothing_stored(db: Path) -> None:
    with Store.open(db) as store:
        assert store.database_for_tests().table("transactions").count == 0
        assert store.database_for_tests().table("trace_txs").count == 0
        assert all(r.status == "failed" for r in list_runs(store))


def test_unknown_tx_is_named_with_the_explorer(tmp_path: Path) -> None:
    chain = SimChain.from_scenario(vastaamo(victims=10, seed=1, background=1))
    with SimServer(chain) as server:
        code, err = run(tmp_path / "db", "trace", UNKNOWN_TXID, "--explorer", server.url)
    assert code == 1 and "\n" not in err
    assert "127.0.0.1" in err and UNKNOWN_TXID in err
    assert_nothing_stored(tmp_path / "db")


def test_unreachable_explorer(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/api"
    code, err = run(tmp_path / "db", "trace", UNKNOWN_TXID, "--explorer", url)
    assert code == 1 and "\n" not in err and url.split("/api")[0] in err
    assert_nothing_stored(tmp_path / "db")


def test_dead_proxy_fails_closed(tmp_path: Path) -> None:
    proxy = f"socks5://127.0.0.1:{closed_port()}"
    code, err = run(
        tmp_path / "db", "trace", UNKNOWN_TXID, "--explorer", "mempool", "--proxy", proxy
    )
    assert code == 1 and "\n" not in err and "proxy" in err.lower()
    assert_nothing_stored(tmp_path / "db")


def test_malformed_json(tmp_path: Path, garbage_url: str) -> None:
    code, err = run(tmp_path / "db", "trace", UNKNOWN_TXID, "--explorer", garbage_url)
    assert code == 1 and "\n" not in err and "127.0.0.1" in err
    assert_nothing_stored(tmp_path / "db")


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    assert run(tmp_path / "db", "trace", "not-an-address")[0] == 2
    assert run(tmp_path / "db", "trace", "--case", "nope")[0] == 2
    assert run(tmp_path / "db", "trace", UNKNOWN_TXID, "--taint", "magic")[0] == 2
    assert run(tmp_path / "db", "trace", UNKNOWN_TXID, "--min-value", "200EUR")[0] == 2
    assert (
        run(
            tmp_path / "db",
            "export",
            "--trace",
            "99",
            "--format",
            "graphml",
            "-o",
            str(tmp_path / "x"),
        )[0]
        == 2
    )
