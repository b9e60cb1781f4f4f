"""The core system in the portal's SQL database; it joins the caller's transaction.

Each change is written with a before/after snapshot (core_changes), so that 人员变更回退
(seed 003 三、3) can restore exactly what an application changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.coresys.base import Change, RosterEntry, UnitInfo
from portal.db.models import CoreBenefit, CoreChange, CoreInsurance, CorePerson, CoreUnit
from portal.errors import CoreRejected
from portal.rules import enrolment
from portal.rules.enrolment import CoreRecord, Coverage, PersonFacts
from portal.rules.fields import parse_month

_INSURANCE_FIELDS = ("person_id", "unit_no", "insurance_type", "state", "base")
_UNIT_FIELDS = ("address", "contact_name", "contact_phone")


class SqlCoreSystem:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def facts(self, id_numbers: Collection[str]) -> dict[str, PersonFacts]:
        wanted = sorted(set(id_numbers))
        people = list(
            await self.db.scalars(
                select(CorePerson).where(CorePerson.id_number.in_(wanted)).order_by(CorePerson.id)
            )
        )
        ids = [p.id for p in people]
        coverages = list(
            await self.db.scalars(select(CoreInsurance).where(CoreInsurance.person_id.in_(ids)))
        )
        benefits = list(
            await self.db.scalars(select(CoreBenefit).where(CoreBenefit.person_id.in_(ids)))
        )
        return {number: _facts(number, people, coverages, benefits) for number in wanted}

    async def roster(
        self, unit_nos: Collection[str], insurance_types: Collection[tuple[str, str]] | None
    ) -> list[RosterEntry]:
        rows = await self.db.execute(
            select(CoreInsurance, CorePerson)
            .join(CorePerson, CorePerson.id == CoreInsurance.person_id)
            .where(CoreInsurance.unit_no.in_(sorted(set(unit_nos))))
            .order_by(CoreInsurance.unit_no, CorePerson.id_number, CoreInsurance.insurance_type)
        )
        allowed = set(insurance_types) if insurance_types is not None else None
        return [
            RosterEntry(
                p.id_number,
                p.name,
                c.unit_no,
                c.insurance_type,
                c.state,
                c.start_month,
                c.end_month,
                c.base,
            )
            for c, p in rows
            if allowed is None or (c.unit_no, c.insurance_type) in allowed
        ]

    async def unit(self, unit_no: str) -> UnitInfo | None:
        row = await self.db.get(CoreUnit, unit_no)
        if row is None:
            return None
        return UnitInfo(row.unit_no, row.address, row.contact_name, row.contact_phone)

    async def has_changes(self, application_id: int) -> bool:
        found = await self.db.scalar(
            select(CoreChange.id)
            .where(CoreChange.application_id == application_id, CoreChange.reverted_at.is_(None))
            .limit(1)
        )
        return found is not None

    async def execute(self, change: Change, now: dt.datetime) -> int:
        handler = {
            "collect": self._collect,
            "enrol": self._enrol,
            "stop": self._stop,
            "base_adjust": self._base,
            "info_change": self._unit,
            "rollback": self._rollback,
        }.get(change.item_code)
        if handler is None:
            raise CoreRejected(f"no core change for {change.item_code}")
        count = await handler(change, now)
        await self.db.flush()
        return count

    # -- per item -------------------------------------------------------------------------

    async def _collect(self, change: Change, now: dt.datetime) -> int:
        facts = await self.facts([p.id_number for p in change.persons])
        for row in change.persons:
            if facts[row.id_number].records:
                raise CoreRejected("person exists")
            person = CorePerson(
                id_number=row.id_number,
                name=row.name,
                hukou=str(row.data.get("hukou", "")),
                phone=str(row.data.get("phone", "")),
                flexible=False,
                created_at=now,
            )
            self.db.add(person)
            await self.db.flush()
            self._log(change, now, "core_persons", person.id, None, {"id_number": row.id_number})
        return len(change.persons)

    async def _enrol(self, change: Change, now: dt.datetime) -> int:
        facts = await self.facts([p.id_number for p in change.persons])
        for row in change.persons:
            person_facts = facts[row.id_number]
            error = enrolment.check_row(
                "enrol", person_facts, row, change.unit_no, change.insurance_type, None
            )
            if error is not None:
                raise CoreRejected(error.code)
            coverage = CoreInsurance(
                person_id=person_facts.records[0].person_id,
                unit_no=change.unit_no,
                insurance_type=change.insurance_type,
                state=enrolment.ACTIVE,
                start_month=parse_month(str(row.data["start_month"])),
                end_month=None,
                base=int(row.data["base"]),
            )
            self.db.add(coverage)
            await self.db.flush()
            self._log(change, now, "core_insurances", coverage.id, None, _snapshot(coverage))
        return len(change.persons)

    async def _active(self, change: Change, row_id_number: str) -> CoreInsurance:
        coverage = await self.db.scalar(
            select(CoreInsurance)
            .join(CorePerson, CorePerson.id == CoreInsurance.person_id)
            .where(
                CorePerson.id_number == row_id_number,
                CoreInsurance.unit_no == change.unit_no,
                CoreInsurance.insurance_type == change.insurance_type,
                CoreInsurance.state == enrolment.ACTIVE,
            )
        )
        if coverage is None:
            raise CoreRejected("not insured here")
        return coverage

    async def _stop(self, change: Change, now: dt.datetime) -> int:
        for row in change.persons:
            coverage = await self._active(change, row.id_number)
            before = _snapshot(coverage)
            coverage.state = "stopped"
            coverage.end_month = parse_month(str(row.data["stop_month"]))
            self._log(change, now, "core_insurances", coverage.id, before, _snapshot(coverage))
        return len(change.persons)

    async def _base(self, change: Change, now: dt.datetime) -> int:
        for row in change.persons:
            coverage = await self._active(change, row.id_number)
            if int(row.data["base"]) <= coverage.base:
                raise CoreRejected("base not higher")
            before = _snapshot(coverage)
            coverage.base = int(row.data["base"])
            self._log(change, now, "core_insurances", coverage.id, before, _snapshot(coverage))
        return len(change.persons)

    async def _unit(self, change: Change, now: dt.datetime) -> int:
        unit = await self.db.get(CoreUnit, change.unit_no)
        before = None if unit is None else {f: getattr(unit, f) for f in _UNIT_FIELDS}
        if unit is None:
            unit = CoreUnit(unit_no=change.unit_no)
            self.db.add(unit)
        for name in _UNIT_FIELDS:
            setattr(unit, name, str(change.form.get(name, "")))
        unit.updated_at = now
        after = {f: getattr(unit, f) for f in _UNIT_FIELDS}
        self._log(change, now, "core_units", change.unit_no, before, after)
        return 1

    async def _rollback(self, change: Change, now: dt.datetime) -> int:
        """Undo, newest first, what `rollback_of` changed — only if nothing changed it since."""
        rows = list(
            await self.db.scalars(
                select(CoreChange)
                .where(
                    CoreChange.application_id == change.rollback_of,
                    CoreChange.reverted_at.is_(None),
                )
                .order_by(CoreChange.id.desc())
            )
        )
        if not rows:
            raise CoreRejected("nothing to roll back")
        for logged in rows:
            await self._revert(logged)
            logged.reverted_at = now
        return len(rows)

    async def _revert(self, logged: CoreChange) -> None:
        if logged.target_table == "core_units":
            unit = await self.db.get(CoreUnit, logged.row_key)
            if unit is not None:
                for name, value in (logged.before or {f: "" for f in _UNIT_FIELDS}).items():
                    setattr(unit, name, value)
            return
        model = CoreInsurance if logged.target_table == "core_insurances" else CorePerson
        row = await self.db.get(model, int(logged.row_key))
        if row is None:
            raise CoreRejected("row gone")
        if isinstance(row, CoreInsurance) and _snapshot(row) != logged.after:
            raise CoreRejected("changed since")
        if logged.before is None:
            await self.db.delete(row)
            return
        assert isinstance(row, CoreInsurance)
        _restore(row, logged.before)

    def _log(
        self,
        change: Change,
        now: dt.datetime,
        table: str,
        key: object,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        self.db.add(
            CoreChange(
                application_id=change.application_id,
                target_table=table,
                row_key=str(key),
                before=before,
                after=after,
                at=now,
            )
        )


def _facts(
    number: str,
    people: list[CorePerson],
    coverages: list[CoreInsurance],
    benefits: list[CoreBenefit],
) -> PersonFacts:
    mine = [p for p in people if p.id_number == number]
    ids = {p.id for p in mine}
    return PersonFacts(
        records=tuple(CoreRecord(p.id, p.id_number, p.name, p.hukou, p.flexible) for p in mine),
        coverages=tuple(
            Coverage(c.person_id, c.unit_no, c.insurance_type, c.state, c.start_month, c.base)
            for c in coverages
            if c.person_id in ids
        ),
        benefit_months=tuple(b.month for b in benefits if b.person_id in ids),
    )


def _snapshot(row: CoreInsurance) -> dict[str, Any]:
    values: dict[str, Any] = {f: getattr(row, f) for f in _INSURANCE_FIELDS}
    values["start_month"] = row.start_month.isoformat()
    values["end_month"] = row.end_month.isoformat() if row.end_month else None
    return values


def _restore(row: CoreInsurance, values: dict[str, Any]) -> None:
    for name in _INSURANCE_FIELDS:
        setattr(row, name, values[name])
    row.start_month = dt.date.fromisoformat(values["start_month"])
    row.end_month = dt.date.fromisoformat(values["end_month"]) if values["end_month"] else None
