"""Printed documents: the receipt (受理单) of an accepted application and the certificate of
insured employees (单位参保证明 / 单位权益单), each with a QR signed by the portal's certificate
key. Issuing one is audited; nothing else changes.

Seed 001 items 11, 27, 39: a receipt once the agency has accepted the application, 暂无单据
before that. Seed 003 三、5: 选择险种、时间段 → 预览权益单 → 单位人员参保证明, 下载.
Seed 002 单位权益单: lists the insured employees, sealed, valid six months, verifiable by the app.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from portal.clock import china_today
from portal.coresys import RosterEntry, SqlCoreSystem
from portal.db.models import Application, Company, InsuranceRelationship
from portal.documents import certificate, pdf
from portal.documents.errors import InvalidPeriod, NoDocument
from portal.documents.keyring import CertKeyring
from portal.errors import InvalidMonth, RelationshipRequired
from portal.rules import fields, items
from portal.rules.access import Access
from portal.rules.applications import STATE_LABELS, State
from portal.rules.roles import ROLE_LABELS, Role
from portal.services import audit
from portal.services.actor import Actor

MAX_PERIOD_MONTHS = 120
RECEIPT_KIND = "application_receipt"
CERTIFICATE_KIND = "unit_insurance_certificate"


@dataclass(frozen=True)
class Signer:
    """What signing needs: the keyring, the portal's public URL (the issuer), the clock."""

    keyring: CertKeyring
    issuer: str
    now: dt.datetime


@dataclass(frozen=True)
class Period:
    start: dt.date  # first day of the first month
    end: dt.date  # first day of the last month

    @property
    def label(self) -> str:
        return f"{self.start:%Y%m} 至 {self.end:%Y%m}"


def period(start: str, end: str, *, now: dt.datetime) -> Period:
    """缴费起止年月: real months, start first, not after this month, at most ten years."""
    try:
        first, last = fields.parse_month(start), fields.parse_month(end)
    except InvalidMonth:
        raise InvalidPeriod(f"{start[:8]!r} {end[:8]!r}") from None
    today = china_today(now)
    span = (last.year - first.year) * 12 + last.month - first.month
    if first > last or last > today.replace(day=1) or span >= MAX_PERIOD_MONTHS:
        raise InvalidPeriod(f"{first} {last}")
    return Period(first, last)


def _sign(signer: Signer, content: certificate.CertificateContent, serial: str) -> tuple[str, str]:
    """The token and the key id that signed it."""
    record, key = signer.keyring.signing_key()
    claims = certificate.claims(content, issuer=signer.issuer, serial=serial, issued=signer.now)
    return certificate.sign(claims, kid=record.kid, alg=record.alg, key=key), record.kid


# --- 受理单 ---------------------------------------------------------------------------------
def has_receipt(app: Application) -> bool:
    """A receipt exists once the agency accepted the application (and it was not withdrawn)."""
    return app.accepted_at is not None and app.state != State.WITHDRAWN


def receipt(
    db: AsyncSession, actor: Actor, company: Company, app: Application, signer: Signer
) -> pdf.Document:
    """The receipt's document, or 暂无单据; the issuance is audited in the caller's transaction."""
    if not has_receipt(app) or app.serial_no is None or app.accepted_at is None:
        raise NoDocument(f"application {app.id} is {app.state}")
    item = items.get(app.item_code)
    state_zh = STATE_LABELS[State(app.state)][0]
    content = certificate.CertificateContent(
        kind=RECEIPT_KIND,
        title_zh="社会保险业务受理单",
        title_en="Social insurance application receipt",
        holder_name=company.name,
        holder_id=company.credit_code,
        facts=(
            certificate.Fact("业务事项", "Business", item.zh),
            certificate.Fact("人数", "Persons", str(len(app.persons))),
            certificate.Fact("受理时间", "Accepted", pdf.beijing(app.accepted_at)),
            certificate.Fact("经办机构", "Agency", app.agency),
        ),
    )
    token, kid = _sign(signer, content, app.serial_no)
    audit.record(
        db,
        actor,
        "document.receipt",
        company_id=company.id,
        target=f"application:{app.id}",
        detail={"serial": app.serial_no, "kid": kid},
        at=signer.now,
    )
    filer_role = ROLE_LABELS.get(Role(app.filer_role), (app.filer_role, ""))[0]
    return pdf.Document(
        title="社会保险业务受理单",
        subtitle=f"{item.zh}",
        number_label="受理流水号",
        number=app.serial_no,
        fields=(
            ("单位名称", company.name),
            ("统一社会信用代码", company.credit_code),
            ("单位编号", app.unit_no),
            ("参保险种", app.insurance_type),
            ("业务事项", item.zh),
            ("申报人", f"{app.filer_name}（{filer_role}）"),
            ("提交时间", pdf.beijing(app.submitted_at) if app.submitted_at else ""),
            ("受理时间", pdf.beijing(app.accepted_at)),
            ("经办机构", app.agency),
            ("办理状态", state_zh),
        ),
        person_columns=("姓名", "公民身份号码", "申报内容"),
        persons=tuple(pdf.Person(p.name, p.id_number, _row_summary(p.data)) for p in app.persons),
        notes=pdf.RECEIPT_NOTES,
        seal_text=app.agency,
        issued_at=signer.now,
        valid_until=certificate.expires_at(signer.now),
        qr_text=certificate.qr_text(signer.issuer, token),
    )


