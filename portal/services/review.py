"""经办机构 review: the queue of the staff member's own agency; accept, pick up, approve (the core
system changes, in the same transaction), return with a reason. A reviewer never reviews an
application they filed. Seed 001 items 5, 20, 25, 28."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.coresys import Change, SqlCoreSystem
from portal.db.models import Application, Person
from portal.errors import ApplicationNotFound, Forbidden, OtherAgency
from portal.rules.applications import Op, State, step
from portal.services.applications import (
    Origin,
    add_event,
    apply_status,
    commit,
    record,
    rows_of,
    status_of,
)

QUEUE_STATES = (State.SUBMITTED, State.ACCEPTED, State.REVIEWING)


async def agency_of(db: AsyncSession, origin: Origin) -> str:
    """The staff member's agency, read from the people table on every request."""
    agency = await db.scalar(
        select(Person.staff_agency).where(
            Person.id_number == origin.actor.id_number, Person.name == origin.actor.name
        )
    )
    if not agency:
        raise Forbidden("not agency staff")
    return agency


async def queue(
    db: AsyncSession, agency: str, states: tuple[State, ...] = QUEUE_STATES, limit: int = 200
) -> list[Application]:
    rows = await db.scalars(
        select(Application)
        .where(Application.agency == agency, Application.state.in_([str(s) for s in states]))
        .order_by(Application.submitted_at, Application.id)
        .limit(limit)
    )
    return list(rows)


async def get(db: AsyncSession, agency: str, app_id: int, *, lock: bool = False) -> Application:
    query = select(Application).where(Application.id == app_id)
    if lock:
        query = query.with_for_update()
    app = await db.scalar(query, execution_options={"populate_existing": True})
    if app is None or app.state == State.DRAFT:
        raise ApplicationNotFound(str(app_id))
    if app.agency != agency:
        raise OtherAgency(str(app_id))
    return app


async def act(
    db: AsyncSession, origin: Origin, app_id: int, op: Op, *, now: dt.datetime, reason: str = ""
) -> Application:
    """受理 / 领取审核 / 审核通过 / 退回, committed with its event and audit line."""
    agency = await agency_of(db, origin)
    app = await get(db, agency, app_id, lock=True)
    before = State(app.state)
    status = step(status_of(app), op, origin.who, now, reason=reason)
    if op is Op.PICKUP and before is State.SUBMITTED:
        apply_status(app, step(status_of(app), Op.ACCEPT, origin.who, now), now)
        add_event(app, origin, Op.ACCEPT, now)
    apply_status(app, status, now)
    if op is Op.APPROVE:
        await SqlCoreSystem(db).execute(_change(app), now)
    add_event(app, origin, op, now, reason=app.return_reason if op is Op.RETURN else None)
    record(db, origin, app, op, now)
    await commit(db)
    return app


def _change(app: Application) -> Change:
    target = app.form.get("target_id") if app.item_code == "rollback" else None
    return Change(
        application_id=app.id,
        item_code=app.item_code,
        unit_no=app.unit_no,
        insurance_type=app.insurance_type,
        persons=rows_of(app),
        form=dict(app.form),
        rollback_of=int(target) if target is not None else None,
    )
