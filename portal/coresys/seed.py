"""Seed the simulated core system from data/coresys.json (idempotent: once, when empty)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.db.models import CoreBenefit, CoreInsurance, CorePerson, CoreUnit
from portal.rules.fields import parse_month

DATA = Path(__file__).parent.parent / "data" / "coresys.json"


def read(path: Path = DATA) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


async def load(db: AsyncSession, now: dt.datetime, path: Path = DATA) -> int:
    """Insert the file's persons, insurances, benefits and units; returns persons added."""
    if await db.scalar(select(func.count()).select_from(CorePerson)):
        return 0
    data = read(path)
    for unit in data["units"]:
        db.add(CoreUnit(**unit, updated_at=None))
    for entry in data["persons"]:
        person = CorePerson(
            id_number=entry["id_number"],
            name=entry["name"],
            hukou=entry.get("hukou", ""),
            flexible=bool(entry.get("flexible", False)),
            phone=entry.get("phone", ""),
            created_at=now,
        )
        db.add(person)
        await db.flush()
        for ins in entry.get("insurances", ()):
            db.add(
                CoreInsurance(
                    person_id=person.id,
                    unit_no=ins["unit_no"],
                    insurance_type=ins["insurance_type"],
                    state=ins["state"],
                    start_month=parse_month(ins["start_month"]),
                    end_month=parse_month(ins["end_month"]) if ins.get("end_month") else None,
                    base=int(ins["base"]),
                )
            )
        for benefit in entry.get("benefits", ()):
            db.add(
                CoreBenefit(
                    person_id=person.id,
                    month=parse_month(benefit["month"]),
                    amount=benefit["amount"],
                )
            )
    await db.commit()
    return len(data["persons"])
