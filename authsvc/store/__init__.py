"""Storage behind one interface (`Store`), with a memory and a Redis backend."""

from authsvc.store.base import Store, Subscription
from authsvc.store.memory import MemoryStore

__all__ = ["MemoryStore", "Store", "Subscription", "open_store"]


async def open_store(
    redis_url: str | None, *, prefix: str = "qrauth:", audit_path: str = "", db_path: str = ""
) -> Store:
    """The embedded default is memory with the long-lived records in a SQLite file (`db_path`;
    none: memory only); a Redis URL switches to Redis."""
    if redis_url:
        from authsvc.store.redis import RedisStore

        return await RedisStore.connect(redis_url, prefix=prefix)
    if db_path:
        from authsvc.store.sqlite import EmbeddedStore

        return EmbeddedStore(db_path, audit_path=audit_path)
    return MemoryStore(audit_path=audit_path)
