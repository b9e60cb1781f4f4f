"""Time spent in CPython's cycle collector, per process: `PYTHONPATH=bench/gc_probe python -m
bench` (every process the bench starts inherits it). At exit each process writes one line to
`$QRAUTH_GC_PROBE_DIR/PID.txt` (default /tmp/qrauth-gc-probe): its command line, seconds in
the collector, its CPU seconds, collections per generation and the longest one.

Not part of the bench's figures: `gc.callbacks` costs a little on every collection. A server
stopped with SIGTERM exits through aiohttp's run_app, so its atexit hooks run.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

_spent = [0.0, 0.0, 0.0]  # total, started at, longest
_counts = [0, 0, 0]


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _spent[1] = time.perf_counter()
        return
    took = time.perf_counter() - _spent[1]
    _spent[0] += took
    _spent[2] = max(_spent[2], took)
    _counts[info["generation"]] += 1


def _write() -> None:
    folder = Path(os.environ.get("QRAUTH_GC_PROBE_DIR", "/tmp/qrauth-gc-probe"))
    folder.mkdir(parents=True, exist_ok=True)
    line = (
        f"{' '.join(sys.argv)[:100]} | gc {_spent[0]:.3f} s of {time.process_time():.3f} s CPU"
        f" | collections {_counts} | longest {_spent[2] * 1000:.1f} ms\n"
    )
    (folder / f"{os.getpid()}.txt").write_text(line, encoding="utf-8")


gc.callbacks.append(_on_collection)
atexit.register(_write)
