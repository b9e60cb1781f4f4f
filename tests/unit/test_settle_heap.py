"""`authsvc serve` (and the bench's floor) freeze what start-up made before serving."""

from __future__ import annotations

import gc

from authsvc.cli import settle_heap


def test_start_ups_objects_are_left_out_of_later_collections() -> None:
    before = gc.get_freeze_count()
    try:
        settle_heap()
        frozen = gc.get_freeze_count()
        assert frozen > before and frozen > 1000
        made_after = [[i] for i in range(100)]
        assert gc.get_freeze_count() == frozen  # only what existed then
        del made_after
    finally:
        gc.unfreeze()  # the rest of the suite collects as usual
