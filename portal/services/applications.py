"""办件 for the filing side: file (save or submit), submit a draft, withdraw. One transaction
each, with its timeline event and audit record; a refusal changes nothing.

Seed 000 第4章 (立即办理 → 提交办理), seed 001 items 3, 18, 28, 41, 51.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from portal.clock import china_today
from portal.coresys import SqlCoreSystem
from portal.db.models import (
    Application,
    ApplicationAttachment,
    ApplicationEvent,
    ApplicationPerson,
    Company,
    InsuranceRelationship,
)
from portal.errors import (
    ApplicationNotFound,
    ApplicationState,
    AttachmentRequired,
    InsuranceTypeNotAllowed,
    InvalidField,
    OutsideBusinessWindow,
    PendingApplication,
    PortalError,
    RelationshipRequired,
    RollbackTargetInvalid,
)
from portal.rules import enrolment, items, uploads
from portal.rules.access import Access
from portal.rules.applications import IN_FLIGHT, Op, State, Status, Who, step
from portal.rules.fields import PersonRow
from portal.rules.items import BusinessItem
from portal.rules.window import Window
from portal.services import audit
from portal.services.actor import Actor
from portal.services.serials import next_serial

ROLLBACK_ITEMS = frozenset({"enrol", "stop", "base_adjust"})


@dataclass(frozen=True)
class Origin:
    """Who acts and from which login (a short hash of the login session, never the id)."""

    actor: Actor
    login: str = ""

    @property
    def who(self) -> Who:
        return Who(self.actor.id_number, self.actor.name)


@dataclass(frozen=True)
class Upload:
    kind: str
    filename: str
    data: bytes


@dataclass(frozen=True)
class Filing:
    """What the form gave, validated field by field (portal.rules.fields)."""

    item: BusinessItem
    relationship_id: int | None
    form: dict[str, Any] = field(default_factory=dict)
    persons: tuple[PersonRow, ...] = ()
    uploads: tuple[Upload, ...] = ()
    refiled_from: int | None = None


@dataclass(frozen=True)
class Storage:
    upload_dir: Path
    max_bytes: int


def login_ref(session_id: str | None) -> str:
    return hashlib.sha256((session_id or "").encode()).hexdigest()[:16] if session_id else ""


def status_of(app: Application) -> Status:
    return Status(
        state=State(app.state),
        filer_id_number=app.filer_id_number,
        reviewer_id_number=app.reviewer_id_number,
        reviewer_name=app.reviewer_name,
        return_reason=app.return_reason,
        submitted_at=app.submitted_at,
        accepted_at=app.accepted_at,
        picked_at=app.picked_at,
        decided_at=app.decided_at,
    )


def apply_status(app: Application, status: Status, now: dt.datetime) -> None:
    app.state = str(status.state)
    app.reviewer_id_number, app.reviewer_name = status.reviewer_id_number, status.reviewer_name
    app.return_reason = status.return_reason
    app.submitted_at, app.accepted_at = status.submitted_at, status.accepted_at
    app.picked_at, app.decided_at = status.picked_at, status.decided_at
    app.updated_at = now


def add_event(
    app: Application, origin: Origin, op: Op, now: dt.datetime, reason: str | None = None
) -> None:
    app.events.append(
        ApplicationEvent(
            at=now,
            action=str(op),
            state=app.state,
            actor_role=str(origin.actor.role),
            actor_name=origin.actor.name,
            reason=reason,
            login=origin.login,
        )
    )


def record(
    db: AsyncSession, origin: Origin, app: Application, op: Op, now: dt.datetime, **extra: Any
) -> None:
    """The audit line: who, when, what, from which login."""
    audit.record(
        db,
        origin.actor,
        f"application.{op}",
        company_id=app.company_id,
        target=f"application:{app.id}",
        detail={"serial": app.serial_no, "state": app.state, "login": origin.login, **extra},
        at=now,
    )


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
    relationship = await _relationship(db, company, access, filing)
    checked = [
        (u.kind, u, *uploads.check(u.data, max_bytes=storage.max_bytes)) for u in filing.uploads
    ]
    _require_attachments(filing.item, {kind for kind, *_ in checked})
    form = await _resolve_form(db, company, filing)
    await check_persons(db, filing.item, relationship, filing.persons, now, exclude=None)
    app = _new(company, relationship, origin, filing, form, now)
    for kind, upload, content_type, ext in checked:
        app.attachments.append(await _store(storage, kind, upload, content_type, ext, now))
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


async def commit(db: AsyncSession) -> None:
    """Commit; a lost race on the application's version is a 409, with nothing changed."""
    try:
        await db.commit()
    except StaleDataError:
        await db.rollback()
        raise ApplicationState("concurrent change") from None


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


def rows_of(app: Application) -> tuple[PersonRow, ...]:
    return tuple(PersonRow(p.id_number, p.name, dict(p.data)) for p in app.persons)


