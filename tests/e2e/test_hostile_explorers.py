"""`watch --once` against an endless and a trickling explorer (issue 12, items 4 and 5).

The real CLI runs in a subprocess under a memory limit (RLIMIT_AS, so a regression cannot take
the machine), started by a small wrapper that reports the child's peak memory. Acceptance: it
ends with one `btcwatch: error:` line, exit 1, peak memory under 600 MB, within 60 s (the
subprocess timeout; a regression shows up as that timeout, not as a timed assertion).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hostile import hostile_explorer

from btcwatch.intake import add_addresses, create_case
from btcwatch.store import Store

REPO = Path(__file__).resolve().parents[2]
ADDRESS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
LIMIT = 1536 * 1024 * 1024  # address space; the peak resident memory must stay < 600 MB
WRAPPER = """
import json, resource, subprocess, sys
limit = int(sys.argv[1])
def cap():
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
done = subprocess.run(sys.argv[2:], preexec_fn=cap, capture_output=True, text=True)
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": done.returncode, "err": done.stderr, "peak_kb": peak_kb}))
"""


def watch_once(tmp: Path, url: str) -> dict[str, object]:
    db = tmp / "case.db"
    with Store.open(db) as store:
        create_case(store, "c")
        add_addresses(store, "c", [ADDRESS])
    config = tmp / "empty.toml"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BTCWATCH_")}
    env["BTCWATCH_CONFIG"] = str(config)
    command = [sys.executable, "-m", "btcwatch", "--db", str(db), "watch", "--once"]
    command += ["--case", "c", "--mode", "address", "--explorer", url]
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(LIMIT), *command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def check_one_line_error(result: dict[str, object], expected: str) -> None:
    err = str(result["err"]).strip()
    assert result["rc"] == 1, err
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.startswith("btcwatch: error: "), err
    assert expected in err
    assert int(str(result["peak_kb"])) < 600 * 1024


def test_endless_explorer_is_cut_off_at_the_cap(tmp_path: Path) -> None:
    with hostile_explorer("endless") as bad:
        result = watch_once(tmp_path, bad.url)
        assert bad.requests == 1
    check_one_line_error(result, "answer larger than 1024 bytes")


@pytest.mark.slow
def test_trickling_explorer_is_cut_off_at_the_deadline(tmp_path: Path) -> None:
    """One byte every 5 s: the 40 s request deadline ends it, with no retry on that explorer."""
    with hostile_explorer("trickle", every=5.0) as slow:
        result = watch_once(tmp_path, slow.url)
        assert slow.requests == 1
    check_one_line_error(result, "no complete answer within 40 s (request deadline)")
