"""A deterministic, byte-valid simulated Bitcoin chain and an Esplora server for it.

Every integration test, the demo and the benchmarks run against this instead of the internet:

    from btcwatch.sim import SimChain, SimServer, vastaamo

    scenario = vastaamo(victims=30, seed=2020, background=3)
    chain = SimChain.from_scenario(scenario)           # tip just before the first payment
    with SimServer(chain) as server:                   # http://127.0.0.1:PORT/api
        chain.advance()                                # mine the next block
        truth = scenario.ground_truth()                # what really happened

Layers: wallet (keys, spends) -> blocks (coinbase, mining) -> scenarios (stories, ground
truth) -> records -> chain_index (indexes, answers) -> chain (tip, mempool, reorgs) ->
esplora/bci (JSON) -> routing (replies, route table) -> esplora_routes, control and the other
route families -> server (HTTP, faults; `server.ROUTE_FAMILIES` lists the families).
"""

from __future__ import annotations

from btcwatch.sim.blocks import MempoolOnly, PlannedBlock, Scenario
from btcwatch.sim.chain import SimChain
from btcwatch.sim.faults import FaultKind, Faults, RateLimiter
from btcwatch.sim.files import write_chain
from btcwatch.sim.scenarios import SCENARIOS, VastaamoConfig, VastaamoScenario, vastaamo
from btcwatch.sim.server import SimServer

__all__ = [
    "SCENARIOS",
    "FaultKind",
    "Faults",
    "MempoolOnly",
    "PlannedBlock",
    "RateLimiter",
    "Scenario",
    "SimChain",
    "SimServer",
    "VastaamoConfig",
    "VastaamoScenario",
    "vastaamo",
    "write_chain",
]
