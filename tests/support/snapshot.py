"""What a store holds, for refusal tests that prove nothing was stored (memory and Redis)."""

from __future__ import annotations

from redis.asyncio import Redis

from authsvc.store import MemoryStore
from authsvc.store.base import Store
from tests.support.redis import REDIS_URL


async def stored_keys(store: Store, prefix: str) -> set[str]:
    """Every key the store holds now: tickets, values and one-time markers (memory), or every
    Redis key under the test's prefix — except rate-limit counters, which count every request,
    refused or not. Reads the memory store's tables directly: it has no listing operation, and
    adding one to the Store contract for tests alone would be worse."""
    if isinstance(store, MemoryStore):
        tables = {
            "t": store._tickets,
            "v": store._values,
            "once": store._once,
        }
        return {f"{name}:{key}" for name, table in tables.items() for key in table._items}
    client = Redis.from_url(REDIS_URL, decode_responses=True, protocol=2)
    try:
        keys = {key async for key in client.scan_iter(match=f"{prefix}*", count=500)}
        return {key for key in keys if not key.startswith(f"{prefix}h:")}
    finally:
        await client.aclose()
