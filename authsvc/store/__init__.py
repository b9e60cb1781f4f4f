"""Storage behind one interface (`Store`), with a memory and a Redis backend."""

from authsvc.store.base import Store, Subscription
from authsvc.store.memory import MemoryStore

__all__ = ["MemoryStore", "Store", "Subscription", "open_store"]


async def open_store(
    redis_url: str | None,
    *,
    prefix: str = "qrauth:",
    audit_path: str = "",
    db_path: str = "",
    redis_cluster_url: str = "",
) -> Store:
    """The embedded default is memory with the long-lived records in a SQLite file (`db_path`;
    none: memory only); a Redis URL switches to Redis, a Redis Cluster URL (any one node; the
    others are discovered) to Redis Cluster."""
    if redis_cluster_url or redis_url:
        from authsvc.store.redis import RedisStore

        if redis_cluster_url:
            return await RedisStore.connect(redis_cluster_url, prefix=prefix, cluster=True)
        return await RedisStore.connect(redis_url or "", prefix=prefix)
    if db_path:
        from authsvc.store.sqlite import EmbeddedStore

        return EmbeddedStore(db_path, audit_path=audit_path)
    return MemoryStore(audit_path=audit_path)
