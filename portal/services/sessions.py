"""Server-side sessions keyed by the SHA-256 of the cookie's random id."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.db.models import WebSession


def key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def load(db: AsyncSession, session_id: str, now: dt.datetime) -> dict[str, Any] | None:
    row = await db.get(WebSession, key(session_id))
    if row is None or row.expires_at <= now:
        return None
    return dict(row.data)


async def save(
    db: AsyncSession,
    session_id: str,
    data: dict[str, Any],
    *,
    op_sid: str | None,
    now: dt.datetime,
    ttl: dt.timedelta,
) -> None:
    row = await db.get(WebSession, key(session_id))
    if row is None:
        row = WebSession(id=key(session_id), created_at=now, data={}, expires_at=now + ttl)
        db.add(row)
    row.data = dict(data)
    row.op_sid = op_sid
    row.expires_at = now + ttl
    await db.commit()


async def drop(db: AsyncSession, session_id: str) -> None:
    await db.execute(delete(WebSession).where(WebSession.id == key(session_id)))
    await db.commit()


async def drop_by_op_sid(db: AsyncSession, op_sid: str) -> int:
    """Back-channel logout: end every session that the provider's `sid` created."""
    ids = list(await db.scalars(select(WebSession.id).where(WebSession.op_sid == op_sid)))
    if ids:
        await db.execute(delete(WebSession).where(WebSession.id.in_(ids)))
        await db.commit()
    return len(ids)


async def purge_expired(db: AsyncSession, now: dt.datetime) -> None:
    await db.execute(delete(WebSession).where(WebSession.expires_at <= now))
    await db.commit()
