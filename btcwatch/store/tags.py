"""Attribution tags in the database; each keeps its source and confidence."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from btcwatch.store.db import Store
from btcwatch.tags import Tag
from btcwatch.timefmt import now_iso


def save_tags(store: Store, tags: Iterable[Tag]) -> tuple[int, int]:
    """Insert tags, skipping ones already known (same address, label, source)."""
    added = present = 0
    now = now_iso()
    with store.write() as db:
        for tag in tags:
            if db.table("tags").count_where(
                "address = ? AND label = ? AND source = ?", [tag.address, tag.label, tag.source]
            ):
                present += 1
                continue
            db.table("tags").insert(
                {
                    "address": tag.address,
                    "label": tag.label,
                    "category": tag.category,
                    "entity": tag.entity,
                    "source": tag.source,
                    "confidence": str(tag.confidence),
                    "pack": tag.pack,
                    "imported_at": now,
                }
            )
            added += 1
    return added, present


def _tag(row: dict[str, Any]) -> Tag:
    confidence = row["confidence"]
    return Tag(
        address=row["address"],
        label=row["label"],
        category=row["category"],
        source=row["source"],
        confidence=int(confidence) if confidence else 0,
        entity=row["entity"],
        is_public=True,
        pack=row["pack"],
    )


def list_tags(
    store: Store, *, category: str | None = None, addresses: Sequence[str] | None = None
) -> list[Tag]:
    where: list[str] = []
    params: list[Any] = []
    if category:
        where.append("category = ?")
        params.append(category)
    if addresses is not None:
        if not addresses:
            return []
        where.append(f"address IN ({', '.join('?' for _ in addresses)})")
        params.extend(addresses)
    rows = store._db.table("tags").rows_where(
        " AND ".join(where) or None, params, order_by="address, label"
    )
    return [_tag(r) for r in rows]
