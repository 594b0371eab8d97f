"""A small simulated Vastaamo case served on loopback, and the CLI run in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from simwatch import World, ransom_addresses, setup_case

from btcwatch.sim import SimChain, SimServer, VastaamoScenario, vastaamo


@pytest.fixture(scope="session")
def small_scenario() -> VastaamoScenario:
    return vastaamo(victims=7, seed=2020, background=2)


@pytest.fixture
def world(tmp_path: Path, small_scenario: VastaamoScenario) -> Iterator[World]:
    """The chain stands at the scenario's second payment, so a first run has news."""
    truth = small_scenario.ground_truth()
    heights = sorted(p["height"] for p in truth["payments"] if p["height"])
    chain = SimChain.from_scenario(small_scenario, tip=heights[1])
    db = tmp_path / "case.db"
    setup_case(db, ransom_addresses(truth))
    with SimServer(chain) as server:
        yield World(db, chain, server, truth)
