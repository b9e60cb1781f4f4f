"""The actor's business access, read from the grant tables on every request (never the session):
revoking a grant takes effect on the next click (DESIGN: authorization is re-checked)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.db.models import Admin, Agent, Company, LegalRep
from portal.errors import AccountRevoked, ItemForbidden
from portal.rules.access import Access
from portal.rules.roles import Role
from portal.services.actor import Actor


async def access_for(db: AsyncSession, actor: Actor, company: Company) -> Access:
    """What `actor` may handle for `company` now; 403 when they hold no such account."""
    if actor.role is Role.LEGAL_REP:
        return await _full(db, LegalRep, actor, company)
    if actor.role is Role.ADMIN:
        return await _full(db, Admin, actor, company)
    if actor.role is Role.AGENT:
        agent = await db.scalar(
            select(Agent).where(
                Agent.company_id == company.id,
                Agent.id_number == actor.id_number,
                Agent.name == actor.name,
            ),
            execution_options={"populate_existing": True},
        )
        if agent is None:
            raise AccountRevoked("agent gone")
        return Access(
            items=frozenset(g.item_code for g in agent.item_grants),
            relationship_ids=frozenset(g.relationship_id for g in agent.relationship_grants),
        )
    raise ItemForbidden(f"{actor.role} has no company business")


async def _full(
    db: AsyncSession, model: type[LegalRep] | type[Admin], actor: Actor, company: Company
) -> Access:
    found = await db.scalar(
        select(model.id).where(
            model.company_id == company.id,
            model.id_number == actor.id_number,
            model.name == actor.name,
        )
    )
    if found is None:
        raise AccountRevoked(f"{actor.role} gone")
    return Access(everything=True)
