"""Real Redis for tests: a fresh key prefix per test, purged afterwards; never a skip."""

from __future__ import annotations

import os
import uuid

import pytest
from redis.asyncio import Redis

from authsvc import errors
from authsvc.store.redis import RedisStore

REDIS_URL = os.environ.get("QRAUTH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def new_prefix() -> str:
    return f"qrauth-test:{uuid.uuid4()}:"


async def connect_redis(prefix: str) -> RedisStore:
    """Connect, or fail loudly: tests that need Redis never skip."""
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
