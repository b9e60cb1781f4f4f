"""Fixed-window counters in the database, so that every portal process counts the same tries."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import case, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from portal.db.models import RateCounter
from portal.errors import TooManyAttempts
from portal.rules.limits import Limit, retry_after


async def hit(db: AsyncSession, limit: Limit, subject: str, now: dt.datetime) -> None:
    """Count one try of `subject` under `limit` (one atomic upsert); TooManyAttempts beyond it."""
    key = hashlib.sha256(f"{limit.scope}\0{subject}".encode()).hexdigest()
    dialect = postgresql if db.bind.dialect.name == "postgresql" else sqlite
    live = RateCounter.window_ends > now
    stmt = dialect.insert(RateCounter).values(key=key, count=1, window_ends=now + limit.window)
    stmt = stmt.on_conflict_do_update(
        index_elements=[RateCounter.key],
        set_={
            "count": case((live, RateCounter.count + 1), else_=1),
            "window_ends": case((live, RateCounter.window_ends), else_=now + limit.window),
        },
    ).returning(RateCounter.count, RateCounter.window_ends)
    count, window_ends = (await db.execute(stmt)).one()
    await db.commit()
    wait = retry_after(count, window_ends, limit, now)
    if wait:
        raise TooManyAttempts(f"{limit.scope} {count}", retry_after=wait)


async def purge(db: AsyncSession, now: dt.datetime) -> None:
    await db.execute(delete(RateCounter).where(RateCounter.window_ends <= now))
    await db.commit()
