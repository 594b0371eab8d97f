"""heap_frozen sets existing objects aside for the GC and always puts them back."""

from __future__ import annotations

import gc

import pytest

from btcwatch.trace.heap import gc_paused, heap_frozen


def test_freezes_inside_and_restores_after() -> None:
    assert gc.get_freeze_count() == 0
    with heap_frozen():
        assert gc.get_freeze_count() > 0
        with heap_frozen():  # nested: leaves the outer freeze alone
            assert gc.get_freeze_count() > 0
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_restores_after_an_error() -> None:
    with pytest.raises(ValueError), heap_frozen():
        raise ValueError("boom")
    assert gc.get_freeze_count() == 0


def test_leaves_a_freeze_made_by_someone_else() -> None:
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        with heap_frozen():
            pass
        assert gc.get_freeze_count() == before
    finally:
        gc.unfreeze()


def test_gc_paused_restores_collection_and_keeps_new_objects() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        made = [[i] for i in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    assert gc.is_tracked(made[0]) and len(made) == 1000
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
