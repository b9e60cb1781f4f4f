"""Demo data (data/demo.json), loaded through the same services as the pages. Idempotent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.clock import utcnow
from portal.coresys import seed as coresys_seed
from portal.db.models import Company
from portal.registries import Registries
from portal.rules.people import PersonInput
from portal.rules.registration import Application
from portal.services import agents, companies
from portal.services.actor import SYSTEM

DEMO_PATH = Path(__file__).parent / "data" / "demo.json"


def read(path: Path = DEMO_PATH) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


async def load_demo(
    sessionmaker: async_sessionmaker[AsyncSession], registry: Registries, path: Path = DEMO_PATH
) -> str:
    data = read(path)
    async with sessionmaker() as db:
        for person in data["people"]:
            await companies.ensure_person(
                db,
                person["id_number"],
                person["name"],
                person.get("phone", ""),
                person.get("staff_agency"),
            )
        await db.commit()
        for entry in data["companies"]:
            company = await _company(db, registry, entry)
            await _admin(db, company, entry.get("admin"))
            for agent in entry.get("agents", []):
                await _agent(db, company, agent)
        insured = await coresys_seed.load(db, utcnow())
    return (
        f"demo data: {len(data['people'])} people, {len(data['companies'])} companies, "
        f"{insured} persons in the core system"
    )


async def _company(db: AsyncSession, registry: Registries, entry: dict[str, Any]) -> Company:
    existing = await companies.by_code(db, entry["credit_code"])
    if existing is not None:
        return existing
    rep = entry["legal_rep"]
    application = Application(
        entry["credit_code"], entry["company_name"], "居民身份证", rep["id_number"], rep["name"]
    )
    return await companies.register(db, registry, application)


async def _admin(db: AsyncSession, company: Company, admin: dict[str, str] | None) -> None:
    if admin and await agents.admin_of(db, company) is None:
        person = PersonInput(admin["id_number"], admin["name"], admin["phone"])
        await agents.set_admin(db, SYSTEM, company, person)


async def _agent(db: AsyncSession, company: Company, entry: dict[str, Any]) -> None:
    found = [a for a in await agents.list_for(db, company) if a.id_number == entry["id_number"]]
    agent = (
        found[0]
        if found
        else await agents.add(
            db, SYSTEM, company, PersonInput(entry["id_number"], entry["name"], entry["phone"])
        )
    )
    by_key = {(r.unit_no, r.insurance_type): r.id for r in company.relationships}
    wanted = [by_key[(unit, kind)] for unit, kind in entry.get("relationships", [])]
    agent = await agents.get(db, company, agent.id)
    await agents.set_grants(db, SYSTEM, company, agent, wanted, entry.get("business_items", []))


async def load_business_demo(
    sessionmaker: async_sessionmaker[AsyncSession], path: Path = DEMO_PATH
) -> str:
    """Applications in every state (make demo), filed and reviewed through the services, so a
    newcomer finds a populated 我的办件 and review queue. Once: skipped when any exist."""
    from portal.services.business_demo import load

    spec = read(path)["applications"]
    async with sessionmaker() as db:
        made = await load(db, spec, utcnow())
    return f"demo applications: {made}"
