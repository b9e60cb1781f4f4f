"""`authsvc serve` (and the bench's floor) settle the cycle collector before serving: start-up's
objects frozen out of its sight, young collections every 50,000 allocations. Run in a child
interpreter: the test process's own collector stays as pytest set it."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json
from authsvc import app  # what `serve` imports before it settles the collector
from authsvc.cli import settle_gc
before = gc.get_freeze_count()
settle_gc()
print(json.dumps({"before": before, "frozen": gc.get_freeze_count(),
                  "threshold": gc.get_threshold(), "young": gc.get_count()[0]}))
"""


def test_start_up_objects_are_frozen_and_young_collections_are_rarer() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, check=True, text=True)
    probe = json.loads(out.stdout)
    assert probe["before"] == 0
    assert probe["frozen"] > 50_000  # the imported modules' objects, at least
    assert probe["threshold"] == [50_000, 10, 10]
    assert probe["young"] < 1_000  # collected just before freezing
