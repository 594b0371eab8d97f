"""Request rates learned from explorers' 429s, kept per base URL between cron processes.

Why: each `watch --once` is a new process; without this every tick would start at the
configured rate, earn its 429s and slow down again. The providers learn (and never touch the
database); the watch keeps what they learned here and hands it back at the next start.
"""

from __future__ import annotations

from collections.abc import Mapping

from btcwatch.store.db import Store
from btcwatch.timefmt import now_iso

__all__ = ["learned_rates", "save_learned_rates"]


def learned_rates(store: Store) -> dict[str, float]:
    return {r["base_url"]: float(r["rate"]) for r in store._db.table("explorer_rates").rows}


def save_learned_rates(store: Store, rates: Mapping[str, float | None]) -> None:
    """Keep each explorer's learned rate; None forgets it (the configured rate is fine)."""
    known = learned_rates(store)
    changes = {u: r for u, r in rates.items() if known.get(u) != r and (r or u in known)}
    if not changes:
        return
    with store.write() as db:
        for url, rate in changes.items():
            if rate is None:
                db.execute("DELETE FROM explorer_rates WHERE base_url = ?", [url])
            else:
                db.execute(
                    "INSERT OR REPLACE INTO explorer_rates (base_url, rate, learned_at) "
                    "VALUES (?, ?, ?)",
                    [url, rate, now_iso()],
                )
