"""Issue 12: every portal route walked for cross-company access, against the real authsvc.

The routes come from the application's router. Each one is classified below, one line per
route; a route that is not classified (or a line naming a route that is gone) fails the test,
so the walker keeps up as the portal grows. Every route that names a company, agent, upload or
other id is requested with GET and with POST — the POST carrying a valid CSRF token of the
attacker's own session — by an actor of another company, by an agent of the company without
the module, by staff of another agency and anonymously. Each answer must be a refusal (401, 403,
404, 405 for a method the route does not have, or a redirect to the login) and the database —
every table, and the upload folder — must be exactly as before.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mobile_sim import PhoneApp
from portal.db.models import (
    Agent,
    Application,
    ApplicationAttachment,
    BatchFile,
    Company,
    CounterUpload,
    InsuranceRelationship,
)
from portal.http.keys import DB, SETTINGS
from portal.rules.roles import Role
from portal.services import companies, counter
from portal.services.actor import Actor
from tests.conftest import PhoneFactory
from tests.support.hall import (
    C1,
    C3,
    SUN,
    ZHANG,
    ZHAO,
    Hall,
    csrf,
    new_browser,
    scan_login,
)
from tests.support.snapshot import snapshot


class Kind(StrEnum):
    PUBLIC = "public"  # no id, no login: home, 单位注册, static files
    OIDC = "oidc"  # the login protocol; refusals tested in tests/portal/test_id_token_refusals.py
    OPS = "ops"  # health and metrics: no data; nginx keeps /metrics off the public server block
    SIGNED = "signed"  # server to server, authenticated by a signed JWT (test_accounts_api.py)
    LOGGED_IN = "logged_in"  # any logged-in person, names no id
    COMPANY_VIEW = "company_view"  # /uc/{code}…: every role of that company, agents included
    COMPANY_MANAGE = "company_manage"  # /uc/{code}…: legal rep and administrator only
    COUNTER = "counter"  # /counter/{code}…: staff of an agency that serves the company
    REVIEW = "review"  # /review…: staff only (another agency's staff: test_business_hall.py)


# One line per route: (method, path) → kind. Routes added by other branches go here too.
ROUTES: dict[tuple[str, str], Kind] = {
    ("GET", "/"): Kind.PUBLIC,
    ("GET", "/banshi"): Kind.PUBLIC,
    ("GET", "/elder-mode"): Kind.PUBLIC,
    ("GET", "/healthz"): Kind.OPS,
    ("GET", "/readyz"): Kind.OPS,
    ("GET", "/metrics"): Kind.OPS,  # sets or clears the 长辈模式 cookie, local redirect
    ("GET", "/register"): Kind.PUBLIC,
    ("POST", "/register"): Kind.PUBLIC,
    ("GET", "/register/done"): Kind.PUBLIC,
    ("GET", "/static"): Kind.PUBLIC,
    ("GET", "/auth/login"): Kind.OIDC,
    ("GET", "/auth/callback"): Kind.OIDC,
    ("POST", "/auth/logout"): Kind.OIDC,
    ("POST", "/auth/backchannel-logout"): Kind.SIGNED,
    ("POST", "/api/accounts"): Kind.SIGNED,
    ("GET", "/usercenter"): Kind.LOGGED_IN,
    ("GET", "/uc/{code}"): Kind.COMPANY_VIEW,
    ("GET", "/uc/{code}/business"): Kind.COMPANY_VIEW,
    ("GET", "/uc/{code}/agents"): Kind.COMPANY_MANAGE,
    ("POST", "/uc/{code}/agents"): Kind.COMPANY_MANAGE,
    ("GET", "/uc/{code}/agents/{agent_id}"): Kind.COMPANY_MANAGE,
    ("POST", "/uc/{code}/agents/{agent_id}"): Kind.COMPANY_MANAGE,
    ("POST", "/uc/{code}/agents/{agent_id}/delete"): Kind.COMPANY_MANAGE,
    ("POST", "/uc/{code}/agents/{agent_id}/grants"): Kind.COMPANY_MANAGE,
    ("POST", "/uc/{code}/admin"): Kind.COMPANY_MANAGE,
    ("POST", "/uc/{code}/admin/delete"): Kind.COMPANY_MANAGE,
    ("GET", "/uc/{code}/profile"): Kind.COMPANY_MANAGE,
    ("POST", "/uc/{code}/profile"): Kind.COMPANY_MANAGE,
    ("GET", "/counter"): Kind.LOGGED_IN,
    ("GET", "/counter/{code}"): Kind.COUNTER,
    ("POST", "/counter/{code}/upload"): Kind.COUNTER,
    ("POST", "/counter/{code}/upload/{upload_id}/delete"): Kind.COUNTER,
    ("POST", "/counter/{code}/agents"): Kind.COUNTER,
    ("POST", "/counter/{code}/submit"): Kind.COUNTER,
    ("POST", "/usercenter/card/report-lost"): Kind.LOGGED_IN,
    # business handling (办事中心, 我的办件, review)
    ("GET", "/banshi/{item}"): Kind.PUBLIC,
    ("GET", "/banshi/{item}/apply"): Kind.LOGGED_IN,
    ("GET", "/uc/{code}/apply/{item}"): Kind.COMPANY_VIEW,
    ("POST", "/uc/{code}/apply/{item}"): Kind.COMPANY_VIEW,
    ("GET", "/uc/{code}/business.csv"): Kind.COMPANY_VIEW,
    ("GET", "/uc/{code}/business/{app_id}"): Kind.COMPANY_VIEW,
    ("GET", "/uc/{code}/business/{app_id}/attachments/{att_id}"): Kind.COMPANY_VIEW,
    ("POST", "/uc/{code}/business/{app_id}/submit"): Kind.COMPANY_VIEW,
    ("POST", "/uc/{code}/business/{app_id}/withdraw"): Kind.COMPANY_VIEW,
    ("GET", "/uc/{code}/progress"): Kind.COMPANY_VIEW,
    ("GET", "/uc/{code}/roster"): Kind.COMPANY_VIEW,
    ("GET", "/review"): Kind.REVIEW,
    ("GET", "/review/{app_id}"): Kind.REVIEW,
    ("GET", "/review/{app_id}/attachments/{att_id}"): Kind.REVIEW,
    ("POST", "/review/{app_id}/{op}"): Kind.REVIEW,
    # documents and batch files
    ("GET", "/.well-known/cert-jwks.json"): Kind.PUBLIC,
    ("GET", "/cert/verify"): Kind.PUBLIC,
    ("POST", "/api/cert/verify"): Kind.PUBLIC,
    ("GET", "/openapi.json"): Kind.PUBLIC,  # the machine endpoints' description
    ("GET", "/uc/{code}/business/{app_id}/receipt.pdf"): Kind.COMPANY_VIEW,
    ("GET", "/uc/{code}/certificate"): Kind.COMPANY_VIEW,
    ("POST", "/uc/{code}/certificate"): Kind.COMPANY_VIEW,
    ("GET", "/uc/{code}/batch"): Kind.COMPANY_VIEW,
    ("POST", "/uc/{code}/batch"): Kind.COMPANY_VIEW,
    ("GET", "/uc/{code}/batch/template/{item}.{ext}"): Kind.COMPANY_VIEW,
    ("GET", "/uc/{code}/batch/{batch_id}"): Kind.COMPANY_VIEW,
}
ID_ROUTES = {Kind.COMPANY_VIEW, Kind.COMPANY_MANAGE, Kind.COUNTER, Kind.REVIEW}
WALKED = ID_ROUTES | {Kind.LOGGED_IN}  # LOGGED_IN: walked as anonymous only
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class Victim:
    """The ids the walker puts into URLs and forms: C1's, and one of C3's for the counter."""

    ids: dict[str, str]  # placeholder → a victim's value (C1's company, agent, upload …)
    counter_code: str  # a company the walking staff member's agency does not serve
    relationship: str  # a C1 relationship id, sent in forms


# One line per id placeholder: how to find the victim's value (business routes add theirs).
async def _agent_id(db: object, company: Company) -> str:
    agent = await db.scalar(select(Agent).where(Agent.company_id == company.id))  # type: ignore[attr-defined]
    return str(agent.id)


async def _upload_id(db: object, company: Company) -> str:
    upload = await db.scalar(  # type: ignore[attr-defined]
        select(CounterUpload).where(CounterUpload.company_id == company.id)
    )
    return str(upload.id)


async def _app_id(db: object, company: Company) -> str:
    application = await db.scalar(  # type: ignore[attr-defined]
        select(Application).where(Application.company_id == company.id)
    )
    return str(application.id)


async def _att_id(db: object, company: Company) -> str:
    attachment = await db.scalar(  # type: ignore[attr-defined]
        select(ApplicationAttachment).join(Application).where(Application.company_id == company.id)
    )
    return str(attachment.id)


async def _batch_id(db: object, company: Company) -> str:
    batch = await db.scalar(select(BatchFile).where(BatchFile.company_id == company.id))  # type: ignore[attr-defined]
    return str(batch.id)


def _fixed(value: str) -> Callable[[object, Company], Awaitable[str]]:
    async def find(_db: object, _company: Company) -> str:
        return value

    return find


NOT_IDS = {"item", "ext", "op"}  # public codes in a path, not a victim's id
PLACEHOLDERS: dict[str, Callable[[object, Company], Awaitable[str]]] = {
    "agent_id": _agent_id,
    "upload_id": _upload_id,
    "app_id": _app_id,
    "att_id": _att_id,
    "batch_id": _batch_id,
    "item": _fixed("enrol"),
    "ext": _fixed("xlsx"),
    "op": _fixed("approve"),
}


async def _file_application(db: AsyncSession, company: Company, relationship: int) -> None:
    """A submitted enrolment of C1 with one attachment and the batch file it came from."""
    now = dt.datetime(2026, 11, 10, 10, 0)
    application = Application(
        serial_no="WALKER0000000001",
        company_id=company.id,
        relationship_id=relationship,
        item_code="enrol",
        state="submitted",
        unit_no="",
        insurance_type="企业职工基本养老保险",
        agency="哈尔滨市社会保险事业服务中心",
        filer_role="legal_rep",
        filer_id_number=ZHAO[0],
        filer_name="王建国",
        form={},
        created_at=now,
        updated_at=now,
        submitted_at=now,
    )
    application.attachments.append(
        ApplicationAttachment(
            kind="form",
            original_name="a.png",
            content_type="image/png",
            size=len(PNG),
            sha256="0" * 64,
            stored_name="walker.png",
            uploaded_at=now,
        )
    )
    db.add(application)
    await db.flush()
    db.add(
        BatchFile(
            company_id=company.id,
            item_code="enrol",
            relationship_id=relationship,
            application_id=application.id,
            original_name="批量增员.xlsx",
            sha256="0" * 64,
            size=1,
            uploader_role="legal_rep",
            uploader_name="王建国",
            uploaded_at=now,
            total=1,
            accepted=1,
            results=[],
        )
    )
    await db.commit()


@dataclass
class Attacker:
    name: str
    browser: aiohttp.ClientSession
    token: str
    own_code: str  # the company the attacker acts for ("" when none)
    kinds: frozenset[Kind]  # the kinds of route this actor must be refused on


def _template(route: web.AbstractRoute) -> str:
    info = route.resource.get_info() if route.resource else {}
    return str(info.get("formatter") or info.get("path") or info.get("prefix"))


def _routes(app: web.Application) -> set[tuple[str, str]]:
    return {(r.method, _template(r)) for r in app.router.routes() if r.method != "HEAD"}


def test_every_route_is_classified(tmp_path: Path) -> None:
    """The router and the table name the same routes: a new route must be classified."""
    from portal.app import create_app
    from portal.config import Settings

    found = _routes(create_app(Settings(upload_dir=tmp_path)))
    assert found - ROUTES.keys() == set(), "classify these routes in ROUTES"
    assert ROUTES.keys() - found == set(), "these classified routes are gone"
    for method, path in found:
        names = set(re.findall(r"{(\w+)}", path)) - {"code"}
        assert names <= PLACEHOLDERS.keys(), f"{method} {path}: add its ids to PLACEHOLDERS"


async def _victim(hall: Hall) -> Victim:
    """C1 with an upload pending at the counter (as 孙丽 left it)."""
    app = hall.portal
    async with app[DB]() as db:
        company = await companies.require(db, C1)
        staff = Actor(Role.STAFF, SUN[0], SUN[1], agency="哈尔滨市社会保险事业服务中心")
        await counter.save_upload(
            db,
            staff,
            company,
            "授权书.png",
            PNG,
            upload_dir=app[SETTINGS].upload_dir,
            max_bytes=app[SETTINGS].max_upload_bytes,
        )
        relationship = await db.scalar(
            select(InsuranceRelationship.id).where(InsuranceRelationship.company_id == company.id)
        )
        await _file_application(db, company, relationship)
        ids = {"code": C1} | {k: await f(db, company) for k, f in PLACEHOLDERS.items()}
    return Victim(ids=ids, counter_code=C3, relationship=str(relationship))


async def _attackers(
    hall: Hall, phones: PhoneFactory, browsers: list[aiohttp.ClientSession]
) -> list[Attacker]:
    async def phone(who: tuple[str, str, str]) -> PhoneApp:
        return await phones(hall.authsvc.url, id_number=who[0], name=who[1], phone=who[2])

    zhao, zhang, sun, anonymous = browsers
    await scan_login(hall, zhao, await phone(ZHAO), "legal_rep", "legal_rep", C3)
    await scan_login(hall, zhang, await phone(ZHANG), "agent", "agent", C1)
    await scan_login(hall, sun, await phone(SUN), "personal", "staff")
    every = frozenset(ID_ROUTES)
    return [
        Attacker(
            "legal rep of C3",
            zhao,
            await csrf(zhao, f"{hall.portal_url}/uc/{C3}/agents"),
            C3,
            every,
        ),
        Attacker(
            "agent of C1 without 授权登录",
            zhang,
            await csrf(zhang, f"{hall.portal_url}/uc/{C1}"),
            C1,
            frozenset({Kind.COMPANY_MANAGE, Kind.COUNTER, Kind.REVIEW}),
        ),
        Attacker(
            "staff of another agency",
            sun,
            await csrf(sun, f"{hall.portal_url}/counter"),
            "",
            every - {Kind.REVIEW},
        ),
        Attacker(
            "anonymous",
            anonymous,
            await csrf(anonymous, f"{hall.portal_url}/register"),
            "",
            every | {Kind.LOGGED_IN},
        ),
    ]


def _form(attacker: Attacker, victim: Victim) -> aiohttp.FormData:
    """A plausible body for every form of the portal, with the attacker's own CSRF token."""
    form = aiohttp.FormData()
    fields = {
        "_csrf": attacker.token,
        "id_number": ZHAO[0],
        "name": ZHAO[1],
        "phone": ZHAO[2],
        "agent": victim.ids["agent_id"],
        "relationship": victim.relationship,
        "item": "enrol",
        "address": "被篡改的地址",
        "legal_rep_phone": "13900000000",
    }
    for key, value in fields.items():
        form.add_field(key, value)
    form.add_field("file", PNG, filename="x.png", content_type="image/png")
    return form


