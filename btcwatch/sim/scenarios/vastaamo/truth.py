"""The Vastaamo story's ground truth, its tag pack and its ransom e-mails.

What a generation run did, recorded as plain JSON-able data: what an investigation should
find (payments, sweeps, the peel chain's deposits, the CoinJoin) and what an analyst would
start from (the exchanges' hot wallets as a TagPack, one ransom e-mail per victim).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from btcwatch.sim.scenarios.engine import Exchange
from btcwatch.sim.scenarios.vastaamo.config import (
    COMPANY_DEMAND_BTC,
    DEADLINE_BLOCKS,
    DEMAND_EUR,
    LATE_DEMAND_EUR,
    SATS,
)
from btcwatch.sim.wallet import Key

if TYPE_CHECKING:
    from btcwatch.sim.scenarios.vastaamo.story import Story

__all__ = ["ground_truth", "ransom_emails", "tagpack"]


def ground_truth(story: Story) -> dict[str, Any]:
    """The ground truth of this run (valid once every block has been yielded)."""
    cfg = story.cfg
    totals: dict[str, int] = {ex.name: 0 for ex in story.exchanges}
    for peel in story.peels:
        totals[peel["exchange"]] += peel["value_sat"]
    payment_heights = [p["height"] for p in story.payments if p["height"] is not None]
    seen = [e["seen_height"] for e in story.early] + [story.rbf.get("seen_height", 10**12)]
    first_payment = min([*payment_heights, *seen]) if payment_heights else story.height_of(0)
    merge_txid = story.merges[-1]["txid"] if story.merges else None
    return {
        "scenario": "vastaamo",
        "fictional": True,
        "seed": cfg.seed,
        "network": story.net.name,
        "victims": cfg.victims,
        "background_per_block": cfg.background,
        "first_height": story.first_height,
        "last_height": story.last_height,
        "emails_height": story.height_of(0),
        "emails_time": int(cfg.emails_at.timestamp()),
        "deadline_height": story.height_of(DEADLINE_BLOCKS),
        "first_payment_height": first_payment,
        "start_tip_height": first_payment - 1,
        "funding_blocks": story.funding_blocks,
        "tx_count": story.engine.tx_count,
        "price_source": story.price_source,
        "eur_per_btc": dict(sorted(story.rates_used.items())),
        "demand_eur": str(DEMAND_EUR),
        "late_demand_eur": str(LATE_DEMAND_EUR),
        "company_demand": {
            "address": story.addr(story.company),
            "btc": str(COMPANY_DEMAND_BTC),
            "value_sat": COMPANY_DEMAND_BTC * SATS,
            "paid": False,
        },
        "exchanges": [
            {
                "name": ex.name,
                "script_type": str(ex.kind),
                "hot_wallets": [story.addr(k) for k in ex.hot],
                "deposit_addresses": [story.addr(k) for k in ex.deposits],
            }
            for ex in story.exchanges
        ],
        "ransom_addresses": [
            {
                "victim": v.id,
                "address": story.addr(v.ransom),
                "demand_eur": str(DEMAND_EUR),
                "late_demand_eur": str(LATE_DEMAND_EUR),
                "plan": v.plan,
            }
            for v in story.victims
        ],
        "payments": story.payments,
        "sweeps": story.sweeps,
        "merges": story.merges,
        "merge_txid": merge_txid,
        "peels": story.peels,
        "exchange_totals": totals,
        "coinjoin": story.coinjoin,
        "coinjoin_txid": story.coinjoin.get("txid"),
        "attacker_addresses": [story.addr(k) for k in story.attacker],
        "dust": story.dust,
        "dust_txids": [d["txid"] for d in story.dust],
        "mempool_early": story.early,
        "rbf": story.rbf,
        "reorg": story.reorg,
        "tagpack": tagpack(story.exchanges, story.addr, cfg.seed),
        "ransom_emails": ransom_emails(story),
    }


def tagpack(
    exchanges: Sequence[Exchange], render: Callable[[Key], str], seed: int
) -> dict[str, Any]:
    """The exchanges' hot wallets as a GraphSense TagPack (what an analyst would import)."""
    return {
        "title": "Simulated exchange hot wallets (btcwatch sim, vastaamo scenario)",
        "creator": "btcwatch sim",
        "source": f"btcwatch sim vastaamo seed={seed} (fictional exchanges)",
        "currency": "BTC",
        "lastmod": "2020-10-24",
        "tags": [
            {"address": render(k), "label": ex.name, "category": "exchange"}
            for ex in exchanges
            for k in ex.hot
        ],
    }


_EMAIL = """From: ransom_service <ransom_service@example.invalid>
To: patient-{victim:06d}@example.invalid
Date: {date}
Subject: Vastaamo patient record {victim:06d}

Hello,

We have your psychotherapy records from the clinic's database. If you want them
deleted, send bitcoin worth {demand} EUR to this address within 24 hours:

    {address}

After 24 hours the price is {late} EUR. After 48 hours your records will be published.
Buy bitcoin at any exchange. Do not contact the police.
"""

_COMPANY = """From: ransom_service <ransom_service@example.invalid>
To: management@example.invalid
Date: {date}
Subject: Your patient database

We demand {btc} BTC for not publishing your patient database. Pay to:

    {address}
"""


def ransom_emails(story: Story) -> str:
    """One fictional e-mail per victim (plus the company demand), each naming its address."""
    when = story.cfg.emails_at
    stamp = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
    parts = [
        _COMPANY.format(
            date=(when - timedelta(days=26)).strftime("%a, %d %b %Y %H:%M:%S +0000"),
            btc=COMPANY_DEMAND_BTC,
            address=story.addr(story.company),
        )
    ]
    for v in story.victims:
        parts.append(
            _EMAIL.format(
                victim=v.id,
                date=stamp,
                demand=DEMAND_EUR,
                late=LATE_DEMAND_EUR,
                address=story.addr(v.ransom),
            )
        )
    return "\n".join(parts)
