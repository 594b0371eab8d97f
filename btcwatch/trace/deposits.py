"""Exchange deposit attribution: addresses an exchange sweeps into its hot wallet.

Exchanges give each customer a deposit address and periodically sweep many deposit
addresses together into a hot wallet. Tag lists know hot wallets, rarely deposit addresses;
but a tx spending several untagged addresses into nothing but one tagged entity's addresses
says those addresses were that exchange's deposits — exactly where ransom money is cashed
out, and where a subpoena can name the customer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from btcwatch.model import Tx
from btcwatch.trace.coinjoin import detect_coinjoin
from btcwatch.trace.evidence import Finding, payable_vouts

__all__ = ["attribute_deposits", "sweep_entity"]

HEURISTIC = "deposit_sweep"
#: A sweep gathers at least this many distinct untagged addresses.
MIN_SWEPT_ADDRESSES = 3


def sweep_entity(
    tx: Tx, tags: Mapping[str, str], *, min_addresses: int = MIN_SWEPT_ADDRESSES
) -> tuple[str, str, list[str]] | None:
    """(entity, hot wallet address, swept addresses) if the tx is a deposit sweep.

    Every payable output must go to addresses tagged with one single entity, and at least
    ``min_addresses`` distinct untagged input addresses must be swept. CoinJoins are not sweeps.
    """
    if not tags:
        return None  # nothing tagged: no entity to sweep into
    vouts = payable_vouts(tx)
    if tx.is_coinbase or not vouts:
        return None
    destinations = [tx.outputs[vout].address for vout in vouts]
    entities = {tags.get(address) if address is not None else None for address in destinations}
    entity = entities.pop()
    if entity is None or entities:
        return None
    swept = sorted(
        {
            txin.prev_address
            for txin in tx.inputs
            if txin.prev_address is not None and txin.prev_address not in tags
        }
    )
    if len(swept) < min_addresses or detect_coinjoin(tx) is not None:
        return None
    hot_wallet = max(vouts, key=lambda vout: tx.outputs[vout].value)
    return entity, tx.outputs[hot_wallet].address or "", swept


def attribute_deposits(
    txs: Iterable[Tx],
    tags: Mapping[str, str],
    *,
    min_addresses: int = MIN_SWEPT_ADDRESSES,
) -> dict[str, Finding]:
    """Deposit address -> Finding (verdict "deposit", facts entity, sweep txid, hot wallet).

    An address swept by several txs of the same entity keeps the smallest sweep txid and
    counts the sweeps; one swept into two different entities is left out as ambiguous.
    """
    seen: dict[str, tuple[str, str, str, int, int]] = {}  # entity, txid, hot, swept, sweeps
    ambiguous: set[str] = set()
    for tx in txs:
        found = sweep_entity(tx, tags, min_addresses=min_addresses)
        if found is None:
            continue
        entity, hot_wallet, swept = found
        for address in swept:
            previous = seen.get(address)
            if previous is None:
                seen[address] = (entity, tx.txid, hot_wallet, len(swept), 1)
            elif previous[0] != entity:
                ambiguous.add(address)
            else:
                first = min(
                    (previous[1], previous[2], previous[3]), (tx.txid, hot_wallet, len(swept))
                )
                seen[address] = (entity, *first, previous[4] + 1)
    result: dict[str, Finding] = {}
    for address in sorted(seen):
        if address in ambiguous:
            continue
        entity, txid, hot_wallet, swept_count, sweeps = seen[address]
        confidence = 0.8 if swept_count >= 10 or sweeps > 1 else 0.7
        result[address] = Finding.of(
            HEURISTIC,
            "deposit",
            confidence,
            address,
            {
                "entity": entity,
                "sweep_txid": txid,
                "hot_wallet": hot_wallet,
                "swept_addresses": swept_count,
                "sweeps": sweeps,
            },
        )
    return result
