"""The simulated core system on SQLite and PostgreSQL: approved changes are logged so that
人员变更回退 restores them, and a change that something later changed is not rolled back."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal import registries
from portal.coresys import Change, SqlCoreSystem
from portal.db.engine import make_engine, make_sessionmaker, upgrade
from portal.db.models import Application, Company
from portal.demo import load_demo
from portal.errors import CoreRejected
from portal.rules.fields import PersonRow

NOW = dt.datetime(2026, 12, 10, 2, 0)
FENG = PersonRow("230104199602185124", "冯晓东", {"start_month": "2026-10", "base": 5000})
UNIT, PENSION = "23010010001", "企业职工基本养老保险"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[AsyncSession]:
    engine = make_engine(database_url)
    await upgrade(engine)
    sessionmaker = make_sessionmaker(engine)
    await load_demo(sessionmaker, registries.load())
    async with sessionmaker() as session:
        yield session
    await engine.dispose()


async def _application(db: AsyncSession, item: str) -> int:
    company = await db.scalar(select(Company).where(Company.credit_code == "91230100MA1BX2K306"))
    app = Application(
        company_id=company.id, item_code=item, state="reviewing", unit_no=UNIT,
        insurance_type=PENSION, agency="a", filer_role="agent", filer_id_number="x",
        filer_name="x", form={}, created_at=NOW, updated_at=NOW,
        persons=[], attachments=[], events=[],
    )  # fmt: skip
    db.add(app)
    await db.flush()
    return app.id


async def _state(core: SqlCoreSystem) -> list[tuple[str, str, int]]:
    return [(e.id_number, e.state, e.base) for e in await core.roster([UNIT], None)]


async def test_rollback_restores_and_refuses_what_changed_since(db: AsyncSession) -> None:
    """Enrol, then stop: rolling back the enrolment is refused (the stop changed it); rolling
    back the stop, then the enrolment, leaves the roster as it was."""
    core = SqlCoreSystem(db)
    original = await _state(core)
    enrol = await _application(db, "enrol")
    await core.execute(Change(enrol, "enrol", UNIT, PENSION, (FENG,)), NOW)
    await db.commit()
    stop_row = PersonRow(FENG.id_number, FENG.name, {"stop_month": "2026-12"})
    stop = await _application(db, "stop")
    await core.execute(Change(stop, "stop", UNIT, PENSION, (stop_row,)), NOW)
    await db.commit()
    assert (FENG.id_number, "stopped", 5000) in await _state(core)
    with pytest.raises(CoreRejected):
        await core.execute(Change(0, "rollback", UNIT, PENSION, rollback_of=enrol), NOW)
    await db.rollback()
    assert (FENG.id_number, "stopped", 5000) in await _state(core)
    await core.execute(Change(stop, "rollback", UNIT, PENSION, rollback_of=stop), NOW)
    await core.execute(Change(enrol, "rollback", UNIT, PENSION, rollback_of=enrol), NOW)
    assert await _state(core) == original
    assert not await core.has_changes(enrol) and not await core.has_changes(stop)
    with pytest.raises(CoreRejected):
        await core.execute(
            Change(
                enrol,
                "enrol",
                UNIT,
                "企业职工基本养老保险",
                (PersonRow("230105198806206232", "韩梅", FENG.data),),
            ),
            NOW,
        )
