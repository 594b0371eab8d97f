"""Issue 11 item 3 for exports: every fiat value in every graph format names its price.

A case placed on 2026-09-21 (after the bundled table) is watched and traced with the
simulator's mempool-compatible price API; `export` (which never fetches) then values every
confirmed edge from the store's price cache at its hour and says so in GraphML, GEXF, JSON,
Cytoscape JSON, CSV, DOT and the HTML viewer. The same story placed in 2020 and run with
``--prices offline`` is valued from the bundled daily table, and says that instead.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from simwatch import World, ransom_addresses, setup_case

from btcwatch.export import FORMATS
from btcwatch.prices import DEFAULT_SOURCE
from btcwatch.sim import SimChain, SimServer, VastaamoScenario, vastaamo
from btcwatch.sim.prices import scenario_prices, set_prices

START_2026 = datetime(2026, 9, 21, 8, 0, tzinfo=UTC)
PRICE_KEYS = ("value_eur", "price_time", "price_resolution", "price_source")
_GRAPH_DATA = re.compile(r'<script id="graph-data" type="application/json">(.*?)</script>', re.S)
_DOT_EDGE = re.compile(r'^\s*"[^"]+" -> "[^"]+" \[id="([^"]+)".*tooltip="((?:[^"\\]|\\.)*)"\];$')


def _world(tmp_path: Path, story: VastaamoScenario) -> Iterator[World]:
    truth = story.ground_truth()
    chain = SimChain.from_scenario(story, tip="end")
    db = tmp_path / "case.db"
    setup_case(db, ransom_addresses(truth))
    with SimServer(chain) as server:
        set_prices(server, scenario_prices(story))
        yield World(db, chain, server, truth)


@pytest.fixture
def world_2026(tmp_path: Path) -> Iterator[World]:
    yield from _world(tmp_path, vastaamo(victims=7, seed=2020, background=2, emails_at=START_2026))


@pytest.fixture
def world_2020(tmp_path: Path) -> Iterator[World]:
    yield from _world(tmp_path, vastaamo(victims=7, seed=2020, background=2))


def _run(world: World, *args: str, env: dict[str, str] | None = None) -> str:
    result = world.cli(*args, env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def _export_all(world: World, out: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """Every format except svg, read back: format -> edge id -> its price attributes."""
    edges: dict[str, dict[str, dict[str, Any]]] = {}
    for fmt in FORMATS:
        if fmt == "svg":  # rendered from the DOT text checked below; needs Graphviz
            continue
        target = out / ("csv" if fmt == "csv" else f"flow.{fmt}")
        _run(world, "export", "--case", "vastaamo", "--format", fmt, "-o", str(target))
        edges[fmt] = _read(fmt, target)
    return edges


def _read(fmt: str, path: Path) -> dict[str, dict[str, Any]]:
    if fmt in ("graphml", "gexf"):
        g = nx.read_graphml(path) if fmt == "graphml" else nx.read_gexf(path)
        return {
            f"{d['kind']}:{d['outpoint']}": {k: d.get(k, "") for k in (*PRICE_KEYS, "time")}
            for _, _, d in g.edges(data=True)
        }
    if fmt == "csv":
        with (path / "edges.csv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        return {
            r["Id"]: {
                "value_eur": r["Value (EUR)"],
                "price_time": r["EUR Price Time (ISO UTC)"],
                "price_resolution": r["EUR Price Resolution"],
                "price_source": r["EUR Price Source"],
                "time": int(r["Time (unix)"]),
            }
            for r in rows
        }
    if fmt == "dot":
        found: dict[str, dict[str, Any]] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if match := _DOT_EDGE.match(line):
                found[match.group(1)] = {"tooltip": match.group(2).replace("\\n", "\n")}
        return found
    text = path.read_text(encoding="utf-8")
    if fmt == "html":
        match = _GRAPH_DATA.search(text)
        assert match, "no graph data in the viewer page"
        items = json.loads(match.group(1))["graph"]["elements"]["edges"]
    elif fmt == "cyjs":
        items = json.loads(text)["elements"]["edges"]
    else:  # node-link json
        items = [{"data": e} for e in json.loads(text)["edges"]]
    return {
        f"{e['data']['kind']}:{e['data']['outpoint']}": {
            k: e["data"][k] for k in (*PRICE_KEYS, "time")
        }
        for e in items
    }


def _hour(unix: int) -> str:
    return datetime.fromtimestamp(unix // 3600 * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_every_format(
    edges: dict[str, dict[str, dict[str, Any]]], resolution: str, source: str
) -> int:
    """Every confirmed edge valued with the expected kind of price, the same in every format."""
    reference = edges["json"]
    confirmed = {eid: d for eid, d in reference.items() if int(d["time"]) > 0}
    assert confirmed
    for eid, d in confirmed.items():
        assert d["value_eur"], (eid, d)
        assert d["price_resolution"] == resolution, (eid, d)
        assert source in d["price_source"], (eid, d)
        when = int(d["time"])
        expected = (
            _hour(when)
            if resolution == "hour"
            else datetime.fromtimestamp(when, UTC).date().isoformat()
        )
        assert d["price_time"] == expected, (eid, d)
    for fmt, got in edges.items():
        assert set(got) == set(reference), fmt
        for eid, d in confirmed.items():
            if fmt == "dot":
                what = "hourly" if resolution == "hour" else "daily"
                tip = got[eid]["tooltip"]
                assert f"{d['value_eur']} EUR, {what} price of {d['price_time']}" in tip, tip
                assert f"source: {d['price_source']}" in tip.replace('\\"', '"'), tip
            else:
                assert {k: str(got[eid][k]) for k in PRICE_KEYS} == {
                    k: str(d[k]) for k in PRICE_KEYS
                }, (fmt, eid)
    return len(confirmed)


def test_a_2026_case_exports_hourly_prices_from_the_cache_in_every_format(
    world_2026: World, tmp_path: Path
) -> None:
    url = world_2026.server.url
    _run(world_2026, "watch", "--case", "vastaamo", "--once", "--explorer", url, "--prices", url)
    _run(world_2026, "trace", "--case", "vastaamo", "--explorer", url, "--prices", url, "--json")
    asked = world_2026.server.requests["GET /v1/historical-price"]
    edges = _export_all(world_2026, tmp_path)
    assert world_2026.server.requests["GET /v1/historical-price"] == asked  # export: offline
    host = url.removeprefix("http://").removesuffix("/api")
    assert _check_every_format(edges, "hour", host) > 5
    assert all("(evidence " in d["price_source"] for d in edges["json"].values() if d["value_eur"])


def test_a_2020_case_with_offline_prices_exports_the_bundled_daily_table(
    world_2020: World, tmp_path: Path
) -> None:
    url = world_2020.server.url
    args = ("--case", "vastaamo", "--explorer", url, "--prices", "offline")
    _run(world_2020, "watch", "--once", *args)
    _run(world_2020, "trace", *args, "--json")
    assert world_2020.server.requests["GET /v1/historical-price"] == 0
    edges = _export_all(world_2020, tmp_path)
    assert _check_every_format(edges, "day", DEFAULT_SOURCE) > 5
