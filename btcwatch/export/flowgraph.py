"""A stored trace run as the graph the writers take: reopened, labelled, priced, evidenced.

Priced from the store's price cache first (never the network), then the bundled table.
"""

from __future__ import annotations

import networkx as nx

from btcwatch.errors import InputError
from btcwatch.prices import PriceLookup, PriceTable
from btcwatch.store import Store
from btcwatch.store.cases import get_case, list_addresses
from btcwatch.store.evidence import tx_evidence
from btcwatch.store.prices import stored_book
from btcwatch.store.traces import get_run, latest_run
from btcwatch.trace.graph import build_graph
from btcwatch.trace.service import reopen, tag_index


def resolve_run(store: Store, *, case: str | None, run_id: int | None) -> int:
    """The run to export: the one named, or the case's latest finished trace."""
    if (case is None) == (run_id is None):
        raise InputError("give exactly one of --case NAME or --trace ID")
    if run_id is not None:
        get_run(store, run_id)
        return run_id
    assert case is not None
    get_case(store, case)
    run = latest_run(store, case)
    if run is None:
        raise InputError(
            f"case {case!r} has no finished trace yet: run `btcwatch trace --case {case}` first"
        )
    return run.id


def evidence_refs(store: Store, txids: list[str]) -> dict[str, str]:
    """txid -> "provider URL fetched-at sha256" of the response it was stored from."""
    return {
        txid: link.ref for txid, link in tx_evidence(store, txids).items() if link.ref is not None
    }


def run_graph(store: Store, run_id: int, prices: PriceLookup | None = None) -> nx.MultiDiGraph:
    """Rebuild a stored run (no network) as a schema-valid graph.

    Edges are valued with the prices the case already has: the store's price cache (hourly
    where cached, naming source and evidence), then ``prices`` (default: the bundled daily
    table). Nothing is fetched, so the same store always exports the same figures.
    """
    run = get_run(store, run_id)
    analysis = reopen(store, run_id)
    times = [tx.block.time for tx in analysis.flow.txs.values() if tx.block]
    book = stored_book(store, times, PriceTable.load_default() if prices is None else prices)
    watched = list_addresses(store, run.case) if run.case else []
    title = f"btcwatch trace {run_id}" + (f" of case {run.case}" if run.case else "")
    return build_graph(
        analysis,
        title=title,
        case=run.case or "",
        run_id=run_id,
        created_at=run.finished_at or run.started_at,
        roles={w.address: w.role.value for w in watched},
        labels={w.address: w.label for w in watched if w.label},
        tags=tag_index(store),
        prices=book,
        evidence=evidence_refs(store, sorted(analysis.flow.txs)),
    )
