"""Common-input ownership: addresses spent together in one tx belong to one wallet.

The oldest and strongest clustering heuristic (Nakamoto 2008, section 10; Meiklejohn et al.
2013): signing a tx needs the keys of every input, so the inputs' addresses share an owner.
It fails exactly where several people sign one tx, so CoinJoins are skipped (and, optionally,
txs with very many inputs, where exchanges' batching or PayJoin make it less safe). When a
criminal sweeps several ransom addresses together, they end in one cluster.

Cluster ids are deterministic: clusters are numbered in the order of their smallest address.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence

from btcwatch.errors import InputError
from btcwatch.model import Tx
from btcwatch.trace.coinjoin import detect_coinjoin
from btcwatch.trace.evidence import Finding

__all__ = ["Clusters", "cluster_addresses"]

HEURISTIC = "common_input"


class Clusters:
    """The result of `cluster_addresses`: every address seen, grouped by owner.

    Most addresses of a flow are alone in their cluster; those are kept as the bare string
    (not a one-element frozenset), and the address -> cluster index is built on first use.
    """

    __slots__ = ("_built", "_links", "_members", "skipped")

    def __init__(
        self,
        members: Sequence[frozenset[str] | str],
        links: Sequence[tuple[str, ...]],
        skipped: Mapping[str, str],
    ) -> None:
        self._members = list(members)
        self._links = list(links)
        self._built: dict[str, int] | None = None
        #: txid -> why it was not used for clustering (e.g. "coinjoin:whirlpool").
        self.skipped = dict(skipped)

    @property
    def _index(self) -> dict[str, int]:
        if self._built is None:
            index: dict[str, int] = {}
            for cid, group in enumerate(self._members):
                if isinstance(group, str):
                    index[group] = cid
                else:
                    index.update(dict.fromkeys(group, cid))
            self._built = index
        return self._built

    def cluster_of(self, address: str) -> int:
        """The cluster id of an address; InputError if no clustered tx mentions it."""
        try:
            return self._index[address]
        except KeyError:
            raise InputError(f"address {address} is not in any clustered transaction") from None

    def get(self, address: str) -> int | None:
        return self._index.get(address)

    def members(self, cluster_id: int) -> frozenset[str]:
        group = self._members[self._check(cluster_id)]
        return frozenset((group,)) if isinstance(group, str) else group

    def representative(self, cluster_id: int) -> str:
        """The cluster's smallest address: a stable name for it."""
        group = self._members[self._check(cluster_id)]
        return group if isinstance(group, str) else min(group)

    def txids(self, cluster_id: int) -> tuple[str, ...]:
        """The txs whose co-spent inputs linked this cluster (sorted): its evidence."""
        return self._links[self._check(cluster_id)]

    def same_owner(self, first: str, second: str) -> bool:
        found = self._index.get(first)
        return found is not None and found == self._index.get(second)

    def sizes(self) -> dict[int, int]:
        return {
            cid: 1 if isinstance(group, str) else len(group)
            for cid, group in enumerate(self._members)
        }

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
    parent: dict[str, str] = {}  # union-find over addresses spent together, only
    size: dict[str, int] = {}
    linked_by: dict[str, list[str]] = {}
    skipped: dict[str, str] = {}
    seen: set[str] = set()  # every address, in a cluster of its own unless linked

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
        if include_outputs:
            seen.update([out.address for out in tx.outputs if out.address is not None])
        if len(tx.inputs) == 1:  # most txs: one address at most, nothing to link
            lone_input = tx.inputs[0].prev_address
            if lone_input is not None:
                seen.add(lone_input)
            continue
        addresses = {txin.prev_address for txin in tx.inputs if txin.prev_address is not None}
        if not addresses:
            continue
        seen.update(addresses)
        if len(addresses) < 2:
            continue
        if max_inputs is not None and len(tx.inputs) > max_inputs:
            skipped[tx.txid] = "too_many_inputs"
            continue
        if skip_coinjoins:
            coinjoin = detect_coinjoin(tx)
            if coinjoin is not None:
                skipped[tx.txid] = f"coinjoin:{coinjoin.fact('pattern')}"
                continue
        distinct = sorted(addresses)
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
    seen.difference_update(parent)
    # One cluster per group and per lone address, numbered in the order of their smallest
    # address: the lone ones sorted as plain strings, the groups merged in between.
    lone = sorted(seen)
    del seen
    members: list[frozenset[str] | str] = []
    evidence: list[tuple[str, ...]] = []
    done = 0
    for smallest, root in sorted((min(group), root) for root, group in groups.items()):
        upto = bisect_left(lone, smallest, done)
        members.extend(lone[done:upto])
        evidence.extend([()] * (upto - done))
        done = upto
        members.append(frozenset(groups[root]))
        evidence.append(tuple(sorted(set(linked_by.get(root, ())))))
    members.extend(lone[done:])
    evidence.extend([()] * (len(lone) - done))
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
