"""受理流水号: unique, never repeated, also under concurrent submissions (seed 001 item 51).

One counter row per Beijing day, bumped by a single `INSERT … ON CONFLICT DO UPDATE …
RETURNING` (PostgreSQL row lock; SQLite's write lock), inside the submitting transaction: a
rolled-back submission gives its number back with it. `applications.serial_no` is unique too.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from portal.clock import china_today
from portal.db.models import SerialCounter

REGION = "2301"  # 哈尔滨市 (GB/T 2260), the agency region of the demo hall


def format_serial(day: str, value: int) -> str:
    """2301 + YYYYMMDD + a six-digit (or longer) sequence: 230120261201000042."""
    return f"{REGION}{day}{value:06d}"


async def next_serial(db: AsyncSession, now: dt.datetime) -> str:
    day = china_today(now).strftime("%Y%m%d")
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(SerialCounter)
        .values(day=day, value=1)
        .on_conflict_do_update(
            index_elements=[SerialCounter.day], set_={"value": SerialCounter.value + 1}
        )
        .returning(SerialCounter.value)
    )
    value = (await db.execute(statement)).scalar_one()
    return format_serial(day, int(value))
