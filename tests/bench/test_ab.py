"""`python -m bench.ab` end to end, small: two real authsvc processes (both this checkout: an
A/A run), alternating turns of real logins, ONE JSON object with every turn's figure. The logins
are long-poll ones (`--login longpoll`); the broker login's turns are the main bench's own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_an_a_a_run_reports_every_turn_and_the_paired_ratio() -> None:
    args = ["--other", str(ROOT), "--rounds", "2", "--logins", "20", "--concurrency", "4"]
    args += ["--login", "longpoll"]
    done = subprocess.run(
        [sys.executable, "-m", "bench.ab", *args, "--phones", "4"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert out["login"] == "longpoll"
    assert len(out["ms_per_login"]["this"]) == len(out["ms_per_login"]["other"]) == 2
    assert all(ms > 0 for side in out["ms_per_login"].values() for ms in side)
    assert all(ms > 0 for side in out["push_p50_ms"].values() for ms in side)
    low, high = out["other_over_this_paired_range"]
    assert 0 < low <= out["other_over_this_paired_median"] <= high
