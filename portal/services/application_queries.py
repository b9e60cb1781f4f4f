"""我的办件 and 办理进度查询: a company's applications by state, month, ID number, serial number
(seed 001 items 5, 47); 导出全部 as CSV (seed 001 item 9). An agent sees only what was granted."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.db.models import Application, ApplicationPerson, Company
from portal.errors import InvalidRequest
from portal.rules import items
from portal.rules.access import Access
from portal.rules.applications import STATE_LABELS, State
from portal.rules.fields import parse_month
from portal.rules.idcard import normalize

BEIJING = dt.timedelta(hours=8)


@dataclass(frozen=True)
class Filters:
    state: str = ""
    month: str = ""  # YYYY-MM, by the month it was submitted (or saved, for drafts)
    id_number: str = ""
    serial: str = ""

    @classmethod
    def of(cls, query: dict[str, str]) -> Filters:
        state = query.get("state", "").strip()
        if state and state not in {str(s) for s in State}:
            raise InvalidRequest("state")
        month = query.get("month", "").strip()
        if month:
            parse_month(month)
        return cls(
            state, month, normalize(query.get("id_number", ""))[:18], query.get("serial", "")[:24]
        )


def bj(value: dt.datetime | None) -> str:
    """A naive-UTC time as Beijing time for pages and exports."""
    return (value + BEIJING).strftime("%Y-%m-%d %H:%M") if value else ""


def _scoped(company: Company, access: Access) -> Select[tuple[Application]]:
    query = select(Application).where(Application.company_id == company.id)
    if not access.everything:
        query = query.where(
            Application.item_code.in_(sorted(access.items)),
            Application.relationship_id.in_(sorted(access.relationship_ids)),
        )
    return query


async def search(
    db: AsyncSession, company: Company, access: Access, filters: Filters, limit: int = 500
) -> list[Application]:
    query = _scoped(company, access)
    if filters.state:
        query = query.where(Application.state == filters.state)
    if filters.serial:
        query = query.where(Application.serial_no == filters.serial.strip())
    if filters.id_number:
        query = query.where(
            Application.id.in_(
                select(ApplicationPerson.application_id).where(
                    ApplicationPerson.id_number == filters.id_number
                )
            )
        )
    if filters.month:
        start = dt.datetime.combine(parse_month(filters.month), dt.time()) - BEIJING
        end = dt.datetime.combine(_next_month(parse_month(filters.month)), dt.time()) - BEIJING
        when = func.coalesce(Application.submitted_at, Application.created_at)
        query = query.where(when >= start, when < end)
    rows = await db.scalars(query.order_by(Application.id.desc()).limit(limit))
    return list(rows)


def _next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


async def counts(db: AsyncSession, company: Company, access: Access) -> dict[str, int]:
    query = _scoped(company, access).subquery()
    rows = await db.execute(select(query.c.state, func.count()).group_by(query.c.state))
    return {str(state): int(n) for state, n in rows}


HEADER = (
    "受理流水号",
    "业务事项",
    "单位编号",
    "险种类型",
    "人员",
    "办件状态",
    "申报人",
    "提交时间",
    "审核人",
    "退回原因",
)


def _cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(rows: list[Application]) -> bytes:
    """UTF-8 with a BOM, so that Excel opens the Chinese columns (seed 001 item 9 方式二)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for app in rows:
        writer.writerow(
            _cell(str(v))
            for v in (
                app.serial_no or "",
                items.get(app.item_code).zh,
                app.unit_no,
                app.insurance_type,
                "；".join(f"{p.name} {p.id_number}" for p in app.persons),
                STATE_LABELS[State(app.state)][0],
                app.filer_name,
                bj(app.submitted_at),
                app.reviewer_name or "",
                app.return_reason or "",
            )
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")