def _row_summary(data: dict[str, Any]) -> str:
    parts = []
    for name, value in data.items():
        field_ = fields.FIELDS.get(name)
        if field_ is not None and value not in ("", None):
            parts.append(f"{field_.zh.split('（')[0]} {value}")
    return "；".join(parts)


# --- 单位参保证明 / 单位权益单 ---------------------------------------------------------------
async def insured(
    db: AsyncSession, relationship: InsuranceRelationship, span: Period
) -> list[RosterEntry]:
    """The persons of the core system insured with this unit and type during the period."""
    roster = await SqlCoreSystem(db).roster(
        [relationship.unit_no], [(relationship.unit_no, relationship.insurance_type)]
    )
    return [
        entry
        for entry in roster
        if entry.start_month <= span.end
        and (entry.end_month is None or entry.end_month >= span.start)
    ]


def relationship_for(
    company: Company, access: Access, relationship_id: int
) -> InsuranceRelationship:
    """The company's relationship (险种) for the certificate, if the actor was granted it."""
    relationship = next((r for r in company.relationships if r.id == relationship_id), None)
    if relationship is None:
        raise RelationshipRequired(str(relationship_id))
    access.check("certificate", relationship.id)
    return relationship


async def unit_certificate(
    db: AsyncSession,
    actor: Actor,
    company: Company,
    relationship: InsuranceRelationship,
    span: Period,
    signer: Signer,
) -> pdf.Document:
    """单位人员参保证明 for one insurance type and period, from the core system."""
    entries = await insured(db, relationship, span)
    serial = certificate.new_serial("ZM", signer.now)
    content = certificate.CertificateContent(
        kind=CERTIFICATE_KIND,
        title_zh="单位参保证明",
        title_en="Company social insurance certificate",
        holder_name=company.name,
        holder_id=company.credit_code,
        facts=(
            certificate.Fact("单位编号", "Unit", relationship.unit_no),
            certificate.Fact("参保险种", "Insurance", relationship.insurance_type),
            certificate.Fact("缴费起止年月", "Period", span.label),
            certificate.Fact("缴费总人数", "Insured", str(len(entries))),
        ),
    )
    token, kid = _sign(signer, content, serial)
    audit.record(
        db,
        actor,
        "document.certificate",
        company_id=company.id,
        target=f"certificate:{serial}",
        detail={
            "unit_no": relationship.unit_no,
            "insurance_type": relationship.insurance_type,
            "period": span.label,
            "persons": len(entries),
            "kid": kid,
        },
        at=signer.now,
    )
    return pdf.Document(
        title="单位参保证明",
        subtitle="社会保险权益记录单（单位）",
        number_label="证明编号",
        number=serial,
        fields=(
            ("参保单位全称", company.name),
            ("统一社会信用代码", company.credit_code),
            ("单位编号", relationship.unit_no),
            ("参保险种", relationship.insurance_type),
            ("缴费起止年月", span.label),
            ("缴费总人数", str(len(entries))),
            ("经办机构", relationship.agency),
        ),
        person_columns=("姓名", "公民身份号码(社会保障号)", "参保起止年月 / 状态"),
        persons=tuple(pdf.Person(e.name, e.id_number, _coverage(e)) for e in entries),
        notes=pdf.CERT_NOTES,
        seal_text=relationship.agency,
        issued_at=signer.now,
        valid_until=certificate.expires_at(signer.now),
        qr_text=certificate.qr_text(signer.issuer, token),
    )


def _coverage(entry: RosterEntry) -> str:
    until = f"{entry.end_month:%Y%m}" if entry.end_month else "至今"
    state = "参保缴费" if entry.state == "active" else "暂停缴费"
    return f"{entry.start_month:%Y%m} — {until}　{state}"
