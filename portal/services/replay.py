"""Single use of signed requests: a `jti` acted on once is refused until its token expires.

Back-Channel Logout 1.0 §2.6 step 8 (a logout token's `jti` may be remembered to refuse a
replay) and docs/api.md (accounts requests carry a `jti`). The row lives until the token's own
`exp`; `purge` removes what can no longer be replayed anyway.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from portal.db.models import SeenToken


def _key(kind: str, jti: str) -> str:
    return hashlib.sha256(f"{kind}\0{jti}".encode()).hexdigest()


async def first_use(db: AsyncSession, kind: str, jti: str, expires_at: dt.datetime) -> bool:
    """True the first time (kind, jti) is seen; False for a replay. Commits."""
    key = _key(kind, jti)
    if await db.scalar(select(SeenToken.key).where(SeenToken.key == key)) is not None:
        return False
    db.add(SeenToken(key=key, expires_at=expires_at))
    try:
        await db.commit()
    except IntegrityError:  # a concurrent request with the same jti won
        await db.rollback()
        return False
    return True


async def purge(db: AsyncSession, now: dt.datetime) -> None:
    await db.execute(delete(SeenToken).where(SeenToken.expires_at <= now))
    await db.commit()
