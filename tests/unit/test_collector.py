"""GC_TUNING: the serving process freezes its start-up heap and raises the young threshold, or leaves both."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from entrypoints.collector import MIDDLE_THRESHOLD, OLD_THRESHOLD, tune_collector
from entrypoints.config import load_settings


@pytest.fixture(autouse=True)
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_tuning_freezes_the_heap_and_raises_the_young_threshold() -> None:
    settings = load_settings([], environ={"GC_YOUNG_THRESHOLD": "25000"}, dotenv=None)
    tune_collector(settings)
    assert gc.get_threshold() == (25000, MIDDLE_THRESHOLD, OLD_THRESHOLD)
    assert gc.get_freeze_count() > 1000  # the modules and objects made so far are out of every collection


def test_tuning_off_leaves_the_collector_as_python_set_it() -> None:
    gc.set_threshold(700, 10, 10)
    tune_collector(load_settings([], environ={"GC_TUNING": "false"}, dotenv=None))
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_a_young_threshold_below_100_is_refused() -> None:
    from entrypoints.config import ConfigError

    with pytest.raises(ConfigError, match="GC_YOUNG_THRESHOLD"):
        load_settings([], environ={"GC_YOUNG_THRESHOLD": "5"}, dotenv=None)
