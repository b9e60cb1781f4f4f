"""Every table of the portal's database, and its upload folder, as comparable values.

A refused request must change nothing: tests take `snapshot` before and after and compare.
Rows are read in primary-key order with every column, so any insert, update or delete shows.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select

from portal.db.models import Base
from portal.http.keys import DB, SETTINGS

Snapshot = dict[str, list[tuple[Any, ...]]]


async def snapshot(app: web.Application, *, leave_out: tuple[str, ...] = ()) -> Snapshot:
    """{table: rows} for every table of the models (but `leave_out`), plus `files:uploads`."""
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
