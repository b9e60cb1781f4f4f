"""Fixtures shared by the integration, security and end-to-end suites."""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from mobile_sim import PhoneApp, faces
from tests.support import people
from tests.support.redis import new_prefix, purge
from tests.support.redis_cluster import RedisCluster
from tests.support.servers import Broker, running_authsvc

# The people's faces for every phone a test opens (PhoneApp, the CLI, the phone page), in a
# folder of this test run apart from the phones' home folders.
os.environ.setdefault(faces.ENV, str(people.faces_dir()))

# A valid GB 11643 ID number and name for the default test citizen.
CITIZEN = {"name": "张三", "id_number": "11010519491231002X", "phone": "13800138000"}


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """One three-master Redis Cluster (a replica each) for the session, on its own ports."""
    cluster = RedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    prefix = new_prefix()
    yield prefix
    with contextlib.suppress(RedisConnectionError):
        await purge(prefix)


@pytest.fixture
async def authsvc(tmp_path: Path, store_kind: str, redis_prefix: str) -> AsyncIterator[Broker]:
    """A real authsvc on 127.0.0.1, on the memory store and on Redis."""
    async with running_authsvc(tmp_path, store_kind=store_kind, prefix=redis_prefix) as broker:
        yield broker


class _TrackedSocket(aiohttp.ClientWebSocketResponse):
    """A client WebSocket that the `http` fixture closes at teardown: one a test left open
    would otherwise hold its connection until the garbage collector finds it (a ResourceWarning
    in whichever test runs then)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _OPEN_SOCKETS.add(self)


_OPEN_SOCKETS: weakref.WeakSet[aiohttp.ClientWebSocketResponse] = weakref.WeakSet()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(ws_response_class=_TrackedSocket) as session:
        yield session
        for ws in list(_OPEN_SOCKETS):
            await ws.close()


PhoneFactory = Callable[..., Awaitable[PhoneApp]]


@pytest.fixture
async def phones(tmp_path: Path) -> AsyncIterator[PhoneFactory]:
    """Make phones with an e-card: `await phones(broker_url, name=..., id_number=...)`."""
    made: list[PhoneApp] = []

    async def make(broker_url: str, *, apply: bool = True, **person: str) -> PhoneApp:
        phone = PhoneApp.open(
            tmp_path / f"phone-{len(made)}", broker_url, faces_dir=people.faces_dir()
        )
        made.append(phone)
        if apply:
            citizen = {**CITIZEN, **person}
            await phone.apply_ecard(citizen["name"], citizen["id_number"], citizen["phone"])
        return phone

    yield make
    for phone in made:
        await phone.close()


REDIS_FIXTURES = frozenset({"redis_prefix", "raw_redis", "redis_pair"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what each test needs, so subsets run: `-m "not e2e"`, `-m pg`, `-m "not redis"`.

    e2e: everything in tests/e2e (a real Chromium); pg: a PostgreSQL parameter of any fixture;
    redis: a Redis parameter, or a fixture that talks to Redis."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        names = set(getattr(item, "fixturenames", ()))
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.e2e)
        if "postgresql" in params.values():
            item.add_marker(pytest.mark.pg)
        if "redis" in params.values() or names & REDIS_FIXTURES:
            item.add_marker(pytest.mark.redis)
