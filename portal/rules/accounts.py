"""Accounts as the accounts endpoint and the session describe them (docs/api.md, ACCOUNT)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portal.rules.registration import Relationship
from portal.rules.roles import Role, account_key


@dataclass(frozen=True)
class Account:
    role: Role
    id_number: str
    name: str
    credit_code: str = ""
    company_name: str = ""
    relationships: tuple[Relationship, ...] = ()
    business_items: tuple[str, ...] = ()
    agency: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        return account_key(self.role, self.credit_code)

    def wire(self) -> dict[str, Any]:
        """The ACCOUNT object of docs/api.md."""
        body: dict[str, Any] = {"key": self.key, "role": str(self.role)}
        if self.credit_code:
            body["credit_code"] = self.credit_code
            body["company_name"] = self.company_name
            body["unit_numbers"] = sorted({r.unit_no for r in self.relationships})
            body["relationships"] = [
                {"unit_no": r.unit_no, "insurance_type": r.insurance_type, "agency": r.agency}
                for r in self.relationships
            ]
        if self.role is Role.AGENT:
            body["business_items"] = list(self.business_items)
        if self.agency:
            body["agency"] = self.agency
        return body

    def session_view(self) -> dict[str, str]:
        """What the session keeps: who, in which role, for which company."""
        return {
            "role": str(self.role),
            "id_number": self.id_number,
            "name": self.name,
            "credit_code": self.credit_code,
            "company_name": self.company_name,
        }
