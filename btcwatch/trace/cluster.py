"""Common-input ownership: addresses spent together in one tx belong to one wallet.

The oldest and strongest clustering heuristic (Nakamoto 2008, section 10; Meiklejohn et al.
2013): signing a tx needs the keys of every input, so the inputs' addresses share an owner.
It fails exactly where several people sign one tx, so CoinJoins are skipped (and, optionally,
txs with very many inputs, where exchanges' batching or PayJoin make it less safe). When a
criminal sweeps several ransom addresses together, they end in one cluster.

Cluster ids are deterministic: clusters are numbered in the order of their smallest address.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from btcwatch.errors import InputError
from btcwatch.model import Tx
from btcwatch.trace.coinjoin import detect_coinjoin
from btcwatch.trace.evidence import Finding

__all__ = ["Clusters", "cluster_addresses"]

HEURISTIC = "common_input"


class Clusters:
    """The result of `cluster_addresses`: every address seen, grouped by owner."""

    __slots__ = ("_index", "_links", "_members", "skipped")

    def __init__(
        self,
        members: list[frozenset[str]],
        links: list[tuple[str, ...]],
        skipped: Mapping[str, str],
    ) -> None:
        self._members = members
        self._links = links
        self._index = {address: cid for cid, group in enumerate(members) for address in group}
        #: txid -> why it was not used for clustering (e.g. "coinjoin:whirlpool").
        self.skipped = dict(skipped)

    def cluster_of(self, address: str) -> int:
        """The cluster id of an address; InputError if no clustered tx mentions it."""
        try:
            return self._index[address]
        except KeyError:
            raise InputError(f"address {address} is not in any clustered transaction") from None

    def get(self, address: str) -> int | None:
        return self._index.get(address)

    def members(self, cluster_id: int) -> frozenset[str]:
        return self._members[self._check(cluster_id)]

    def representative(self, cluster_id: int) -> str:
        """The cluster's smallest address: a stable name for it."""
        return min(self._members[self._check(cluster_id)])

    def txids(self, cluster_id: int) -> tuple[str, ...]:
        """The txs whose co-spent inputs linked this cluster (sorted): its evidence."""
        return self._links[self._check(cluster_id)]

    def same_owner(self, first: str, second: str) -> bool:
        found = self._index.get(first)
        return found is not None and found == self._index.get(second)

    def sizes(self) -> dict[int, int]:
        return {cid: len(group) for cid, group in enumerate(self._members)}

    def finding(self, cluster_id: int) -> Finding:
        """The cluster as evidence: its size and the txs that link it."""
        links = self.txids(cluster_id)
        return Finding.of(
            HEURISTIC,
            "same_owner",
            0.9 if links else 1.0,
            self.representative(cluster_id),
            {"addresses": len(self.members(cluster_id)), "linking_txs": len(links)},
        )

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self._members)))

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, address: object) -> bool:
        return address in self._index

    def _check(self, cluster_id: int) -> int:
        if not 0 <= cluster_id < len(self._members):
            raise InputError(f"no cluster {cluster_id} (there are {len(self._members)})")
        return cluster_id


def cluster_addresses(
    txs: Iterable[Tx],
    *,
    max_inputs: int | None = None,
    skip_coinjoins: bool = True,
    include_outputs: bool = True,
) -> Clusters:
    """Union-find over co-spent input addresses.

    Output addresses are included as singletons (unless ``include_outputs`` is False) so that
    `Clusters.cluster_of` answers for every address in the flow.
    """
    parent: dict[str, str] = {}
    size: dict[str, int] = {}
    linked_by: dict[str, list[str]] = {}
    skipped: dict[str, str] = {}

    def find(address: str) -> str:
        root = parent.get(address)
        if root is None:
            parent[address] = address
            size[address] = 1
            return address
        while parent[root] != root:
            root = parent[root]
        while parent[address] != root:  # path compression
            parent[address], address = root, parent[address]
        return root

    for tx in txs:
        addresses = [txin.prev_address for txin in tx.inputs if txin.prev_address is not None]
        if include_outputs:
            for out in tx.outputs:
                if out.address is not None:
                    find(out.address)
        if not addresses:
            continue
        distinct = sorted(set(addresses))
        for address in distinct:
            find(address)
        if len(distinct) < 2:
            continue
        if max_inputs is not None and len(tx.inputs) > max_inputs:
            skipped[tx.txid] = "too_many_inputs"
            continue
        if skip_coinjoins:
            coinjoin = detect_coinjoin(tx)
            if coinjoin is not None:
                skipped[tx.txid] = f"coinjoin:{coinjoin.fact('pattern')}"
                continue
        root = find(distinct[0])
        links = linked_by.setdefault(root, [])
        links.append(tx.txid)
        for address in distinct[1:]:
            other = find(address)
            if other == root:
                continue
            if size[other] > size[root]:
                root, other = other, root
            parent[other] = root
            size[root] += size[other]
            _merge_links(linked_by, root, other)
    groups: dict[str, set[str]] = {}
    for address in parent:
        groups.setdefault(find(address), set()).add(address)
    ordered = sorted(groups.items(), key=lambda item: min(item[1]))
    members = [frozenset(group) for _, group in ordered]
    evidence = [tuple(sorted(set(linked_by.get(root, ())))) for root, _ in ordered]
    return Clusters(members, evidence, skipped)


def _merge_links(linked_by: dict[str, list[str]], root: str, other: str) -> None:
    """Move other's linking txids to root, copying the shorter list into the longer."""
    theirs = linked_by.pop(other, None)
    if not theirs:
        return
    mine = linked_by.get(root)
    if mine is None:
        linked_by[root] = theirs
    elif len(theirs) > len(mine):
        theirs.extend(mine)
        linked_by[root] = theirs
    else:
        mine.extend(theirs)
