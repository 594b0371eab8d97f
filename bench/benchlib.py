"""What the benchmarks share: result tables, the simulator in a child process, a watched case.

The simulator runs in its own process (its own interpreter, so it does not share the watcher's
GIL), small profile or mainnet profile, controlled over its ``/_sim/`` routes; the watcher runs
in the benchmark's process as ``btcwatch watch --once`` would (`run_watch`, one cycle a call).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import httpx

from btcwatch.chain.address import script_to_address
from btcwatch.chain.network import MAINNET
from btcwatch.intake import add_addresses, create_case
from btcwatch.providers import PoolSettings
from btcwatch.sim import SimChain, SimServer, vastaamo
from btcwatch.sim.mainnet import mainnet_chain, mainnet_scenario
from btcwatch.store import Store
from btcwatch.store.cases import insert_addresses
from btcwatch.watch.runner import CycleReport, WatchOptions
from btcwatch.watch.service import WatchRun, run_watch

SEED = 2020
CASE = "bench"
Profile = Literal["small", "mainnet"]


@dataclass(slots=True)
class Table:
    """One benchmark's figures: printed as aligned text, written as Markdown."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: list[tuple[str, str]] = field(default_factory=list)  # (figure, result) headlines
    left: int = 1  # columns aligned left (text); the rest are numbers, aligned right

    def text(self) -> str:
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

        def line(cells: Sequence[str]) -> str:
            padded = [
                cell.ljust(w) if i < self.left else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
            ]
            return "  ".join(padded).rstrip()

        out = [self.title, line(self.columns), "  ".join("-" * w for w in widths)]
        out.extend(line(row) for row in self.rows)
        out.extend(f"  {note}" for note in self.notes)
        return "\n".join(out)

    def markdown(self) -> str:
        out = [f"### {self.title}", ""]
        out.append("| " + " | ".join(self.columns) + " |")
        align = [":---" if i < self.left else "---:" for i in range(len(self.columns))]
        out.append("|" + "|".join(align) + "|")
        out.extend("| " + " | ".join(row) + " |" for row in self.rows)
        if self.notes:
            out.append("")
            out.extend(f"- {note}" for note in self.notes)
        return "\n".join(out)


def _serve(conn: Connection, victims: int, background: int, tip: str, profile: str) -> None:
    """Child process: generate the scenario, serve it, hand back the URL and ground truth."""
    start: Literal["start", "end"] = "end" if tip == "end" else "start"
    chain: SimChain
    if profile == "mainnet":
        story = mainnet_scenario(victims, SEED, background=background)
        chain = mainnet_chain(story, tip=start)
        truth = chain.ground_truth(story.ground_truth())
    else:
        scenario = vastaamo(victims=victims, seed=SEED, background=background)
        chain = SimChain.from_scenario(scenario, tip=start)
        truth = scenario.ground_truth()
    with SimServer(chain) as server:
        conn.send((server.url, truth))
        conn.recv()  # any message (or the parent going away) stops the server


class SimProcess:
    """The simulator's Esplora server in its own process; controlled over its /_sim/ routes."""

    def __init__(
        self, victims: int, background: int = 5, tip: str = "start", profile: Profile = "small"
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve,
            args=(child, victims, background, tip, profile),
            name="bench-sim",
            daemon=True,
        )
        self.profile = profile
        self.url = ""
        self.truth: dict[str, Any] = {}

    def __enter__(self) -> SimProcess:
        self._proc.start()
        try:
            if not self._conn.poll(300):
                raise RuntimeError("the simulator did not start within 300 s")
            self.url, self.truth = self._conn.recv()
        except (EOFError, RuntimeError) as exc:
            self._proc.kill()
            self._proc.join()
            code = self._proc.exitcode
            raise RuntimeError(f"the simulator failed to start (exit code {code})") from exc
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with contextlib.suppress(OSError):  # the child may already be gone
            self._conn.send(None)
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()

    def _post(self, route: str, **params: float) -> Any:
        args = {k: str(v) for k, v in params.items()}
        reply = httpx.post(f"{self.url}{route}", params=args, timeout=120)
        reply.raise_for_status()
        return reply.json()

    def advance(self, blocks: int = 1) -> int:
        return int(self._post("/_sim/advance", blocks=blocks)["tip_height"])

    def add_mempool(self, count: int) -> None:
        self._post("/_sim/mempool", add=count)

    def advance_time(self, seconds: float) -> dict[str, Any]:
        """Mainnet profile: move simulated time; ``rate x seconds`` transactions arrive."""
        state: dict[str, Any] = self._post("/_sim/time", seconds=seconds)
        return state

    def mempool_state(self) -> dict[str, Any]:
        """Mainnet profile: the clock, the rate, the traffic made and the mempool's size."""
        reply = httpx.get(f"{self.url}/_sim/mempool", timeout=120)
        reply.raise_for_status()
        state: dict[str, Any] = reply.json()
        return state

    def route_counts(self) -> Counter[str]:
        """Requests the simulator has answered, by route (its control routes left out)."""
        reply = httpx.get(f"{self.url}/_sim/state", timeout=120)
        reply.raise_for_status()
        counts = reply.json().get("requests", {})
        return Counter({k: int(v) for k, v in counts.items() if "/_sim" not in k})

    def tip_height(self) -> int:
        reply = httpx.get(f"{self.url}/blocks/tip/height", timeout=60)
        reply.raise_for_status()
        return int(reply.text)

    def ransom_addresses(self) -> list[str]:
        return [r["address"] for r in self.truth["ransom_addresses"]]


def fmt_int(n: float) -> str:
    return f"{round(n):,}"


def filler_rows(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Watchlist rows for random, never-used P2WPKH addresses (what a big case adds)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        script = b"\x00\x14" + rng.randbytes(20)
        address = script_to_address(script, MAINNET)
        rows.append(
            {
                "case_name": CASE,
                "address": address,
                "script_hex": script.hex(),
                "script_type": "p2wpkh",
                "role": "other",
                "label": "",
                "note": "",
                "demand": None,
                "source": "bench",
            }
        )
    return rows


def make_case(db: Path, ransom: Sequence[str], fillers: Sequence[dict[str, Any]]) -> None:
    with Store.open(db) as store:
        create_case(store, CASE)
        add_addresses(store, CASE, list(ransom), demand="200EUR then 500EUR after 24h")
        if fillers:
            insert_addresses(store, list(fillers))


def watch_once(
    db: Path, url: str, mode: str, from_height: int | None = None, mempool: str = "hot"
) -> CycleReport:
    options = WatchOptions(CASE, mode, from_height=from_height, mempool=mempool)
    reports = run_watch(db, WatchRun(options, alerts=[], pool=PoolSettings(explorers=(url,))))
    return reports[-1]
