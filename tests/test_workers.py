from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from reingest.workers import GC_YOUNG_THRESHOLD, settle_garbage_collector, worker_name


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_worker_names_are_unique_per_call() -> None:
    assert worker_name("index") != worker_name("index")
    assert worker_name("check").startswith("check@")


def test_long_running_processes_freeze_what_is_loaded_and_collect_less_often(
    restored_gc: None,
) -> None:
    middle_and_old = gc.get_threshold()[1:]
    settle_garbage_collector()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *middle_and_old)

    class Cycle:
        other: object

    first, second = Cycle(), Cycle()
    first.other, second.other = second, first
    del first, second
    assert gc.collect() >= 2  # cyclic garbage made after the freeze is still collected
