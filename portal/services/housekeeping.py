"""Periodic purge of what has expired: sessions, remembered token ids, rate counters.

Issue 12: expired session rows used to be purged only at start-up, so a long-running portal
kept every anonymous visitor's row. Each portal process runs this loop; the deletes are
idempotent, so several processes on one database do no harm.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import async_sessionmaker

from portal.clock import Clock
from portal.services import replay, sessions, throttle

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 300.0


async def purge_once(db_factory: async_sessionmaker[Any], clock: Clock) -> None:
    async with db_factory() as db:
        now = clock()
        await sessions.purge_expired(db, now)
        await replay.purge(db, now)
        await throttle.purge(db, now)


async def run(
    db_factory: async_sessionmaker[Any], clock: Clock, interval: float = INTERVAL_SECONDS
) -> None:
    """Purge now, then every `interval` seconds until cancelled; a failed round is logged."""
    while True:
        try:
            await purge_once(db_factory, clock)
        except (SQLAlchemyError, OSError):
            log.warning("housekeeping round failed", exc_info=True)
        await asyncio.sleep(interval)
