"""Which accounts a person has here (docs/api.md, accounts endpoint; seed 000 §5.2.2).

A person is matched by ID number AND name: a wrong name entered by the legal representative
means that agent cannot log in (seed 000 §3.1.1 注).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.db.models import Admin, Agent, Company, LegalRep, Person
from portal.errors import AccountRevoked, NoAccount, NoAgentAccount, NoLegalRepAccount
from portal.rules.accounts import Account
from portal.rules.registration import Relationship
from portal.rules.roles import Identity, Role

IDENTITY_OF_ROLE = {
    Role.PERSONAL: Identity.PERSONAL,
    Role.STAFF: Identity.PERSONAL,
    Role.LEGAL_REP: Identity.LEGAL_REP,
    Role.ADMIN: Identity.LEGAL_REP,
    Role.AGENT: Identity.AGENT,
}


async def accounts_for(
    db: AsyncSession, id_number: str, name: str, identity: Identity
) -> list[Account]:
    """The accounts for `identity`, or the seed's error when there are none."""
    if identity is Identity.PERSONAL:
        found = await _personal(db, id_number, name)
        if not found:
            raise NoAccount()
    elif identity is Identity.LEGAL_REP:
        found = await _legal_rep(db, id_number, name) + await _admin(db, id_number, name)
        if not found:
            raise NoLegalRepAccount()
    else:
        found = await _agent(db, id_number, name)
        if not found:
            raise NoAgentAccount()
    return found


async def still_valid(
    db: AsyncSession, role: Role, id_number: str, name: str, credit_code: str
) -> Account:
    """The account named in an ID token, as the portal's tables have it now (or 403)."""
    try:
        accounts = await accounts_for(db, id_number, name, IDENTITY_OF_ROLE[role])
    except (NoAccount, NoLegalRepAccount, NoAgentAccount):
        raise AccountRevoked(str(role)) from None
    for account in accounts:
        if account.role is role and account.credit_code == credit_code:
            return account
    raise AccountRevoked(str(role))


async def _personal(db: AsyncSession, id_number: str, name: str) -> list[Account]:
    person = await db.scalar(
        select(Person).where(Person.id_number == id_number, Person.name == name)
    )
    if person is None:
        return []
    found = [Account(role=Role.PERSONAL, id_number=id_number, name=name)]
    if person.staff_agency:
        found.append(
            Account(role=Role.STAFF, id_number=id_number, name=name, agency=person.staff_agency)
        )
    return found


def _all_relationships(company: Company) -> tuple[Relationship, ...]:
    return tuple(Relationship(r.unit_no, r.insurance_type, r.agency) for r in company.relationships)


async def _legal_rep(db: AsyncSession, id_number: str, name: str) -> list[Account]:
    rows = await db.scalars(
        select(Company)
        .join(LegalRep, LegalRep.company_id == Company.id)
        .where(LegalRep.id_number == id_number, LegalRep.name == name)
        .order_by(Company.id)
    )
    return [_company_account(Role.LEGAL_REP, c, id_number, name) for c in rows]


async def _admin(db: AsyncSession, id_number: str, name: str) -> list[Account]:
    rows = await db.scalars(
        select(Company)
        .join(Admin, Admin.company_id == Company.id)
        .where(Admin.id_number == id_number, Admin.name == name)
        .order_by(Company.id)
    )
    return [_company_account(Role.ADMIN, c, id_number, name) for c in rows]


def _company_account(role: Role, company: Company, id_number: str, name: str) -> Account:
    return Account(
        role=role,
        id_number=id_number,
        name=name,
        credit_code=company.credit_code,
        company_name=company.name,
        relationships=_all_relationships(company),
    )


async def _agent(db: AsyncSession, id_number: str, name: str) -> list[Account]:
    rows = await db.execute(
        select(Agent, Company)
        .join(Company, Agent.company_id == Company.id)
        .where(Agent.id_number == id_number, Agent.name == name)
        .order_by(Company.id)
    )
    found = []
    for agent, company in rows:
        granted = tuple(
            Relationship(
                g.relationship.unit_no, g.relationship.insurance_type, g.relationship.agency
            )
            for g in sorted(agent.relationship_grants, key=lambda g: g.relationship_id)
        )
        found.append(
            Account(
                role=Role.AGENT,
                id_number=id_number,
                name=name,
                credit_code=company.credit_code,
                company_name=company.name,
                relationships=granted,
                business_items=tuple(sorted(g.item_code for g in agent.item_grants)),
            )
        )
    return found
