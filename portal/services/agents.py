"""授权登录: agents, the administrator and grants of one company (seed 000 §3.1.1)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.db.models import Admin, Agent, Company, ItemGrant, RelationshipGrant
from portal.errors import AgentExists, AgentNotFound, Forbidden, RelationshipNotFound
from portal.rules import items, roles
from portal.rules.idcard import mask_name
from portal.rules.people import PersonInput
from portal.services import audit
from portal.services.actor import Actor


async def list_for(db: AsyncSession, company: Company) -> list[Agent]:
    rows = await db.scalars(select(Agent).where(Agent.company_id == company.id).order_by(Agent.id))
    return list(rows)


async def get(db: AsyncSession, company: Company, agent_id: int) -> Agent:
    """The agent, 404 when unknown, 403 when it belongs to another company."""
    agent = await db.get(Agent, agent_id, populate_existing=True)
    if agent is None:
        raise AgentNotFound(str(agent_id))
    if agent.company_id != company.id:
        raise Forbidden(f"agent {agent_id} is not of company {company.id}")
    return agent


async def _lock(db: AsyncSession, company: Company) -> None:
    """Serialize limit checks per company: a no-op UPDATE of the company row takes its row lock
    on PostgreSQL and the database's write lock on SQLite (where SELECT … FOR UPDATE is
    ignored and 20 concurrent adds used to make 16 agents), before the count is read."""
    await db.execute(sql_update(Company).where(Company.id == company.id).values(id=Company.id))


async def add(db: AsyncSession, actor: Actor, company: Company, person: PersonInput) -> Agent:
    """Add an agent; at most ten per company (seed 002), no duplicate ID numbers."""
    await _lock(db, company)
    count = await db.scalar(select(func.count()).where(Agent.company_id == company.id))
    roles.check_can_add_agent(count or 0)
    if await _find(db, company, person.id_number) is not None:
        raise AgentExists(company.credit_code)
    now = clock.now(db)
    agent = Agent(
        company_id=company.id,
        id_number=person.id_number,
        name=person.name,
        phone=person.phone,
        created_at=now,
        updated_at=now,
        relationship_grants=[],
        item_grants=[],
    )
    db.add(agent)
    await db.flush()
    audit.record(
        db,
        actor,
        "agent.add",
        company_id=company.id,
        target=f"agent:{agent.id}",
        detail={"name": mask_name(person.name)},
    )
    await db.commit()
    return agent


async def _find(db: AsyncSession, company: Company, id_number: str) -> Agent | None:
    return await db.scalar(
        select(Agent).where(Agent.company_id == company.id, Agent.id_number == id_number)
    )


async def update(
    db: AsyncSession, actor: Actor, company: Company, agent: Agent, person: PersonInput
) -> Agent:
    """修改: correct an agent's ID number, name or phone (a wrong one cannot log in)."""
    other = await _find(db, company, person.id_number)
    if other is not None and other.id != agent.id:
        raise AgentExists(company.credit_code)
    changed = [f for f in ("id_number", "name", "phone") if getattr(agent, f) != getattr(person, f)]
    agent.id_number, agent.name, agent.phone = person.id_number, person.name, person.phone
    agent.updated_at = clock.now(db)
    audit.record(
        db,
        actor,
        "agent.update",
        company_id=company.id,
        target=f"agent:{agent.id}",
        detail={"changed": changed},
    )
    await db.commit()
    return agent


async def delete(db: AsyncSession, actor: Actor, company: Company, agent: Agent) -> None:
    """删除: the agent and all their grants go."""
    audit.record(db, actor, "agent.delete", company_id=company.id, target=f"agent:{agent.id}")
    await db.delete(agent)
    await db.commit()


async def set_grants(
    db: AsyncSession,
    actor: Actor,
    company: Company,
    agent: Agent,
    relationship_ids: Iterable[int],
    item_codes: Iterable[str],
    *,
    keep_existing: bool = False,
) -> tuple[set[int], set[int]]:
    """单位授权: the agent holds exactly these relationships and items afterwards.

    With `keep_existing` (counter authorization) grants are only added. Returns the
    relationship ids added and removed. Takes effect at the agent's next login.
    """
    wanted = set(relationship_ids)
    own = {r.id for r in company.relationships}
    if not wanted <= own:
        raise RelationshipNotFound(str(sorted(wanted - own)))
    codes = set(items.validate(list(item_codes)))
    held = {g.relationship_id for g in agent.relationship_grants}
    held_items = {g.item_code for g in agent.item_grants}
    if keep_existing:
        wanted |= held
        codes |= held_items
    added, removed = wanted - held, held - wanted
    _apply(agent, actor, added, removed, codes - held_items, held_items - codes, clock.now(db))
    audit.record(
        db,
        actor,
        "grant.change",
        company_id=company.id,
        target=f"agent:{agent.id}",
        detail={
            "relationships_added": sorted(added),
            "relationships_removed": sorted(removed),
            "items_added": sorted(codes - held_items),
            "items_removed": sorted(held_items - codes),
        },
    )
    await db.commit()
    return added, removed


def _apply(
    agent: Agent,
    actor: Actor,
    added: set[int],
    removed: set[int],
    items_added: set[str],
    items_removed: set[str],
    now: dt.datetime,
) -> None:
    agent.relationship_grants = [
        g for g in agent.relationship_grants if g.relationship_id not in removed
    ] + [
        RelationshipGrant(relationship_id=rid, granted_by=actor.label, granted_at=now)
        for rid in sorted(added)
    ]
    agent.item_grants = [g for g in agent.item_grants if g.item_code not in items_removed] + [
        ItemGrant(item_code=code, granted_by=actor.label, granted_at=now)
        for code in sorted(items_added)
    ]


async def admin_of(db: AsyncSession, company: Company) -> Admin | None:
    return await db.scalar(select(Admin).where(Admin.company_id == company.id))


async def set_admin(db: AsyncSession, actor: Actor, company: Company, person: PersonInput) -> Admin:
    """Seed 002: 法定代表人可添加1名管理员 — a second one is refused."""
    await _lock(db, company)
    existing = await admin_of(db, company)
    roles.check_can_add_admin(0 if existing is None else 1)
    admin = Admin(
        company_id=company.id,
        id_number=person.id_number,
        name=person.name,
        phone=person.phone,
        created_at=clock.now(db),
    )
    db.add(admin)
    audit.record(db, actor, "admin.add", company_id=company.id, target="admin")
    await db.commit()
    return admin


async def remove_admin(db: AsyncSession, actor: Actor, company: Company) -> None:
    existing = await admin_of(db, company)
    if existing is not None:
        await db.delete(existing)
        audit.record(db, actor, "admin.delete", company_id=company.id, target="admin")
        await db.commit()
