"""Snapshots for refusal tests that prove nothing changed: a Store's keys (memory and Redis),
and every table of the portal's database with its upload folder."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import select

from authsvc.store import MemoryStore
from authsvc.store.base import Store
from portal.db.models import Base
from portal.http.keys import DB, SETTINGS
from tests.support.redis import REDIS_URL

Snapshot = dict[str, list[tuple[Any, ...]]]


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


async def snapshot(app: web.Application, *, leave_out: tuple[str, ...] = ()) -> Snapshot:
    """{table: rows} of the portal for every table of the models (but `leave_out`), plus
    `files:uploads`. Rows are read in primary-key order with every column, so any insert,
    update or delete shows."""
    found: Snapshot = {}
    async with app[DB]() as db:
        for table in Base.metadata.sorted_tables:
            if table.name in leave_out:
                continue
            rows = await db.execute(select(table).order_by(*table.primary_key.columns))
            found[table.name] = [tuple(row) for row in rows]
    folder: Path = app[SETTINGS].upload_dir
    files = sorted(folder.rglob("*")) if folder.exists() else []
    found["files:uploads"] = [
        (str(p.relative_to(folder)), hashlib.sha256(p.read_bytes()).hexdigest())
        for p in files
        if p.is_file()
    ]
    return found
