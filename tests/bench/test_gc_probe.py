"""bench/gc_probe: a process started with it on PYTHONPATH writes its collector time at exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_process_writes_its_collections_at_exit(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "bench" / "gc_probe"),
           "QRAUTH_GC_PROBE_DIR": str(tmp_path)}  # fmt: skip
    code = "import gc\nfor _ in range(3): gc.collect()"
    subprocess.run([sys.executable, "-c", code], env=env, timeout=60, check=True)
    (report,) = tmp_path.glob("*.txt")
    line = report.read_text(encoding="utf-8")
    assert "| gc " in line and "s CPU" in line
    full = int(line.split("collections [")[1].split("]")[0].split(", ")[2])
    assert full >= 3  # the three full collections asked for
