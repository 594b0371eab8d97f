"""Follow the money: pure heuristics that return evidence, and taint.

Everything here is a function of `btcwatch.model.Tx` values: no network, database or clock,
so a BFS over spends (follow, over a `txsource.TxSource`) can call it per transaction and
tests can call it directly. The one exception is the sub-package `btcwatch.trace.run`, the I/O
room that feeds this core from the store and the explorer and keeps its runs.
"""

from btcwatch.trace.change import ChangeVerdict, FiatRate, detect_change
from btcwatch.trace.cluster import Clusters, cluster_addresses
from btcwatch.trace.coinjoin import detect_coinjoin, is_coinjoin
from btcwatch.trace.deposits import attribute_deposits
from btcwatch.trace.evidence import Finding
from btcwatch.trace.peel import PeelChain, PeelHop, find_peel_chains, is_peel_step
from btcwatch.trace.taint import POLICIES, Policy, TaintResult, TxTaint, propagate

__all__ = [
    "POLICIES",
    "ChangeVerdict",
    "Clusters",
    "FiatRate",
    "Finding",
    "PeelChain",
    "PeelHop",
    "Policy",
    "TaintResult",
    "TxTaint",
    "attribute_deposits",
    "cluster_addresses",
    "detect_change",
    "detect_coinjoin",
    "find_peel_chains",
    "is_coinjoin",
    "is_peel_step",
    "propagate",
]
