"""The simulator's inclusion-proof routes: ``/tx/:txid/merkle-proof`` in Esplora's format.

``/tx/:txid/hex`` and ``/block/:hash/header`` are served by the core routes; this module adds
what an evidence bundle needs beyond them, hooked into the server by one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from btcwatch.chain.merkle import branch_for
from btcwatch.sim.esplora_routes import tx_of
from btcwatch.sim.records import TxEntry
from btcwatch.sim.routing import HttpError, Reply, Request

if TYPE_CHECKING:
    from btcwatch.sim.server import SimServer


def merkle_proof_json(entry: TxEntry) -> dict[str, Any] | None:
    """``{block_height, merkle, pos}`` for a tx in the best chain, None while it is not."""
    block = entry.block
    if block is None or not block.best:
        return None
    txids = [e.txid for e in block.entries]
    pos = txids.index(entry.txid)
    branch = branch_for(txids, pos)
    return {"block_height": block.height, "merkle": list(branch.siblings), "pos": pos}


def add_routes(server: SimServer) -> None:
    """Register the proof routes on ``server`` (one of its ``ROUTE_FAMILIES``)."""

    def proof(r: Request) -> Reply:
        answer = merkle_proof_json(tx_of(server.chain, r))
        if answer is None:
            raise HttpError(404, "Transaction not found or not confirmed")
        return Reply.json(answer)

    server.add_route("GET", "/tx/:txid/merkle-proof", proof)
