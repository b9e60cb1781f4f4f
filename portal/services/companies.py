"""Company registration (单位注册) and look-ups."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.db.models import Company, InsuranceRelationship, LegalRep, Person
from portal.errors import CompanyNotFound, LegalRepAccountExists
from portal.registries import Registries
from portal.rules import agency as agencies
from portal.rules import registration
from portal.rules.roles import Role
from portal.services import audit
from portal.services.actor import Actor


async def by_code(db: AsyncSession, credit_code: str) -> Company | None:
    return await db.scalar(select(Company).where(Company.credit_code == credit_code))


async def require(db: AsyncSession, credit_code: str) -> Company:
    company = await by_code(db, credit_code)
    if company is None:
        raise CompanyNotFound(credit_code)
    return company


async def served_by(db: AsyncSession, credit_code: str, agency: str) -> Company:
    """The company, if the staff member's agency serves it; else the same 404 as unknown."""
    company = await by_code(db, credit_code)
    if company is None or not agencies.serves(agency, company.relationships):
        raise CompanyNotFound(credit_code[:4])
    return company


async def search(db: AsyncSession, query: str, agency: str) -> Company:
    """Seed 000 §3.1.2: find a company by its credit code or one of its unit numbers, among
    the companies `agency` serves (issue 8: only the staff member's own agency's)."""
    value = query.strip().upper()
    company = await by_code(db, value)
    if company is None:
        company = await db.scalar(
            select(Company)
            .join(InsuranceRelationship)
            .where(InsuranceRelationship.unit_no == value)
            .limit(1)
        )
    if company is None or not agencies.serves(agency, company.relationships):
        raise CompanyNotFound(value[:4])
    return company


async def register(
    db: AsyncSession, registries: Registries, application: registration.Application
) -> Company:
    """Check the application against the registries and create company and legal rep."""
    existing = await by_code(db, application.credit_code)
    verified = registration.decide(
        application,
        registries.lookup(application.credit_code),
        already_registered=existing is not None,
    )
    actor = Actor(
        role=Role.LEGAL_REP,
        id_number=verified.legal_rep_id_number,
        name=verified.legal_rep_name,
        credit_code=verified.credit_code,
    )
    try:
        company = _create(db, verified)
        await db.flush()
        await ensure_person(db, verified.legal_rep_id_number, verified.legal_rep_name)
        audit.record(
            db, actor, "company.register", company_id=company.id, target=company.credit_code
        )
        await db.commit()
    except IntegrityError:
        # A concurrent registration of the same credit code won the unique constraint.
        await db.rollback()
        if await by_code(db, application.credit_code) is None:
            raise
        raise LegalRepAccountExists("concurrent registration") from None
    await db.refresh(company)
    return company


def _create(db: AsyncSession, verified: registration.VerifiedCompany) -> Company:
    now = clock.now(db)
    company = Company(
        credit_code=verified.credit_code,
        name=verified.name,
        address=verified.address,
        registered_at=now,
    )
    company.relationships = [
        InsuranceRelationship(unit_no=r.unit_no, insurance_type=r.insurance_type, agency=r.agency)
        for r in verified.relationships
    ]
    company.legal_rep = LegalRep(
        id_number=verified.legal_rep_id_number,
        name=verified.legal_rep_name,
        phone=verified.legal_rep_phone,
        created_at=now,
    )
    db.add(company)
    return company


async def ensure_person(
    db: AsyncSession, id_number: str, name: str, phone: str = "", staff_agency: str | None = None
) -> Person:
    """The person with this ID number, created when the hall does not know them yet."""
    person = await db.scalar(select(Person).where(Person.id_number == id_number))
    if person is None:
        person = Person(
            id_number=id_number,
            name=name,
            phone=phone,
            staff_agency=staff_agency,
            created_at=clock.now(db),
        )
        db.add(person)
        await db.flush()
    return person


async def update_profile(
    db: AsyncSession, actor: Actor, company: Company, *, address: str, legal_rep_phone: str
) -> None:
    """修改资料: address and contact phone only. Seed 002: the legal representative's own
    details change at the original registration authority, never here."""
    changed = []
    if company.address != address:
        company.address, changed = address, [*changed, "address"]
    if company.legal_rep is not None and company.legal_rep.phone != legal_rep_phone:
        company.legal_rep.phone, changed = legal_rep_phone, [*changed, "legal_rep_phone"]
    audit.record(
        db,
        actor,
        "company.profile",
        company_id=company.id,
        target=company.credit_code,
        detail={"changed": changed},
    )
    await db.commit()
