"""A block that lands between a cycle's tip request and its address histories.

Push makes this likely (a pushed payment wakes a cycle at the moment its block may arrive), but
polling meets it too. The histories then show a confirmation height above the tip the cycle
asked for; the cycle must count from the higher one, or the payment is stored with too few
confirmations and, its address summary unchanged from then on, never confirmed.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from pushdaemon import pay
from simwatch import World, session

from btcwatch.model import Tip


def test_a_block_between_the_tip_and_the_histories_still_confirms_the_payment(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = world.truth["ransom_addresses"][0]["address"]

    async def scenario() -> Counter[tuple[str, str | None]]:
        async with session(world.db, world.url, "address") as s:
            await s.cycle()
            txid = pay(world.chain, address, 400_000)
            before: Tip = await s.provider.tip()
            world.chain.advance()  # the block lands after the tip was asked for

            async def stale_tip() -> Tip:
                return before

            with monkeypatch.context() as m:
                m.setattr(s.provider, "tip", stale_tip)
                events = await s.cycle()
            events += await s.cycle()  # the tip has caught up; nothing changed since
            events += await s.cycle()
            assert txid in {e.txid for e in events}
            return Counter((e.kind.value, e.txid) for e in events if e.txid == txid)

    counted = asyncio.run(scenario())
    assert set(counted.values()) == {1}
    assert {kind for kind, _ in counted} == {"payment_received", "payment_confirmed"}
