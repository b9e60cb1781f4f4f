"""What a filing must pass before anything is written: the relationship and its grant, the
required attachments, the rollback target, and each person against the core system
(seed 003 常见报错) and against filings still in flight."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.clock import china_today
from portal.coresys import SqlCoreSystem
from portal.db.models import (
    Application,
    ApplicationPerson,
    Company,
    InsuranceRelationship,
)
from portal.errors import (
    AttachmentRequired,
    InsuranceTypeNotAllowed,
    InvalidField,
    PendingApplication,
    PortalError,
    RelationshipRequired,
    RollbackTargetInvalid,
)
from portal.rules import enrolment
from portal.rules.access import Access
from portal.rules.applications import IN_FLIGHT, State
from portal.rules.fields import PersonRow
from portal.rules.items import BusinessItem
from portal.services.application_base import Filing

ROLLBACK_ITEMS = frozenset({"enrol", "stop", "base_adjust"})


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


async def relationship_for(
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


def require_attachments(item: BusinessItem, kinds: set[str]) -> None:
    for attachment in item.attachments:
        if attachment.required and attachment.kind not in kinds:
            raise AttachmentRequired(attachment.kind)
    unknown = kinds - {a.kind for a in item.attachments}
    if unknown:
        raise InvalidField(f"attachment kinds {sorted(unknown)}")


async def resolve_form(db: AsyncSession, company: Company, filing: Filing) -> dict[str, Any]:
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
