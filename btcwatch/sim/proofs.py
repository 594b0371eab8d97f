"""The simulator's inclusion-proof routes: ``/tx/:txid/merkle-proof`` in Esplora's format.

``/tx/:txid/hex`` and ``/block/:hash/header`` are served by the core routes; this module adds
what an evidence bundle needs beyond them, hooked into the server by one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from btcwatch.chain.merkle import branch_for
from btcwatch.sim.chain import TxEntry

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
    """Register the proof routes on ``server`` (called from its ``_add_routes``)."""
    from btcwatch.sim.server import HttpError, Reply, _Request

    def proof(r: _Request) -> Reply:
        answer = merkle_proof_json(server._tx(r))
        if answer is None:
            raise HttpError(404, "Transaction not found or not confirmed")
        return Reply.json(answer)

    server._add("GET", "/tx/:txid/merkle-proof", proof)
