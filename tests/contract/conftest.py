"""One `store` fixture, run against every backend; the Redis one gets its own key prefix."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from authsvc.core.clock import FrozenClock
from authsvc.store.memory import MemoryStore
from authsvc.store.redis import RedisStore
from authsvc.store.sqlite import EmbeddedStore
from tests.support.redis import REDIS_URL, connect_redis, new_prefix, purge
from tests.support.redis_cluster import RedisCluster

AnyStore = MemoryStore | RedisStore | EmbeddedStore


@pytest.fixture
async def raw_redis() -> AsyncIterator[Redis]:
    """A plain client, to look at what the store wrote."""
    client = Redis.from_url(REDIS_URL, decode_responses=True, protocol=2)
    yield client
    await client.aclose()


@pytest.fixture
def expiry_clock() -> FrozenClock:
    """The memory stores' clock of physical expiry, moved by `lapse`."""
    return FrozenClock(0.0)


@pytest.fixture(
    params=[
        "memory",
        "embedded",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("redis-cluster", marks=pytest.mark.redis),
    ]
)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, expiry_clock: FrozenClock
) -> AsyncIterator[AnyStore]:
    """Every backend behind the same contract (memory and embedded never touch Redis; the
    embedded one keeps its long-lived records in a SQLite file of the test's own)."""
    if request.param in ("memory", "embedded"):
        local = (
            MemoryStore(monotonic=expiry_clock.now)
            if request.param == "memory"
            else EmbeddedStore(tmp_path / "store.db", monotonic=expiry_clock.now)
        )
        yield local
        await local.close()
        return
    prefix = new_prefix()
    if request.param == "redis-cluster":
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        clustered = await RedisStore.connect(cluster.url, prefix=prefix, cluster=True)
        try:
            yield clustered
        finally:
            await clustered.close()
            cluster.purge(prefix)
        return
    redis_store = await connect_redis(prefix)
    try:
        yield redis_store
    finally:
        await redis_store.close()
        await purge(prefix)


Lapse = Callable[[float], Awaitable[None]]


@pytest.fixture
def lapse(store: AnyStore, expiry_clock: FrozenClock) -> Lapse:
    """Let `seconds` of TTL pass: the memory store's clock moves (no waiting); Redis expires
    keys on its own clock, which no test can move, so there — only there — the test waits."""

    async def advance(seconds: float) -> None:
        if isinstance(store, MemoryStore):
            expiry_clock.advance(seconds)
        else:
            await asyncio.sleep(seconds)

    return advance


@pytest.fixture(params=["redis", "redis-cluster"])
async def redis_pair(
    request: pytest.FixtureRequest, redis_prefix: str
) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    """Two RedisStores on one prefix: two broker processes sharing one Redis, or sharing the
    Redis Cluster."""
    if request.param == "redis-cluster":
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        one = await RedisStore.connect(cluster.url, prefix=redis_prefix, cluster=True)
        two = await RedisStore.connect(cluster.url, prefix=redis_prefix, cluster=True)
        try:
            yield one, two
        finally:
            await two.close()
            await one.close()
            cluster.purge(redis_prefix)
        return
    a = await connect_redis(redis_prefix)
    try:
        b = await connect_redis(redis_prefix)
    except BaseException:
        await a.close()
        raise
    try:
        yield a, b
    finally:
        await b.close()
        await a.close()


@pytest.fixture(params=["redis", "redis-cluster"])
async def redis_store(
    request: pytest.FixtureRequest, redis_prefix: str
) -> AsyncIterator[RedisStore]:
    """One RedisStore on its own prefix, on one Redis or on the Redis Cluster."""
    if request.param == "redis-cluster":
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        clustered = await RedisStore.connect(cluster.url, prefix=redis_prefix, cluster=True)
        try:
            yield clustered
        finally:
            await clustered.close()
            cluster.purge(redis_prefix)
        return
    single = await connect_redis(redis_prefix)
    try:
        yield single
    finally:
        await single.close()
