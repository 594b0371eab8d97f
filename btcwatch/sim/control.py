"""The simulator's control routes (``/_sim/...``): move the tip, reorganise, replace, faults.

Also reachable as ``/api/_sim/...``; `SimServer` never applies faults or the rate limit to
them. Each answers JSON describing the new state, so a test can assert on what it did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from btcwatch.sim.faults import Faults, parse_kinds
from btcwatch.sim.routing import Reply, Request, int_arg, txid_arg

if TYPE_CHECKING:
    from btcwatch.sim.server import SimServer

__all__ = ["add_routes"]


def add_routes(server: SimServer) -> None:
    """Register the control routes on ``server``."""
    ctl = _Control(server)
    server.add_route("POST", "/_sim/advance", ctl.advance)
    server.add_route("POST", "/_sim/reorg", ctl.reorg)
    server.add_route("POST", "/_sim/replace", ctl.replace)
    server.add_route("POST", "/_sim/faults", ctl.faults)
    server.add_route("GET", "/_sim/state", ctl.state)


class _Control:
    def __init__(self, server: SimServer) -> None:
        self.server = server

    def advance(self, r: Request) -> Reply:
        blocks = int_arg(r.arg("blocks", "1") or "1", "blocks")
        height = self.server.chain.advance(blocks)
        return Reply.json({"tip_height": height, "tip_hash": self.server.chain.tip_hash})

    def reorg(self, r: Request) -> Reply:
        depth = int_arg(r.arg("depth", "1") or "1", "depth")
        drop = tuple(t for v in r.query.get("drop", []) for t in v.split(",") if t)
        dropped = r.arg("dropped", "mempool") or "mempool"
        hashes = self.server.reorg(depth, tuple(txid_arg(t) for t in drop), dropped)
        return Reply.json({"tip_height": self.server.chain.tip_height, "new_hashes": hashes})

    def replace(self, r: Request) -> Reply:
        txid = txid_arg(r.arg("txid", "") or "")
        fee_text = r.arg("fee")
        fee = int_arg(fee_text, "fee") if fee_text is not None else None
        return Reply.json({"replaced": txid, "replacement": self.server.replace(txid, fee)})

    def faults(self, r: Request) -> Reply:
        rate = float(r.arg("rate", "0") or "0")
        seed = int_arg(r.arg("seed", "0") or "0", "seed")
        delay = float(r.arg("delay", "2") or "2")
        kinds_text = r.arg("kinds")
        kinds = parse_kinds(kinds_text) if kinds_text else None
        if rate <= 0:
            self.server.faults = None
            return Reply.json({"faults": None})
        faults = Faults(rate, seed=seed, delay=delay, **({"kinds": kinds} if kinds else {}))
        self.server.faults = faults
        return Reply.json({"faults": faults.describe()})

    def state(self, r: Request) -> Reply:
        state = dict(self.server.chain.state())
        state["requests"] = dict(self.server.requests)
        state["faults"] = self.server.faults.describe() if self.server.faults is not None else None
        return Reply.json(state)
