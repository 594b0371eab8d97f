"""What a watch invocation asks of every cycle: case, mode, confirmations, mempool, budget."""

from __future__ import annotations

from dataclasses import dataclass

from btcwatch.watch.hotset import DEFAULT_HOT_SET


@dataclass(frozen=True, slots=True)
class WatchOptions:
    case: str | None = None
    mode: str = "auto"  # auto | address | block
    confirmations: int = 1
    from_height: int | None = None
    mempool: str = "hot"  # block mode: hot | full | off (see watch/mempool.py)
    hot_set: int = DEFAULT_HOT_SET  # addresses whose mempool a block-mode tick reads
    budget: int | None = None  # requests per tick (None: no limit); the rest is deferred
    follow: bool = False  # `--follow`: owe a follow-up trace for each case whose money moved
