"""Full histories of 300 addresses through 10% injected faults and a 429 rate limit.

The simulator serves its chain on loopback with faults (5xx, slow answers, dropped connections,
truncated JSON) and a token-bucket rate limit answering 429 with an HTML body and no
Retry-After, like mempool.space. The Esplora provider must still return exactly each address's
history, as computed independently from the simulator's raw blocks, with no tx missing or twice.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter, defaultdict

from btcwatch.chain.address import script_to_address
from btcwatch.chain.network import MAINNET
from btcwatch.chain.tx import parse_block
from btcwatch.model import Evidence
from btcwatch.providers import HttpOptions
from btcwatch.providers._http import RetryPolicy
from btcwatch.providers.base import gather_limited
from btcwatch.providers.factory import make_provider
from btcwatch.sim import Faults, SimChain, SimServer, vastaamo


def histories_from_blocks(chain: SimChain) -> dict[str, set[str]]:
    """address -> txids that pay it or spend from it, replayed from the raw best chain."""
    owner: dict[tuple[str, int], str] = {}
    history: dict[str, set[str]] = defaultdict(set)
    for record in chain.best_blocks():
        for tx in parse_block(record.serialize()).txs:
            for txin in tx.inputs:
                spent = owner.get((txin.prev_txid, txin.prev_vout))
                if spent:
                    history[spent].add(tx.txid)
            for vout, out in enumerate(tx.outputs):
                address = script_to_address(out.script, MAINNET)
                if address:
                    owner[(tx.txid, vout)] = address
                    history[address].add(tx.txid)
    return history


def test_300_histories_exact_despite_faults_and_429() -> None:
    scenario = vastaamo(victims=300, seed=2020, background=3)
    truth = scenario.ground_truth()
    chain = SimChain.from_scenario(scenario, tip="end")
    expected = histories_from_blocks(chain)
    hot = [a for ex in truth["exchanges"] for a in ex["hot_wallets"]]  # long, paged histories
    addresses = [r["address"] for r in truth["ransom_addresses"]][: 300 - len(hot)] + hot
    faults = Faults(0.10, seed=7)
    with SimServer(chain, faults=faults, rate_limit=60.0, burst=5) as server:
        slept: list[float] = []
        statuses: list[Evidence] = []

        async def backoff(seconds: float) -> None:  # real, short waits: the bucket refills
            slept.append(seconds)
            await asyncio.sleep(seconds)

        async def fetch() -> tuple[dict[str, list[str]], int]:
            provider = make_provider(
                server.url,
                HttpOptions(
                    rate=math.inf,
                    sleep=backoff,
                    on_evidence=statuses.append,
                    retry=RetryPolicy(max_tries=12, base_delay=0.05, max_delay=0.5),
                ),
            )
            try:
                found = await gather_limited(addresses, lambda a: _txids(provider, a), limit=8)
                return found, provider.requests
            finally:
                await provider.aclose()

        found, requests = asyncio.run(fetch())
    assert len(addresses) == 300
    for address in addresses:
        assert len(found[address]) == len(set(found[address])), address  # no duplicates
        assert set(found[address]) == expected[address], address  # nothing missing or extra
    assert max(len(found[a]) for a in hot) > 25  # paging was exercised
    codes = Counter(ev.status for ev in statuses)
    print(
        f"300 histories: {requests} requests, answers {dict(sorted(codes.items()))}, "
        f"{len(slept)} retries"
    )
    assert codes[429] and codes[500] + codes[502] + codes[503]
    assert len(slept) >= sum(n for code, n in codes.items() if code >= 400)


async def _txids(provider, address: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [tx.txid for tx in await provider.address_history(address)]
