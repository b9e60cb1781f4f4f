"""窗口授权: agency staff upload the signed form and grant at the counter (seed 000 §3.1.2)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.db.models import Agent, Company, CounterUpload
from portal.errors import UploadRequired
from portal.rules import text, uploads
from portal.services import agents, audit
from portal.services.actor import Actor


async def pending_uploads(db: AsyncSession, company: Company, staff: Actor) -> list[CounterUpload]:
    rows = await db.scalars(
        select(CounterUpload)
        .where(
            CounterUpload.company_id == company.id,
            CounterUpload.staff_id_number == staff.id_number,
            CounterUpload.submitted_at.is_(None),
        )
        .order_by(CounterUpload.id)
    )
    return list(rows)


async def save_upload(
    db: AsyncSession,
    staff: Actor,
    company: Company,
    filename: str,
    data: bytes,
    *,
    upload_dir: Path,
    max_bytes: int,
) -> CounterUpload:
    """Check type (magic bytes) and size, store under a random name, record it."""
    content_type, ext = uploads.check(data, max_bytes=max_bytes)
    stored = secrets.token_hex(16) + ext
    await asyncio.to_thread(_write, upload_dir / stored, data)
    upload = CounterUpload(
        company_id=company.id,
        staff_id_number=staff.id_number,
        original_name=text.printable_only(Path(filename).name, max_len=200) or "upload",
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        stored_name=stored,
        uploaded_at=clock.now(db),
    )
    db.add(upload)
    await db.flush()
    audit.record(
        db,
        staff,
        "counter.upload",
        company_id=company.id,
        target=f"upload:{upload.id}",
        detail={"type": content_type, "size": len(data)},
    )
    await db.commit()
    return upload


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def delete_upload(
    db: AsyncSession, staff: Actor, company: Company, upload_id: int, *, upload_dir: Path
) -> None:
    """删除: this staff member's pending upload goes, its row and its file on disk."""
    for upload in await pending_uploads(db, company, staff):
        if upload.id == upload_id:
            await db.delete(upload)
            audit.record(
                db,
                staff,
                "counter.upload_delete",
                company_id=company.id,
                target=f"upload:{upload_id}",
            )
            await db.commit()
            await asyncio.to_thread(_remove, upload_dir / Path(upload.stored_name).name)
            return


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


async def submit(
    db: AsyncSession, staff: Actor, company: Company, agent: Agent, relationship_ids: list[int]
) -> set[int]:
    """提交办理: add grants (never remove) backed by the pending signed form."""
    pending = await pending_uploads(db, company, staff)
    if not pending:
        raise UploadRequired()
    now = clock.now(db)
    for upload in pending:
        upload.submitted_at = now
    added, _ = await agents.set_grants(
        db, staff, company, agent, relationship_ids, [], keep_existing=True
    )
    return added
