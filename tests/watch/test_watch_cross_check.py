"""--cross-check: when two explorers disagree, a provider_disagreement event is recorded and
neither answer is acted on; the address is asked again next cycle, until they agree."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from simwatch import CASE, World, event_rows, ransom_addresses, setup_case

from btcwatch.providers import HttpOptions, PoolSettings
from btcwatch.providers.base import Provider
from btcwatch.providers.factory import make_provider
from btcwatch.providers.pool import ProviderPool
from btcwatch.sim import SimChain, SimServer, VastaamoScenario
from btcwatch.store.evidence import EvidenceLog
from btcwatch.watch.runner import WatchOptions
from btcwatch.watch.service import WatchRun, run_watch

BONUS = 100_000


class Liar(httpx.AsyncBaseTransport):
    """Real HTTP to the simulator, but one address's summary claims more than it received."""

    def __init__(self, address: str) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.address = address
        self.lying = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not (self.lying and request.url.path.endswith(f"/address/{self.address}")):
            return response
        data = json.loads(await response.aread())
        data["chain_stats"]["funded_txo_sum"] += BONUS
        return httpx.Response(200, json=data, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def paid(small_scenario: VastaamoScenario) -> dict[str, Any]:
    truth = small_scenario.ground_truth()
    confirmed = [p for p in truth["payments"] if p["height"]]
    return {"truth": truth, "tip": confirmed[2]["height"], "payments": confirmed[:3]}


@pytest.fixture
def two_explorers(
    small_scenario: VastaamoScenario, paid: dict[str, Any]
) -> Iterator[tuple[SimChain, SimServer, SimServer]]:
    chain = SimChain.from_scenario(small_scenario, tip=paid["tip"])
    with SimServer(chain) as honest, SimServer(chain) as other:
        yield chain, honest, other


def test_lying_explorer_gives_a_disagreement_event_and_no_payment_until_they_agree(
    tmp_path: Path, paid: dict[str, Any], two_explorers: tuple[SimChain, SimServer, SimServer]
) -> None:
    _, honest, other = two_explorers
    truth = paid["truth"]
    victim = paid["payments"][0]["address"]
    liar = Liar(victim)
    db = tmp_path / "w.db"
    setup_case(db, ransom_addresses(truth))

    def pool(log: EvidenceLog) -> Provider:
        first = make_provider(honest.url, HttpOptions(rate=math.inf, on_evidence=log))
        second = make_provider(
            other.url, HttpOptions(rate=math.inf, on_evidence=log, transport=liar)
        )
        return ProviderPool([first, second], cross_check=True)

    def cycle() -> list[dict[str, Any]]:
        run = WatchRun(
            WatchOptions(CASE, "address"), alerts=[], pool=PoolSettings(cross_check=True)
        )
        [report] = run_watch(db, run, provider_factory=pool)
        return [e for e in event_rows(db) if e["id"] in {ev.id for ev in report.events}]

    first = cycle()
    [dispute] = [e for e in first if e["kind"] == "provider_disagreement"]
    assert (dispute["case"], dispute["address"], dispute["txid"]) == (CASE, victim, None)
    details = dispute["details"]
    assert details["what"] == "address_stats" and details["key"] == victim
    first_name, second_name = details["explorers"]
    assert first_name == f"127.0.0.1:{honest.port}" and second_name == f"127.0.0.1:{other.port}"
    assert details["fields"] == ["funded_txo_sum"]
    told = details["answers"]
    assert told[second_name]["funded_txo_sum"] - told[first_name]["funded_txo_sum"] == BONUS
    assert "disagree on address_stats" in details["message"]
    # Neither answer trusted: nothing about the disputed address, the others as usual.
    assert not [e for e in first if e["address"] == victim and e["kind"].startswith("payment")]
    others = {(p["txid"], p["vout"]) for p in paid["payments"] if p["address"] != victim}
    assert {(e["txid"], e["vout"]) for e in first if e["kind"] == "payment_confirmed"} == others

    assert cycle() == []  # the same disagreement again is the same event: stored once

    liar.lying = False
    agreed = cycle()
    assert {e["kind"] for e in agreed} == {"payment_received", "payment_confirmed"}
    assert {e["address"] for e in agreed} == {victim}


def test_cli_cross_check_records_a_lagging_explorer_disagreement(
    tmp_path: Path, small_scenario: VastaamoScenario, paid: dict[str, Any]
) -> None:
    truth = paid["truth"]
    newest = paid["payments"][2]
    ahead = SimChain.from_scenario(small_scenario, tip=newest["height"])
    behind = SimChain.from_scenario(small_scenario, tip=newest["height"] - 1)
    db = tmp_path / "w.db"
    setup_case(db, ransom_addresses(truth))
    with SimServer(ahead) as first, SimServer(behind) as second:
        world = World(db, ahead, first, truth)
        args = ["--mode", "address", "--cross-check", "--explorer", second.url, "--exit-code"]
        result = world.watch_once(*args)
        assert result.exit_code == 3, result.stderr
        listed = world.cli("events", "--kind", "provider_disagreement", "--json")
    [dispute] = json.loads(listed.stdout)
    assert dispute["address"] == newest["address"]
    assert dispute["details"]["explorers"] == [
        f"127.0.0.1:{first.port}",
        f"127.0.0.1:{second.port}",
    ]
    # One explorer has the payment mined, the other still in its mempool.
    assert {"funded_txo_count", "mempool_funded_txo_count"} <= set(dispute["details"]["fields"])
    payments = [e for e in event_rows(db) if e["kind"].startswith("payment")]
    assert newest["txid"] not in {e["txid"] for e in payments}
    assert len(payments) == 2 * 2  # the two earlier payments, received and confirmed
