"""批量增员 / 批量减员: a filled template becomes one application of its valid rows; every
row gets its result (处理详情 → 结果, seed 003 三、1(1) and 2(1)).

The whole file is read first (portal.documents.batch): a malformed file is refused and
nothing is stored. Rows are then checked on their own, then by the core system — through the
same `applications.check_persons` the single form uses, so the seeds' row errors (未获取到人员
基本信息, 该人员为灵活就业参保人员, …) come from one place. The rows that pass are filed together
by `applications.file`, in the same transaction as the batch record; failed rows change
nothing but their line in the result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.clock import china_today
from portal.db.models import BatchFile, Company
from portal.documents import batch
from portal.errors import ItemForbidden, PortalError
from portal.rules.access import Access
from portal.rules.idcard import mask
from portal.rules.items import BusinessItem
from portal.rules.window import Window
from portal.services import applications
from portal.services.applications import Filing, Origin, Storage, Upload


@dataclass(frozen=True)
class BatchUpload:
    item: BusinessItem
    relationship_id: int | None
    filename: str
    data: bytes
    attachments: tuple[Upload, ...] = ()


def batch_items(access: Access) -> list[BusinessItem]:
    """The items that take a batch file and that this actor may file."""
    from portal.rules import items

    return [i for i in items.ITEMS if i.batch and access.may_item(i.code)]


async def upload(
    db: AsyncSession,
    origin: Origin,
    company: Company,
    access: Access,
    upload_: BatchUpload,
    *,
    now: dt.datetime,
    window: Window,
    storage: Storage,
) -> tuple[BatchFile, PortalError | None]:
    """Read, check, file the valid rows as one application; the record with every row's result
    and the business-window notice when the application was saved to 待提交 instead."""
    if not upload_.item.batch:
        raise ItemForbidden(f"{upload_.item.code} takes no batch file")
    access.check(upload_.item.code, upload_.relationship_id)
    spec = batch.spec_for(upload_.item)
    rows = batch.read(upload_.data, upload_.filename, spec)
    outcomes = batch.prepare(rows, spec, today=china_today(now))
    core_errors = await _core_errors(db, origin, company, access, upload_, outcomes, now)
    good = [o for o in outcomes if o.person is not None and o.number not in core_errors]
    record = BatchFile(
        company_id=company.id,
        item_code=upload_.item.code,
        relationship_id=upload_.relationship_id,
        original_name=upload_.filename[-200:] or "upload",
        sha256=hashlib.sha256(upload_.data).hexdigest(),
        size=len(upload_.data),
        uploader_role=str(origin.actor.role),
        uploader_name=origin.actor.name,
        uploaded_at=now,
        total=len(outcomes),
        accepted=len(good),
        results=[_result(o, core_errors.get(o.number)) for o in outcomes],
    )
    db.add(record)
    notice: PortalError | None = None
    if good:
        filing = Filing(
            item=upload_.item,
            relationship_id=upload_.relationship_id,
            persons=tuple(o.person for o in good if o.person is not None),
            uploads=upload_.attachments,
        )
        await db.flush()
        app, notice = await applications.file(
            db,
            origin,
            company,
            access,
            filing,
            now=now,
            window=window,
            storage=storage,
            submit=True,
        )
        record.application_id = app.id
    await db.commit()
    return record, notice


async def _core_errors(
    db: AsyncSession,
    origin: Origin,
    company: Company,
    access: Access,
    upload_: BatchUpload,
    outcomes: list[batch.Outcome],
    now: dt.datetime,
) -> dict[int, PortalError]:
    """Sheet row number → the core system's error for it (none when every row passes)."""
    candidates = [o for o in outcomes if o.person is not None]
    if not candidates:
        return {}
    relationship = await applications.relationship_for(
        db, company, access, Filing(item=upload_.item, relationship_id=upload_.relationship_id)
    )
    try:
        await applications.check_persons(
            db,
            upload_.item,
            relationship,
            tuple(o.person for o in candidates if o.person is not None),
            now,
            exclude=None,
        )
    except PortalError as error:
        rows: list[tuple[int, PortalError]] | None = getattr(error, "rows", None)
        if rows is None:
            raise
        return {candidates[seq - 1].number: row_error for seq, row_error in rows}
    return {}


def _result(outcome: batch.Outcome, core_error: PortalError | None) -> dict[str, Any]:
    error = outcome.error or core_error
    base = {"row": outcome.number, "name": outcome.name[:32], "id_number": outcome.id_number[:18]}
    if error is None:
        return {**base, "ok": True}
    return {**base, "ok": False, "code": error.code, "zh": error.zh, "en": error.en}


async def for_company(db: AsyncSession, company: Company, limit: int = 50) -> list[BatchFile]:
    """处理详情: this company's batch files, newest first."""
    rows = await db.scalars(
        select(BatchFile)
        .where(BatchFile.company_id == company.id)
        .order_by(BatchFile.id.desc())
        .limit(limit)
    )
    return list(rows)


async def get(db: AsyncSession, company: Company, batch_id: int) -> BatchFile | None:
    found = await db.get(BatchFile, batch_id)
    return found if found is not None and found.company_id == company.id else None


def masked(result: dict[str, Any]) -> str:
    return mask(str(result.get("id_number", "")))
