"""The floor's phone steps carry the bytes a phone sends authsvc: a real authsvc (embedded
store) and the real floor (on a Redis of its own), one recorded login, then a floor login
whose requests are watched from the client's side."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from authsvc.core import device
from authsvc.core.crypto import Algorithm
from bench.logins import Logins, session
from bench.servers import Server, start_authsvc, start_floor, wait_ready
from tests.support.redis_cluster import lone_redis

pytestmark = pytest.mark.redis


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[tuple[Server, Server]]:
    redis = lone_redis(tmp_path / "redis", aof=False)
    authsvc = start_authsvc(tmp_path / "authsvc", "", "")
    floor = start_floor(tmp_path, redis.url, f"floor-test:{uuid.uuid4().hex}:")
    try:
        await wait_ready(authsvc)
        await wait_ready(floor)
        yield authsvc, floor
    finally:
        floor.stop()
        authsvc.stop()
        redis.stop()


def _watcher(seen: list[tuple[str, dict[str, str]]], base: str) -> aiohttp.TraceConfig:
    """Each request to `base`: its path and headers as the client sends them."""
    trace = aiohttp.TraceConfig()

    async def started(_: object, __: Any, params: aiohttp.TraceRequestStartParams) -> None:
        if str(params.url).startswith(base):
            seen.append((params.url.path, dict(params.headers)))

    trace.on_request_start.append(started)
    return trace


async def test_the_floor_gets_the_phones_headers_and_bodies(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    authsvc, floor = servers
    seen: list[tuple[str, dict[str, str]]] = []
    async with session(trace_configs=[_watcher(seen, floor.url)]) as http:
        logins = Logins(http, authsvc.url, floor.url)
        await logins.setup(tmp_path / "home", 1, Algorithm.ES256)
        recorded = logins.phone_requests
        assert set(recorded) == {"scan", "face", "confirm"}  # the choice goes with the face
        for call in recorded.values():  # what authsvc checked: the card and the signature
            assert call.headers[device.HEADER_ECARD].count(".") == 2
            assert call.headers[device.HEADER_SIGNATURE]
        assert b'"qr"' in recorded["scan"].body
        assert b"capture" in recorded["face"].body and b'"account"' in recorded["face"].body
        await logins.floor_login()
    steps = {path.rsplit("/", 1)[-1]: headers for path, headers in seen if "/tickets/" in path}
    assert set(steps) == {"scan", "face", "confirm"}
    for step, headers in steps.items():
        assert headers[device.HEADER_ECARD] == recorded[step].headers[device.HEADER_ECARD]
        assert headers[device.HEADER_SIGNATURE] == recorded[step].headers[device.HEADER_SIGNATURE]