def _urls(path: str, kind: Kind, attacker: Attacker, victim: Victim) -> list[str]:
    """The victim's URL; with the attacker's own company code and the victim's other ids too."""
    code = (
        victim.counter_code if kind is Kind.COUNTER and attacker.name.startswith("staff") else None
    )
    ids = {**victim.ids, "code": code or victim.ids["code"]}
    urls = [string.Formatter().vformat(path, (), ids)]
    if attacker.own_code and set(re.findall(r"{(\w+)}", path)) - {"code", *NOT_IDS}:
        urls.append(string.Formatter().vformat(path, (), {**ids, "code": attacker.own_code}))
    return urls


def _refused(response: aiohttp.ClientResponse, allowed_methods: set[str]) -> bool:
    if response.status in (401, 403, 404):
        return True
    if response.status == 405:
        return response.method not in allowed_methods
    location = response.headers.get("Location", "")
    return response.status in (302, 303) and location.startswith("/auth/login")


async def test_every_id_route_refuses_every_other_actor(hall: Hall, phones: PhoneFactory) -> None:
    """Other company, agent without the module, other agency's staff, anonymous: GET and POST on
    every id route are refused, and every table and the upload folder stay byte-for-byte."""
    victim = await _victim(hall)
    async with new_browser() as b1, new_browser() as b2, new_browser() as b3, new_browser() as b4:
        attackers = await _attackers(hall, phones, [b1, b2, b3, b4])
        before = await snapshot(hall.portal)
        methods: dict[str, set[str]] = {}
        for method, path in ROUTES:
            methods.setdefault(path, set()).add(method)
        walked = 0
        for (_, path), kind in sorted(ROUTES.items()):
            if kind not in WALKED:
                continue
            for attacker in attackers:
                if kind not in attacker.kinds:
                    continue
                for url in _urls(path, kind, attacker, victim):
                    for method in ("GET", "POST"):
                        data = _form(attacker, victim) if method == "POST" else None
                        async with attacker.browser.request(
                            method, hall.portal_url + url, data=data, allow_redirects=False
                        ) as response:
                            await response.read()
                            assert _refused(response, methods[path]), (
                                f"{attacker.name}: {method} {url} → {response.status}"
                            )
                        walked += 1
        assert await snapshot(hall.portal) == before
    assert walked >= 100, walked  # figure for the note: printed with -s
    print(f"route walker: {walked} requests")
