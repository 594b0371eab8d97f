"""Who an address belongs to, from the shipped tag packs and the ones the investigator imported."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from btcwatch.tags import Tag


@dataclass(frozen=True, slots=True)
class Attribution:
    entity: str
    category: str
    source: str
    confidence: int


class TagIndex:
    """address -> best attribution; imported tags win over shipped ones at equal confidence."""

    def __init__(self, shipped: Iterable[Tag] = (), imported: Iterable[Tag] = ()) -> None:
        self._best: dict[str, tuple[tuple[int, int], Attribution]] = {}
        for rank, tags in ((0, shipped), (1, imported)):
            for tag in tags:
                entity = tag.entity or tag.label
                key = (tag.confidence, rank)
                found = self._best.get(tag.address)
                if found is None or key >= found[0]:
                    attribution = Attribution(entity, tag.category, tag.source, tag.confidence)
                    self._best[tag.address] = (key, attribution)

    def __contains__(self, address: object) -> bool:
        return address in self._best

    def get(self, address: str | None) -> Attribution | None:
        if address is None:
            return None
        found = self._best.get(address)
        return found[1] if found else None

    def entities(self) -> dict[str, str]:
        """address -> entity name, for heuristics that only need names."""
        return {a: best.entity for a, (_, best) in self._best.items()}

    def __len__(self) -> int:
        return len(self._best)
