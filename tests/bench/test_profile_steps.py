"""`python -m bench.profile --steps`: py-spy samples go to the login step whose handler is on
their stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.profile import (
    FLOOR_PHONE_STEPS,
    NATIVE_LOOP,
    OTHER,
    ms_by_step,
    print_against,
    print_steps,
    steps,
)

LOOP = "run_app (aiohttp/web.py:502);BaseEventLoop._run_once (asyncio/base_events.py:1922)"
HANDLE = f"{LOOP};RequestHandler._handle_request (aiohttp/web_protocol.py:577)"
STACKS = {
    f"{HANDLE};error_middleware (authsvc/http/middleware.py:54);"
    "confirm (authsvc/http/mobile.py:240);Broker.apply (authsvc/services/broker.py:99)": (
        "confirm",
        3,
    ),
    f"{HANDLE};scan (authsvc/http/mobile.py:140);verify (authsvc/core/qr.py:10)": ("scan", 2),
    f"{HANDLE};token (authsvc/http/oidc.py:90)": ("/token", 1),
    f"{LOOP};TicketStream._pump (authsvc/http/ws.py:220);_send (authsvc/http/ws.py:30)": (
        "push",
        4,
    ),
    f"{LOOP};AbstractConnection._send_packed_command (redis/asyncio/connection.py:500)": (
        "redis sends (no handler on the stack)",
        5,
    ),
    f"{HANDLE};cors_middleware (authsvc/http/cors.py:26)": ("http outside handlers", 6),
    "run_app (aiohttp/web.py:502)": (NATIVE_LOOP, 7),
    f"{LOOP};gc_collect (gc.py:1)": (OTHER, 8),
    f"{LOOP};EpollSelector.select (selectors.py:468)": ("", 100),  # waiting: not counted
}


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    path = tmp_path / "authsvc.prof"
    path.write_text("".join(f"{stack} {n}\n" for stack, (_, n) in STACKS.items()))
    meta = {"target": "authsvc", "logins": 9, "server_cpu_s": 0.036, "elapsed_s": 1.0}
    path.with_name(path.name + ".meta.json").write_text(json.dumps(meta))
    return path


def test_each_sample_goes_to_the_step_of_its_handler(profile: Path) -> None:
    """Handlers, the push, redis-py's own send task, aiohttp and the loop each get theirs."""
    total, found = steps(profile)
    assert total == 36  # the 100 samples waiting in epoll are left out
    assert dict(found) == {step: n for step, n in STACKS.values() if step}


def test_steps_prints_ms_per_login_from_the_meta_file(
    profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """4 ms of server CPU per login × the confirm's 3 of 36 samples = 0.333 ms."""
    print_steps(profile)
    lines = {line[:50].strip(): line[50:].split() for line in capsys.readouterr().out.splitlines()}
    assert lines["confirm"] == ["8.3%", "0.333"]
    assert lines["/token"] == ["2.8%", "0.111"]


FLOOR_STACKS = {
    f"{HANDLE};step (bench/floor.py:180);LeanScript.__call__ (authsvc/store/resp.py:300)": 6,
    f"{HANDLE};create (bench/floor.py:115)": 2,
    f"{LOOP};_relay (bench/floor.py:196)": 2,
    f"{HANDLE};Application._handle (aiohttp/web_app.py:563)": 2,
}


@pytest.fixture
def floor_profile(profile: Path) -> Path:
    path = profile.with_name(profile.name + ".floor")
    path.write_text("".join(f"{stack} {n}\n" for stack, n in FLOOR_STACKS.items()))
    meta = {"target": "floor", "logins": 10, "server_cpu_s": 0.012, "elapsed_s": 1.0}
    path.with_name(path.name + ".meta.json").write_text(json.dumps(meta))
    return path


def test_the_floors_handlers_go_to_their_steps(floor_profile: Path) -> None:
    """Its one handler for the five phone steps gets a row of its own."""
    _, found = steps(floor_profile)
    assert dict(found) == {
        FLOOR_PHONE_STEPS: 6,
        "create ticket": 2,
        "push": 2,
        "http outside handlers": 2,
    }


def test_against_lines_up_authsvc_and_the_floor_by_step(
    profile: Path, floor_profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """authsvc's scan and confirm (5 of 36 samples × 4 ms) are summed on the floor's row for
    the five phone steps (6 of 12 samples × 1.2 ms = 0.6 ms)."""
    assert ms_by_step(profile)[FLOOR_PHONE_STEPS] == pytest.approx(4 * 5 / 36)
    print_against(profile, floor_profile)
    rows = {line[:50].strip(): line[50:].split() for line in capsys.readouterr().out.splitlines()}
    assert rows[FLOOR_PHONE_STEPS] == ["0.556", "0.600", "-0.044"]
    assert rows["push"] == ["0.444", "0.200", "0.244"]
    assert rows["confirm"] == ["0.333"]  # authsvc's own steps, indented, no floor column
    assert rows["total (sampled, inflated by py-spy)"] == ["4.000", "1.200", "2.800"]
