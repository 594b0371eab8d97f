"""A stored trace run as the graph the writers take: reopened, labelled, priced, evidenced.

Everything is read from the store in one visit through `btcwatch.trace.run.stored`, then
drawn by the pure `btcwatch.trace.graph.build_graph`. Priced from the store's price cache
first (never the network), then the bundled table.
"""

from __future__ import annotations

import networkx as nx

from btcwatch.prices import PriceLookup
from btcwatch.store import Store
from btcwatch.trace.graph import build_graph
from btcwatch.trace.run.stored import open_run, resolve_run

__all__ = ["resolve_run", "run_graph"]


def run_graph(store: Store, run_id: int, prices: PriceLookup | None = None) -> nx.MultiDiGraph:
    """Rebuild a stored run (no network) as a schema-valid graph.

    Edges are valued with the prices the case already has: the store's price cache (hourly
    where cached, naming source and evidence), then ``prices`` (default: the bundled daily
    table). Nothing is fetched, so the same store always exports the same figures.
    """
    stored = open_run(store, run_id, prices)
    run = stored.run
    title = f"btcwatch trace {run_id}" + (f" of case {run.case}" if run.case else "")
    return build_graph(
        stored.analysis,
        title=title,
        case=run.case or "",
        run_id=run_id,
        created_at=run.finished_at or run.started_at,
        roles={w.address: w.role.value for w in stored.watched},
        labels={w.address: w.label for w in stored.watched if w.label},
        tags=stored.tags,
        prices=stored.prices,
        evidence=stored.evidence,
    )
