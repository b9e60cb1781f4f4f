"""Summarise a py-spy collapsed-stack file: where the samples went, by function.

    python -m bench.profile FILE [--top N] [--match TEXT]

`self` is the share of samples with the function on top of the stack, `total` the share with it
anywhere on the stack (counted once per sample). Idle time in the event loop's `select` shows
up as such; --busy leaves those samples out, so the shares are of CPU work.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_IDLE = ("select (selectors.py", "poll (selectors.py", "epoll")
_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")


def _frame(raw: str) -> str:
    """`func (path/to/module.py:123)` → `func (module.py)` so lines of one function add up."""
    name, _, where = raw.partition(" (")
    file = where.rsplit(":", 1)[0].rstrip(")")
    parts = file.split("/")
    short = "/".join(parts[-2:]) if len(parts) > 1 else file
    return f"{name} ({short})"


def summarise(path: Path, *, busy: bool) -> tuple[int, Counter[str], Counter[str]]:
    total, own, anywhere = 0, Counter[str](), Counter[str]()
    for line in path.read_text(errors="replace").splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        frames = [_frame(f) for f in match["stack"].split(";") if f]
        if not frames or (busy and any(frames[-1].startswith(i) for i in _IDLE)):
            continue
        count = int(match["count"])
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            anywhere[frame] += count
    return total, own, anywhere


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--match", default="", help="only functions whose name/file contains this")
    parser.add_argument(
        "--busy", action="store_true", help="leave out samples idle in select/epoll"
    )
    args = parser.parse_args()
    total, own, anywhere = summarise(args.file, busy=args.busy)
    print(f"{total} samples")
    for title, table in (("total (inclusive)", anywhere), ("self", own)):
        print(f"\n{title}:")
        rows = [(f, n) for f, n in table.most_common() if args.match in f][: args.top]
        for frame, n in rows:
            print(f"{100 * n / max(total, 1):6.1f}%  {frame}")


if __name__ == "__main__":
    main()
