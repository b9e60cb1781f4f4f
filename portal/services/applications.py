"""办件 for the filing side: file (save or submit), submit a draft, withdraw. One transaction
each, with its timeline event and audit record; a refusal changes nothing.

Seed 000 第4章 (立即办理 → 提交办理), seed 001 items 3, 18, 28, 41, 51.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.db.models import (
    Application,
    ApplicationPerson,
    Company,
    InsuranceRelationship,
)
from portal.errors import (
    ApplicationNotFound,
    OutsideBusinessWindow,
    PortalError,
    RelationshipRequired,
)
from portal.rules import items, uploads
from portal.rules.access import Access
from portal.rules.applications import Op, State, step
from portal.rules.window import Window
from portal.services.application_base import (
    Filing,
    Origin,
    Storage,
    Upload,
    add_event,
    apply_status,
    commit,
    login_ref,
    record,
    rows_of,
    status_of,
)
from portal.services.application_checks import (
    check_persons,
    relationship_for,
    require_attachments,
    resolve_form,
)
from portal.services.attachments import attachment_path, store
from portal.services.serials import next_serial


async def file(
    db: AsyncSession,
    origin: Origin,
    company: Company,
    access: Access,
    filing: Filing,
    *,
    now: dt.datetime,
    window: Window,
    storage: Storage,
    submit: bool,
) -> tuple[Application, PortalError | None]:
    """立即办理 → 保存 or 提交办理. Outside the business window a submission is saved to 待提交
    and the seed's notice (不在当前业务周期) is returned with it (seed 001 item 41)."""
    relationship = await relationship_for(db, company, access, filing)
    checked = [
        (u.kind, u, *uploads.check(u.data, max_bytes=storage.max_bytes)) for u in filing.uploads
    ]
    require_attachments(filing.item, {kind for kind, *_ in checked})
    form = await resolve_form(db, company, filing)
    await check_persons(db, filing.item, relationship, filing.persons, now, exclude=None)
    app = _new(company, relationship, origin, filing, form, now)
    for kind, upload, content_type, ext in checked:
        app.attachments.append(await store(storage, kind, upload, content_type, ext, now))
    db.add(app)
    await db.flush()
    add_event(app, origin, Op.SAVE, now)
    notice: PortalError | None = None
    if submit and window.is_open(now):
        await _submit(db, origin, app, now)
    elif submit:
        notice = OutsideBusinessWindow("saved as draft")
    record(db, origin, app, Op.SUBMIT if app.state != State.DRAFT else Op.SAVE, now)
    await db.commit()
    return app, notice


async def submit(
    db: AsyncSession,
    origin: Origin,
    company: Company,
    access: Access,
    app_id: int,
    *,
    now: dt.datetime,
    window: Window,
) -> Application:
    """提交 a saved draft, inside the business window only; the core checks run again."""
    app = await get_for_company(db, company, app_id, lock=True)
    access.check(app.item_code, app.relationship_id)
    if app.state == State.DRAFT and not window.is_open(now):
        raise OutsideBusinessWindow("draft stays")
    relationship = await db.get(InsuranceRelationship, app.relationship_id or 0)
    if relationship is None:
        raise RelationshipRequired("relationship gone")
    await check_persons(
        db, items.get(app.item_code), relationship, rows_of(app), now, exclude=app.id
    )
    await _submit(db, origin, app, now)
    record(db, origin, app, Op.SUBMIT, now)
    await commit(db)
    return app


async def _submit(db: AsyncSession, origin: Origin, app: Application, now: dt.datetime) -> None:
    apply_status(app, step(status_of(app), Op.SUBMIT, origin.who, now), now)
    app.serial_no = await next_serial(db, now)
    add_event(app, origin, Op.SUBMIT, now)


async def withdraw(
    db: AsyncSession,
    origin: Origin,
    company: Company,
    access: Access,
    app_id: int,
    *,
    now: dt.datetime,
) -> Application:
    """撤回: only while no reviewer has picked it up; afterwards the answer names who holds it."""
    app = await get_for_company(db, company, app_id, lock=True)
    access.check(app.item_code, app.relationship_id)
    apply_status(app, step(status_of(app), Op.WITHDRAW, origin.who, now), now)
    add_event(app, origin, Op.WITHDRAW, now)
    record(db, origin, app, Op.WITHDRAW, now)
    await commit(db)
    return app


async def get_for_company(
    db: AsyncSession, company: Company, app_id: int, *, lock: bool = False
) -> Application:
    query = select(Application).where(Application.id == app_id)
    if lock:
        query = query.with_for_update()
    app = await db.scalar(query, execution_options={"populate_existing": True})
    if app is None or app.company_id != company.id:
        raise ApplicationNotFound(str(app_id))
    return app


def _new(
    company: Company,
    relationship: InsuranceRelationship,
    origin: Origin,
    filing: Filing,
    form: dict[str, Any],
    now: dt.datetime,
) -> Application:
    return Application(
        company_id=company.id,
        relationship_id=relationship.id,
        item_code=filing.item.code,
        state=str(State.DRAFT),
        unit_no=relationship.unit_no,
        insurance_type=relationship.insurance_type,
        agency=relationship.agency,
        filer_role=str(origin.actor.role),
        filer_id_number=origin.actor.id_number,
        filer_name=origin.actor.name,
        form=form,
        refiled_from_id=filing.refiled_from,
        created_at=now,
        updated_at=now,
        persons=[
            ApplicationPerson(seq=seq, id_number=row.id_number, name=row.name, data=dict(row.data))
            for seq, row in enumerate(filing.persons, 1)
        ],
        attachments=[],
        events=[],
    )


#: The name this check had before the service was split (the documents branch calls it).
_relationship = relationship_for

__all__ = [
    "Filing",
    "Origin",
    "Storage",
    "Upload",
    "add_event",
    "apply_status",
    "attachment_path",
    "check_persons",
    "commit",
    "file",
    "get_for_company",
    "login_ref",
    "record",
    "relationship_for",
    "rows_of",
    "status_of",
    "submit",
    "withdraw",
]
