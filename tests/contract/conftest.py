"""One `store` fixture, run against every backend; the Redis one gets its own key prefix."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from authsvc import errors
from authsvc.store.memory import MemoryStore
from authsvc.store.redis import RedisStore

REDIS_URL = os.environ.get("QRAUTH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

AnyStore = MemoryStore | RedisStore


def new_prefix() -> str:
    return f"qrauth-test:{uuid.uuid4()}:"


async def connect_redis(prefix: str) -> RedisStore:
    """Connect, or fail loudly: the Redis contract tests never skip."""
    try:
        return await RedisStore.connect(REDIS_URL, prefix=prefix)
    except errors.Unavailable as exc:
        reason = str(exc)
    pytest.fail(
        f"Redis is not reachable at {REDIS_URL} ({reason}). Start it, e.g. "
        "`redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''`, "
        "or point QRAUTH_TEST_REDIS_URL at one. These tests fail rather than skip.",
        pytrace=False,
    )


async def purge(prefix: str) -> None:
    """Delete every key under `prefix` (SCAN + DEL)."""
    client = Redis.from_url(REDIS_URL, decode_responses=True, protocol=2)
    try:
        batch: list[str] = []
        async for key in client.scan_iter(match=f"{prefix}*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                await client.delete(*batch)
                batch.clear()
        if batch:
            await client.delete(*batch)
    finally:
        await client.aclose()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A fresh key prefix, purged afterwards."""
    prefix = new_prefix()
    yield prefix
    with contextlib.suppress(RedisConnectionError):  # Redis down: setup already failed loudly
        await purge(prefix)


@pytest.fixture
async def raw_redis() -> AsyncIterator[Redis]:
    """A plain client, to look at what the store wrote."""
    client = Redis.from_url(REDIS_URL, decode_responses=True, protocol=2)
    yield client
    await client.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[AnyStore]:
    """Every backend behind the same contract (the memory one never touches Redis)."""
    if request.param == "memory":
        memory = MemoryStore()
        yield memory
        await memory.close()
        return
    prefix = new_prefix()
    redis_store = await connect_redis(prefix)
    try:
        yield redis_store
    finally:
        await redis_store.close()
        await purge(prefix)


@pytest.fixture
async def redis_pair(redis_prefix: str) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    """Two RedisStores on one prefix: two broker processes sharing one Redis."""
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
