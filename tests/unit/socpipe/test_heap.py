"""socpipe.heap.settle: what is alive is frozen, what was replaced is freed by the next settle."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from socpipe.heap import GC_THRESHOLDS, settle


class _Rules:
    """Stands for a loaded rule set: an object in a reference cycle (as a rule and its matcher are)."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.enable()
    gc.unfreeze()
    gc.set_threshold(*before)


def test_settle_freezes_what_is_alive_and_raises_the_thresholds() -> None:
    """After settle the living objects are frozen (collections skip them) and the thresholds are set."""
    rules = _Rules()
    settle()
    assert gc.get_freeze_count() > 0
    assert rules not in gc.get_objects()  # frozen objects are in no generation
    assert gc.get_threshold() == GC_THRESHOLDS


def test_replaced_rules_in_a_cycle_are_freed_by_the_next_settle() -> None:
    """A frozen cycle that is dropped (rules replaced by a reload) survives collections until the next
    settle, which frees it: the reload path leaks nothing."""
    rules = _Rules()
    gone = weakref.ref(rules)
    settle()
    del rules
    gc.collect()
    assert gone() is not None  # frozen: the collector does not look at it
    settle()
    assert gone() is None


def test_settle_without_collecting_still_freezes() -> None:
    """collect=False (a start-up with next to no garbage) freezes what exists, garbage included."""
    gc.disable()  # no automatic collection between the del and settle (the fixture enables it again)
    rules = _Rules()
    gone = weakref.ref(rules)
    del rules  # a cycle nobody collected yet
    settle(collect=False)
    gc.collect()
    assert gone() is not None  # frozen with the rest: only the next settle frees it
    settle()
    assert gone() is None
