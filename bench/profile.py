"""Summarise a py-spy collapsed-stack file: where the samples went, by function or by step.

    python -m bench.profile FILE [--top N] [--match TEXT] [--busy]
    python -m bench.profile FILE --steps
    python -m bench.profile FILE --steps --against FILE.floor

`self` is the share of samples with the function on top of the stack, `total` the share with it
anywhere on the stack (counted once per sample). Idle time in the event loop's `select` shows
up as such; --busy leaves those samples out, so the shares are of CPU work.

--steps attributes each busy sample to the login's step whose handler is on its stack (`STEPS`,
first match wins: the push's frames first, since events are handed out from whatever task
receives them), and with FILE.meta.json (written by `python -m bench --profile`: the sampled
run's logins and server CPU) turns each share into ms of server CPU per login.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

_IDLE = ("select (selectors.py", "poll (selectors.py", "epoll")  # py-spy: EpollSelector.select
_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")


def _frame(raw: str) -> str:
    """`func (path/to/module.py:123)` → `func (module.py)` so lines of one function add up."""
    name, _, where = raw.partition(" (")
    file = where.rsplit(":", 1)[0].rstrip(")")
    parts = file.split("/")
    short = "/".join(parts[-2:]) if len(parts) > 1 else file
    return f"{name} ({short})"


def _idle(frame: str) -> bool:
    """The event loop waiting (py-spy names methods by class: `EpollSelector.select`)."""
    func, _, where = frame.partition(" (")
    return f"{func.rsplit('.', 1)[-1]} ({where}".startswith(_IDLE)


def summarise(path: Path, *, busy: bool) -> tuple[int, Counter[str], Counter[str]]:
    total, own, anywhere = 0, Counter[str](), Counter[str]()
    for line in path.read_text(errors="replace").splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        frames = [_frame(f) for f in match["stack"].split(";") if f]
        if not frames or (busy and _idle(frames[-1])):
            continue
        count = int(match["count"])
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            anywhere[frame] += count
    return total, own, anywhere


PHONE_STEPS = ("scan", "account", "face-challenge", "face", "confirm")
FLOOR_PHONE_STEPS = "scan … confirm (the floor: one handler)"
# (step, [(function or "*", file suffix)]): a sample belongs to the first step with a frame on
# its stack that matches. Frames read `function (folder/file.py)` (see _frame).
STEPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "push",
        (
            ("_pump", "http/ws.py"),
            ("on_event", "http/ws.py"),
            ("_queue", "http/ws.py"),
            ("_reload", "http/ws.py"),
            ("_on_message", "store/redis.py"),
            ("*", "store/redis_events.py"),
            ("deliver", "store/fanout.py"),
            ("offer", "store/fanout.py"),
            ("_relay", "bench/floor.py"),
        ),
    ),
    ("create ticket", (("create_ticket", "http/browser.py"), ("create", "bench/floor.py"))),
    ("websocket open + auth", (("ticket_socket", "http/ws.py"), ("socket", "bench/floor.py"))),
    ("long-poll", (("long_poll", "http/browser.py"), ("long_poll", "bench/floor.py"))),
    ("scan", (("scan", "http/mobile.py"),)),
    ("account", (("choose_account", "http/mobile.py"),)),
    ("face-challenge", (("ticket_face_challenge", "http/mobile.py"),)),
    ("face", (("face_check", "http/mobile.py"),)),
    ("confirm", (("confirm", "http/mobile.py"),)),
    # The floor answers all the phone steps from one handler, so py-spy cannot tell them apart.
    (FLOOR_PHONE_STEPS, (("step", "bench/floor.py"),)),
    ("/token", (("token", "http/oidc.py"),)),
    # redis-py sends each command from asyncio.wait_for, which on Python 3.11 runs it as a task
    # of its own: the handler that sent it is not on the stack.
    ("redis sends (no handler on the stack)", (("_send_packed_command", "asyncio/connection.py"),)),
    (
        "http outside handlers",
        (
            ("*", "aiohttp/web_protocol.py"),
            ("*", "aiohttp/web_app.py"),
            ("*", "aiohttp/web_ws.py"),
            ("*", "aiohttp/http_parser.py"),
            ("*", "aiohttp/http_writer.py"),
            ("*", "http/middleware.py"),
            ("_accept_connection", "asyncio/selector_events.py"),
            ("_accept_connection2", "asyncio/selector_events.py"),
        ),
    ),
)
OTHER = "other (asyncio's loop, GC, timers, background tasks)"
# With uvloop the loop and the sockets' reads and writes are native code: such samples end in
# the frame that entered the loop.
NATIVE_LOOP = "event loop, native (uvloop, socket I/O)"
_LOOP_ENTRY = ("run_app (aiohttp/web.py)", "run_until_complete", "run_forever")


def _matches(frame: str, rule: tuple[str, str]) -> bool:
    name, file = rule
    func, _, where = frame.partition(" (")
    func = func.rsplit(".", 1)[-1]  # py-spy's qualified name (Class.method) as its method
    return where.rstrip(")").endswith(file) and name in ("*", func)


def step_of(frames: list[str]) -> str:
    for step, rules in STEPS:
        if any(_matches(f, rule) for f in frames for rule in rules):
            return step
    top = frames[-1].partition(" (")[0].rsplit(".", 1)[-1]
    if frames[-1].startswith(_LOOP_ENTRY) or top in _LOOP_ENTRY:
        return NATIVE_LOOP
    return OTHER


def steps(path: Path) -> tuple[int, Counter[str]]:
    """Busy samples, and how many of them each step has."""
    total, found = 0, Counter[str]()
    for line in path.read_text(errors="replace").splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        frames = [_frame(f) for f in match["stack"].split(";") if f]
        if not frames or _idle(frames[-1]):
            continue
        total += int(match["count"])
        found[step_of(frames)] += int(match["count"])
    return total, found


def _cpu_ms(path: Path) -> tuple[float | None, str]:
    """The sampled run's server CPU per login (from FILE.meta.json), and a line saying so."""
    meta_path = path.with_name(path.name + ".meta.json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if not meta.get("logins"):
        return None, ""
    cpu_ms = meta["server_cpu_s"] * 1e3 / meta["logins"]
    return cpu_ms, f"{meta['logins']} logins ({meta['target']}), server CPU {cpu_ms:.2f} ms/login"


def _order() -> list[str]:
    return [s for s, _ in STEPS] + [NATIVE_LOOP, OTHER]


def print_steps(path: Path) -> None:
    total, found = steps(path)
    cpu_ms, said = _cpu_ms(path)
    print(
        f"{total} busy samples" + (f", {said} while sampled (py-spy inflates it)" if said else "")
    )
    print(f"\n{'step':50} {'samples':>8} {'ms/login':>9}")
    for step in _order():
        share = found[step] / max(total, 1)
        ms = f"{share * cpu_ms:9.3f}" if cpu_ms is not None else f"{'?':>9}"
        print(f"{step:50} {100 * share:7.1f}% {ms}")


def ms_by_step(path: Path) -> dict[str, float]:
    """Each step's ms of server CPU per login, with authsvc's phone steps also summed
    under the floor's name for them (so two profiles line up row by row)."""
    total, found = steps(path)
    cpu_ms, _ = _cpu_ms(path)
    if cpu_ms is None:
        raise SystemExit(f"{path}: no {path.name}.meta.json (written by python -m bench --profile)")
    ms = {step: found[step] / max(total, 1) * cpu_ms for step in _order()}
    ms[FLOOR_PHONE_STEPS] += sum(ms[step] for step in PHONE_STEPS)
    return ms


def print_against(path: Path, floor: Path) -> None:
    """Two profiles side by side: where authsvc's CPU per login goes beyond the floor's."""
    ours, theirs = ms_by_step(path), ms_by_step(floor)
    print(f"{'ms of server CPU per login':50} {'authsvc':>8} {'floor':>8} {'more':>8}")
    for step in _order():
        if step in PHONE_STEPS:
            print(f"  {step:48} {ours[step]:8.3f}")
            continue
        if ours[step] or theirs[step]:
            more = ours[step] - theirs[step]
            print(f"{step:50} {ours[step]:8.3f} {theirs[step]:8.3f} {more:8.3f}")
    a, b = (sum(ms[s] for s in _order() if s not in PHONE_STEPS) for ms in (ours, theirs))
    print(f"{'total (sampled, inflated by py-spy)':50} {a:8.3f} {b:8.3f} {a - b:8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--match", default="", help="only functions whose name/file contains this")
    parser.add_argument(
        "--busy", action="store_true", help="leave out samples idle in select/epoll"
    )
    parser.add_argument(
        "--steps", action="store_true", help="busy samples by the login's step (handler frame)"
    )
    parser.add_argument(
        "--against",
        type=Path,
        metavar="FLOOR_FILE",
        help="with --steps: this profile's ms per login beside another's (FILE.floor)",
    )
    args = parser.parse_args()
    if args.steps and args.against:
        print_against(args.file, args.against)
        return
    if args.steps:
        print_steps(args.file)
        return
    total, own, anywhere = summarise(args.file, busy=args.busy)
    print(f"{total} samples")
    for title, table in (("total (inclusive)", anywhere), ("self", own)):
        print(f"\n{title}:")
        rows = [(f, n) for f, n in table.most_common() if args.match in f][: args.top]
        for frame, n in rows:
            print(f"{100 * n / max(total, 1):6.1f}%  {frame}")


if __name__ == "__main__":
    main()
