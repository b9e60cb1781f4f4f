"""Demo applications in every state, made with the same services the pages use."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.clock import china_today
from portal.db.models import Application
from portal.rules import items, window
from portal.rules.applications import Op, State
from portal.rules.enrolment import add_months
from portal.rules.fields import PersonRow
from portal.rules.roles import Role
from portal.services import access as access_service
from portal.services import applications, companies, review
from portal.services.actor import Actor
from portal.services.applications import Filing, Origin, Storage

ALWAYS = window.parse("1 00:00-31 23:59")
NO_UPLOADS = Storage(upload_dir=Path("var/portal-uploads"), max_bytes=0)  # demo files none
STEPS: dict[State, tuple[Op, ...]] = {
    State.DRAFT: (),
    State.SUBMITTED: (),
    State.ACCEPTED: (Op.ACCEPT,),
    State.REVIEWING: (Op.PICKUP,),
    State.DONE: (Op.PICKUP, Op.APPROVE),
    State.RETURNED: (Op.PICKUP, Op.RETURN),
    State.WITHDRAWN: (),
}


async def load(db: AsyncSession, spec: dict[str, Any], now: dt.datetime) -> int:
    if await db.scalar(select(func.count()).select_from(Application)):
        return 0
    filer = spec["filer"]
    company = await companies.require(db, filer["credit_code"])
    actor = Actor(Role.AGENT, filer["id_number"], filer["name"], company.credit_code, company.name)
    staff = Origin(
        Actor(Role.STAFF, spec["reviewer"]["id_number"], spec["reviewer"]["name"]), "demo"
    )
    origin = Origin(actor, "demo")
    access = await access_service.access_for(db, actor, company)
    for entry in spec["items"]:
        state = State(entry["state"])
        relationship = next(
            r
            for r in company.relationships
            if (r.unit_no, r.insurance_type) == (entry["unit_no"], entry["insurance_type"])
        )
        filing = Filing(
            item=items.get(entry["item"]),
            relationship_id=relationship.id,
            persons=tuple(
                PersonRow(
                    p["id_number"],
                    p["name"],
                    _data(p, now),
                )
                for p in entry["persons"]
            ),
        )
        app, _ = await applications.file(
            db,
            origin,
            company,
            access,
            filing,
            now=now,
            window=ALWAYS,
            storage=NO_UPLOADS,
            submit=state is not State.DRAFT,
        )
        for op in STEPS[state]:
            await review.act(db, staff, app.id, op, now=now, reason=entry.get("reason", ""))
        if state is State.WITHDRAWN:
            await applications.withdraw(db, origin, company, access, app.id, now=now)
    return len(spec["items"])


def _data(person: dict[str, Any], now: dt.datetime) -> dict[str, str | int]:
    """The person's fields; months given as offsets from this (Beijing) month."""
    today = china_today(now)
    month = dt.date(today.year, today.month, 1)
    data: dict[str, str | int] = {}
    for key, value in person.items():
        if key in ("id_number", "name"):
            continue
        if key.endswith("_month"):
            value = add_months(month, int(value)).strftime("%Y-%m")
        data[key] = value
    return data
