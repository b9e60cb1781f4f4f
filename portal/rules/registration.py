"""Company registration (单位注册) against the organization registries.

Seed 000 §5.1.1: the company is checked in three registries (营商, 企业养老, 机关事业养老); when
none knows it: 企业信息在组织机构相关信息库验证失败，无法注册！ When a registry knows it, the
name and the legal representative entered must match that registry's record. The seed words
the three failures with that one message (方案二: check the code and name, then the legal
representative's name and ID number), and so do we: a distinct answer for "the name matched but
not the ID number" would let anyone probe whose ID number belongs to a company (issue 12); the
private `detail` says which check failed. Seed 000 §5.1.2: when the credit code is already
registered: 当前法人账号已经存在，可以直接扫码登录！
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portal.errors import LegalRepAccountExists, RegistryVerificationFailed


@dataclass(frozen=True)
class Relationship:
    """One insurance relationship (参保关系): a unit number with one insurance type."""

    unit_no: str
    insurance_type: str
    agency: str


@dataclass(frozen=True)
class RegistryRecord:
    registry: str
    credit_code: str
    name: str
    legal_rep_id_number: str
    legal_rep_name: str
    address: str = ""
    legal_rep_phone: str = ""
    relationships: tuple[Relationship, ...] = ()


@dataclass(frozen=True)
class Application:
    credit_code: str
    company_name: str
    legal_rep_id_type: str
    legal_rep_id_number: str
    legal_rep_name: str


@dataclass(frozen=True)
class VerifiedCompany:
    credit_code: str
    name: str
    address: str
    legal_rep_id_number: str
    legal_rep_name: str
    legal_rep_phone: str
    relationships: tuple[Relationship, ...]


def decide(
    application: Application, records: Sequence[RegistryRecord], *, already_registered: bool
) -> VerifiedCompany:
    """The company to create, or the seed's error for the first check that fails."""
    if already_registered:
        raise LegalRepAccountExists(application.credit_code)
    if not records:
        raise RegistryVerificationFailed(f"{application.credit_code[:4]}: unknown")
    named = [r for r in records if r.name == application.company_name.strip()]
    if not named:
        raise RegistryVerificationFailed(f"{application.credit_code[:4]}: name")
    matching = [
        r
        for r in named
        if r.legal_rep_id_number == application.legal_rep_id_number
        and r.legal_rep_name == application.legal_rep_name.strip()
    ]
    if not matching:
        raise RegistryVerificationFailed(f"{application.credit_code[:4]}: legal representative")
    return _merge(matching)


def _merge(records: Sequence[RegistryRecord]) -> VerifiedCompany:
    """One company from the matching registry records: first address/phone, all relationships."""
    first = records[0]
    relationships: dict[tuple[str, str], Relationship] = {}
    for record in records:
        for rel in record.relationships:
            relationships.setdefault((rel.unit_no, rel.insurance_type), rel)
    return VerifiedCompany(
        credit_code=first.credit_code,
        name=first.name,
        address=next((r.address for r in records if r.address), ""),
        legal_rep_id_number=first.legal_rep_id_number,
        legal_rep_name=first.legal_rep_name,
        legal_rep_phone=next((r.legal_rep_phone for r in records if r.legal_rep_phone), ""),
        relationships=tuple(relationships.values()),
    )