async def check_persons(
    db: AsyncSession,
    item: BusinessItem,
    relationship: InsuranceRelationship,
    rows: tuple[PersonRow, ...],
    now: dt.datetime,
    *,
    exclude: int | None,
) -> None:
    """Each row against the core system (the seeds' errors) and against in-flight filings.
    Raises the first row's error, with every row's error in `.rows` (处理详情 结果)."""
    if not rows:
        return
    numbers = [r.id_number for r in rows]
    if len(set(numbers)) != len(numbers):
        raise InvalidField("the same person twice")
    facts = await SqlCoreSystem(db).facts(numbers)
    today = china_today(now)
    this_month = dt.date(today.year, today.month, 1)
    found: list[tuple[int, PortalError]] = []
    for seq, row in enumerate(rows, 1):
        error = enrolment.check_row(
            item.code,
            facts[row.id_number],
            row,
            relationship.unit_no,
            relationship.insurance_type,
            this_month,
        )
        if error is not None:
            found.append((seq, error))
    pending = await _pending(db, item, relationship, numbers, exclude)
    found += [(numbers.index(n) + 1, PendingApplication(n[-4:])) for n in pending]
    if found:
        found.sort(key=lambda pair: pair[0])
        first = found[0][1]
        first.rows = found  # type: ignore[attr-defined]
        raise first


async def _pending(
    db: AsyncSession,
    item: BusinessItem,
    relationship: InsuranceRelationship,
    numbers: list[str],
    exclude: int | None,
) -> set[str]:
    query = (
        select(ApplicationPerson.id_number)
        .join(Application, Application.id == ApplicationPerson.application_id)
        .where(
            ApplicationPerson.id_number.in_(numbers),
            Application.item_code == item.code,
            Application.unit_no == relationship.unit_no,
            Application.insurance_type == relationship.insurance_type,
            Application.state.in_([str(s) for s in IN_FLIGHT]),
        )
    )
    if exclude is not None:
        query = query.where(Application.id != exclude)
    return set(await db.scalars(query))


async def _relationship(
    db: AsyncSession, company: Company, access: Access, filing: Filing
) -> InsuranceRelationship:
    """The company's relationship the filing touches, granted and of an allowed type."""
    access.check(filing.item.code, item_only=True)
    if filing.relationship_id is None:
        raise RelationshipRequired()
    relationship = next((r for r in company.relationships if r.id == filing.relationship_id), None)
    if relationship is None:
        raise RelationshipRequired(str(filing.relationship_id))
    access.check(filing.item.code, relationship.id)
    if not filing.item.allows(relationship.insurance_type):
        raise InsuranceTypeNotAllowed(relationship.insurance_type)
    return relationship


def _require_attachments(item: BusinessItem, kinds: set[str]) -> None:
    for attachment in item.attachments:
        if attachment.required and attachment.kind not in kinds:
            raise AttachmentRequired(attachment.kind)
    unknown = kinds - {a.kind for a in item.attachments}
    if unknown:
        raise InvalidField(f"attachment kinds {sorted(unknown)}")


async def _resolve_form(db: AsyncSession, company: Company, filing: Filing) -> dict[str, Any]:
    """The form; 人员变更回退 resolves its serial number to one of this company's completed
    enrolments, stops or base adjustments whose changes still stand."""
    form = dict(filing.form)
    if filing.refiled_from is not None:
        old = await db.get(Application, filing.refiled_from)
        final = (str(State.RETURNED), str(State.WITHDRAWN))
        if old is None or old.company_id != company.id or old.state not in final:
            raise InvalidField("refiled_from")
    if filing.item.code != "rollback":
        return form
    target = await db.scalar(
        select(Application).where(
            Application.serial_no == str(form.get("target_serial", "")),
            Application.company_id == company.id,
            Application.state == State.DONE,
            Application.item_code.in_(sorted(ROLLBACK_ITEMS)),
        )
    )
    if target is None or not await SqlCoreSystem(db).has_changes(target.id):
        raise RollbackTargetInvalid()
    form["target_id"] = target.id
    form["target_item"] = target.item_code
    return form


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


async def _store(
    storage: Storage, kind: str, upload: Upload, content_type: str, ext: str, now: dt.datetime
) -> ApplicationAttachment:
    stored = secrets.token_hex(16) + ext
    await asyncio.to_thread(_write, storage.upload_dir / "applications" / stored, upload.data)
    return ApplicationAttachment(
        kind=kind,
        original_name=Path(upload.filename).name[:200] or "upload",
        content_type=content_type,
        size=len(upload.data),
        sha256=hashlib.sha256(upload.data).hexdigest(),
        stored_name=stored,
        uploaded_at=now,
    )


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def attachment_path(storage: Storage, attachment: ApplicationAttachment) -> Path:
    return storage.upload_dir / "applications" / attachment.stored_name
