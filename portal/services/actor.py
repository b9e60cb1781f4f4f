"""Who is acting: the session names a person and an account; the tables say what it holds now.

DESIGN.md "Authorization is re-checked on every request": the session only remembers who logged
in as what. Every request that acts for a company (or at the counter) reads the account again
from the portal's tables (`current`), so a deleted agent, a removed administrator or a revoked
grant takes effect on the next click, not at the next login.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from portal.rules.accounts import Account
from portal.rules.registration import Relationship
from portal.rules.roles import Role
from portal.services.accounts import still_valid


@dataclass(frozen=True)
class Actor:
    role: Role
    id_number: str
    name: str
    credit_code: str = ""
    company_name: str = ""
    agency: str = ""  # staff: their agency (经办机构)
    relationships: tuple[Relationship, ...] = ()  # what the account holds now
    business_items: tuple[str, ...] = ()  # agents: the granted items

    @classmethod
    def from_session(cls, account: dict[str, Any]) -> Actor:
        """Only who the session says logged in; nothing here is an authorization."""
        return cls(
            role=Role(account["role"]),
            id_number=account["id_number"],
            name=account["name"],
            credit_code=account.get("credit_code", ""),
            company_name=account.get("company_name", ""),
        )

    @classmethod
    def from_account(cls, account: Account) -> Actor:
        return cls(
            role=account.role,
            id_number=account.id_number,
            name=account.name,
            credit_code=account.credit_code,
            company_name=account.company_name,
            agency=account.agency,
            relationships=account.relationships,
            business_items=account.business_items,
        )

    @property
    def label(self) -> str:
        """Short masked label for `granted_by` columns."""
        return f"{self.role}:{self.name[:1]}*"


async def current(db: AsyncSession, claimed: Actor) -> Actor:
    """The session's account as the tables hold it now, or AccountRevoked (403)."""
    account = await still_valid(
        db, claimed.role, claimed.id_number, claimed.name, claimed.credit_code
    )
    return Actor.from_account(account)


SYSTEM = Actor(role=Role.STAFF, id_number="", name="系统")
