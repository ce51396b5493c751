"""The garbage collector's settings for a running bot (bot/collector.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bot import collector


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_collector")
def test_settle_leaves_the_start_heap_out_of_collections_and_still_collects_cycles() -> None:
    before = gc.get_freeze_count()
    collector.settle()
    assert gc.get_freeze_count() > before, "what was alive at start is frozen"
    assert gc.get_threshold()[0] == collector.YOUNG_THRESHOLD

    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle made after the start is still collected
    del a, b
    assert gc.collect() >= 2
