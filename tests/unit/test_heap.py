"""What a long-running process does once it has made what it keeps: garbage collected, the rest frozen."""

from __future__ import annotations

import gc
import runpy
import weakref
from pathlib import Path

from services import heap


class Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_settle_collects_the_garbage_then_moves_what_is_left_out_of_the_collector_s_passes():
    dropped = Node()
    gone = weakref.ref(dropped)
    del dropped
    kept = Node()
    try:
        heap.settle()
        assert gone() is None  # collected, not frozen with the rest
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # the modules' objects too
        assert not any(obj is kept for obj in gc.get_objects())  # in no generation a pass walks
    finally:
        gc.unfreeze()
    assert any(obj is kept for obj in gc.get_objects())


def test_each_web_worker_settles_once_its_application_is_loaded():
    conf = runpy.run_path(str(Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"))
    kept = Node()
    try:
        conf["post_worker_init"](None)
        assert not any(obj is kept for obj in gc.get_objects())
    finally:
        gc.unfreeze()
