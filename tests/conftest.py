"""Fixtures shared by the integration, security and end-to-end suites."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

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


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


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
