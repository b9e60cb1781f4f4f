"""Storage behind one interface (`Store`), with a memory and a Redis backend."""

from authsvc.store.base import Store, Subscription
from authsvc.store.memory import MemoryStore

__all__ = ["MemoryStore", "Store", "Subscription", "open_store"]


async def open_store(
    redis_url: str | None, *, prefix: str = "qrauth:", audit_path: str = ""
) -> Store:
    """The embedded default is memory; a Redis URL switches to Redis."""
    if redis_url:
        from authsvc.store.redis import RedisStore

        return await RedisStore.connect(redis_url, prefix=prefix)
    return MemoryStore(audit_path=audit_path)
