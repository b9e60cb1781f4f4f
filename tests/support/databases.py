"""Portal databases for tests: a temp SQLite file, or a fresh PostgreSQL database dropped after.

PostgreSQL (127.0.0.1:5432, trust auth, user postgres) missing is a failure, never a skip."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

PG_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
KINDS = ("sqlite", "postgresql")


@asynccontextmanager
async def fresh_database(kind: str, folder: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'portal.db'}"
        return
    name = f"qrauth_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
