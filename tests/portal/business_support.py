"""Helpers for the business tests: the whole hall (real authsvc, mobile_sim phones, the portal)
with a business clock the test sets, logged-in browsers, and row counts for "nothing changed"."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from sqlalchemy import func, select

from portal.db.models import (
    Application,
    ApplicationEvent,
    AuditEntry,
    Company,
    CoreInsurance,
    CorePerson,
    InsuranceRelationship,
)
from portal.http.keys import DB
from tests.conftest import PhoneFactory
from tests.integration.test_portal_with_authsvc import csrf, login, person
from tests.support.hall import C1, Hall

ZHANG = ("230104199001051235", "张伟", "13804510003")  # agent of C1: enrol, stop
WANG = ("230102197503121019", "王建国", "13804510001")  # legal rep of C1
LIU = ("23010219881130134X", "刘洋", "13804510004")  # agent of C1: certificate only
SUN = ("230103198506141673", "孙丽", "13804510007")  # staff, 哈尔滨市社会保险事业服务中心
CHEN = (
    "230102199504021561",
    "陈静",
    "13804510006",
)  # no company (a test makes her an agent)  # staff, 哈尔滨市社会保险事业服务中心
PENSION, UNEMPLOYMENT = "企业职工基本养老保险", "失业保险"
U1 = "23010010001"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n"
CODE = re.compile(r'data-code="([a-z_]+)"|<code>([a-z_]+)</code>')


def code_of(page: str) -> str | None:
    """The error code a page shows (form banner or error page)."""
    match = CODE.search(page)
    return (match.group(1) or match.group(2)) if match else None


def beijing(*args: int) -> dt.datetime:
    return dt.datetime(*args) - dt.timedelta(hours=8)


@dataclass
class BusinessClock:
    """The portal's business clock, set by the test (never today's date)."""

    now: dt.datetime = field(default_factory=lambda: beijing(2026, 12, 10, 10, 0))

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Desk:
    """One logged-in browser at the portal."""

    hall: Hall
    http: aiohttp.ClientSession
    code: str = C1

    @property
    def base(self) -> str:
        return f"{self.hall.portal_url}/uc/{self.code}"

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.hall.portal_url + path) as response:
            return response.status, await response.text()

    async def post(self, path: str, data: Any = None) -> tuple[int, str, str]:
        """POST with the CSRF token; (status, text, final path)."""
        token = await csrf(self.http, f"{self.hall.portal_url}/banshi")
        body = aiohttp.FormData()
        body.add_field("_csrf", token)
        for key, value in data or []:
            if isinstance(value, bytes):
                body.add_field(
                    key, value, filename=f"{key}.bin", content_type="application/octet-stream"
                )
            else:
                body.add_field(key, value)
        async with self.http.post(self.hall.portal_url + path, data=body) as response:
            return response.status, await response.text(), response.url.path

    async def file(
        self,
        item: str,
        relationship: int,
        rows: list[dict[str, str]] = (),  # type: ignore[assignment]
        *,
        action: str = "submit",
        extra: list[tuple[str, Any]] = (),  # type: ignore[assignment]
    ) -> tuple[int, str, str]:
        data: list[tuple[str, Any]] = [("relationship", str(relationship)), ("action", action)]
        for index, row in enumerate(rows):
            data += [(f"p-{index}-{k}", v) for k, v in row.items()]
        return await self.post(f"/uc/{self.code}/apply/{item}", [*data, *extra])


@asynccontextmanager
async def desk(
    hall: Hall, phones: PhoneFactory, who: tuple[str, str, str], role: str, code: str = C1
) -> AsyncIterator[Desk]:
    """A new browser, logged in by scanning with `who`'s phone as `role`."""
    identity = {"legal_rep": "legal_rep", "admin": "legal_rep", "agent": "agent"}.get(
        role, "personal"
    )
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        phone = await person(phones, hall, who)
        await login(hall, http, phone, identity, role, code if role != "staff" else "")
        yield Desk(hall, http, code)


async def relationship_id(hall: Hall, unit_no: str, insurance_type: str, code: str = C1) -> int:
    async with hall.portal[DB]() as db:
        found = await db.scalar(
            select(InsuranceRelationship.id)
            .join(Company)
            .where(
                Company.credit_code == code,
                InsuranceRelationship.unit_no == unit_no,
                InsuranceRelationship.insurance_type == insurance_type,
            )
        )
    assert found is not None
    return int(found)


async def counts(hall: Hall) -> dict[str, int]:
    """Rows that a refused request must leave as they were."""
    async with hall.portal[DB]() as db:
        return {
            model.__tablename__: int(await db.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Application, ApplicationEvent, AuditEntry, CorePerson, CoreInsurance)
        }


async def application(hall: Hall, app_id: int) -> Application:
    async with hall.portal[DB]() as db:
        found = await db.get(Application, app_id)
    assert found is not None
    return found


def app_id_of(path: str) -> int:
    return int(path.rstrip("/").split("/")[-1])


async def insured(hall: Hall, id_number: str, unit_no: str, insurance_type: str) -> str | None:
    """The person's state in the core system for this unit and type (None: not there)."""
    async with hall.portal[DB]() as db:
        return await db.scalar(
            select(CoreInsurance.state)
            .join(CorePerson)
            .where(
                CorePerson.id_number == id_number,
                CoreInsurance.unit_no == unit_no,
                CoreInsurance.insurance_type == insurance_type,
            )
        )
