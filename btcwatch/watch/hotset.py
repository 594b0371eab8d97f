"""The hot set: the few watched addresses whose mempool a block-mode tick reads.

Unconfirmed payments to other watched addresses are seen at their first confirmation by the
block scan; reading every address's mempool (or the whole mempool) would make a tick's cost
grow with the watchlist or with the network's traffic. In order of priority, up to ``size``:

1. addresses with an unconfirmed watched payment (their next step is the likeliest news);
2. the company address: a ``ransom`` address whose demand no other address of its case shares
   (Vastaamo: the 40 BTC asked of the company, against 200 EUR asked of each patient);
3. trail addresses (role ``attacker``, which ``watch --follow`` adds), newest first;
4. addresses holding watched money, largest sum first;
5. addresses that just moved watched money (unconfirmed, or within the last 6 blocks).

Spends of watched money are not looked for here: they are found by asking about the watched
outputs themselves (``/txs/outspends``), whatever the hot set's size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from btcwatch.model import WatchedOutput
from btcwatch.watch.watchset import WatchSet

DEFAULT_HOT_SET = 20
RECENT_BLOCKS = 6  # a spend this recent still counts as "just moved"


def company_addresses(ws: WatchSet) -> list[str]:
    """Ransom addresses whose demand is their own (not shared within their case)."""
    shared = Counter(
        (case, demand)
        for (case, _), demand in ws.demands.items()
        if demand and ws.roles.get((case, _)) == "ransom"
    )
    return [
        address
        for (case, address), demand in ws.demands.items()
        if demand and ws.roles.get((case, address)) == "ransom" and shared[(case, demand)] == 1
    ]


def hot_addresses(
    ws: WatchSet, outputs: Sequence[WatchedOutput], tip_height: int, size: int
) -> list[str]:
    """Up to ``size`` watched addresses, most urgent first (see the module docstring)."""
    if size <= 0:
        return []
    pending = [o.address for o in outputs if o.height is None]
    trail = [a for (_, a), role in reversed(ws.roles.items()) if role == "attacker"]
    holding: Counter[str] = Counter()
    for o in outputs:
        if o.spent_by is None:
            holding[o.address] += o.value
    moved = sorted(
        (
            o
            for o in outputs
            if o.spent_by
            and (o.spent_height is None or tip_height - o.spent_height < RECENT_BLOCKS)
        ),
        key=lambda o: -(o.spent_height if o.spent_height is not None else tip_height + 1),
    )
    ordered = [
        *pending,
        *company_addresses(ws),
        *trail,
        *(a for a, _ in holding.most_common()),
        *(o.address for o in moved),
    ]
    chosen = [a for a in dict.fromkeys(ordered) if a in ws.by_address]
    return chosen[:size]
