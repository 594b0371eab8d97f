"""Keep CPython's cyclic GC off objects that existed before a large search or analysis.

A flow of a million txs is some ten million objects, none of them garbage; each time the
objects a search or an analysis creates pile up, a full collection walks all of them again.
`heap_frozen` sets what exists on entry aside (gc.freeze) and puts it back on exit; the
objects created inside are collected as usual. Measured on a 1M-tx peel flow (bench_scale.py).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["gc_paused", "heap_frozen"]


def _nothing() -> None:
    return None


@contextmanager
def heap_frozen() -> Iterator[Callable[[], None]]:
    """Freeze the GC-tracked objects that exist now for the duration of the block.

    Yields ``settle``: calling it freezes what exists by then too (a search calls it after
    each hop: what survived a hop is the flow it keeps, which full collections would
    otherwise walk again and again as it grows; measured on a 1M-tx peel flow read hop by
    hop, bench_scale.py). Garbage frozen that way waits for the exit, then is collected as
    usual. Does nothing when something else in the process has frozen objects already
    (unfreezing on exit would release theirs), so nested or concurrent uses are safe.
    """
    if gc.get_freeze_count():
        yield _nothing
        return
    gc.freeze()
    try:
        yield gc.freeze
    finally:
        gc.unfreeze()


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection at all during the block: for synchronous work that builds
    millions of acyclic objects (the analysis of a flow) and whose garbage, if any, can wait.

    On exit the objects made inside join the oldest generation without being walked (a
    freeze/unfreeze moves them there wholesale), and collection resumes as before. Only
    freezes when nothing else in the process has frozen objects.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    ours = not gc.get_freeze_count()
    try:
        yield
    finally:
        if ours:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()
