"""Shared fixtures: one small scenario generated once per session, fresh chains per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from simcheck import make_chain

from btcwatch.sim.blocks import MempoolOnly, PlannedBlock
from btcwatch.sim.chain import SimChain
from btcwatch.sim.scenarios import VastaamoScenario, vastaamo
from btcwatch.sim.server import SimServer

SMALL = {"victims": 30, "seed": 2020, "background": 3}


@pytest.fixture(scope="session")
def small() -> VastaamoScenario:
    """30 victims, 3 background txs a block: every story element, generated in ~0.2 s."""
    scenario = vastaamo(**SMALL)
    assert scenario.blocks  # generate once and keep
    return scenario


@pytest.fixture(scope="session")
def truth(small: VastaamoScenario) -> dict[str, Any]:
    return small.ground_truth()


@pytest.fixture(scope="session")
def blocks(small: VastaamoScenario) -> list[PlannedBlock]:
    return small.blocks


@pytest.fixture(scope="session")
def mempool_only(small: VastaamoScenario) -> list[MempoolOnly]:
    return small.mempool_only()


@pytest.fixture
def chain(small: VastaamoScenario) -> SimChain:
    """A fresh chain with the tip just before the first payment (tests may mutate it)."""
    return make_chain(small)


@pytest.fixture
def server(chain: SimChain) -> Iterator[SimServer]:
    with SimServer(chain) as srv:
        yield srv
