"""Scenarios: seeded stories that generate a byte-valid chain and record their ground truth."""

from __future__ import annotations

from btcwatch.sim.scenarios.vastaamo import VastaamoConfig, VastaamoScenario, vastaamo

__all__ = ["SCENARIOS", "VastaamoConfig", "VastaamoScenario", "vastaamo"]

#: Scenario factories by name (what ``btcwatch sim --scenario`` accepts).
SCENARIOS = {"vastaamo": vastaamo}
