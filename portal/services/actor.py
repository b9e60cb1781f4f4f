"""Who is acting: the logged-in account taken from the session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal.rules.roles import Role


@dataclass(frozen=True)
class Actor:
    role: Role
    id_number: str
    name: str
    credit_code: str = ""
    company_name: str = ""

    @classmethod
    def from_session(cls, account: dict[str, Any]) -> Actor:
        return cls(
            role=Role(account["role"]),
            id_number=account["id_number"],
            name=account["name"],
            credit_code=account.get("credit_code", ""),
            company_name=account.get("company_name", ""),
        )

    @property
    def label(self) -> str:
        """Short masked label for `granted_by` columns."""
        return f"{self.role}:{self.name[:1]}*"


SYSTEM = Actor(role=Role.STAFF, id_number="", name="系统")
