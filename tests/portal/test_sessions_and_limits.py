"""Issue 12 on the portal: sessions only when needed and purged, /register/done only for the
registering session, 单位注册 bounded (429 with Retry-After), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from portal.app import create_app
from portal.config import Settings
from portal.db.models import Company, RateCounter, SeenToken, WebSession
from portal.demo import load_demo
from portal.http.keys import DB, REGISTRIES
from portal.rules import limits
from portal.services import housekeeping
from tests.support.snapshot import snapshot

from .conftest import C1, C4, C_UNKNOWN, WANG, csrf_of, error_code

WU = ("230106197802031895", "吴海涛")
C4_NAME = "哈尔滨冰城数码科技有限公司"


async def _count(client: TestClient, model: Any) -> int:
    async with client.app[DB]() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def test_anonymous_gets_create_no_session_row(client: TestClient) -> None:
    """Home, 办事中心, the registration form (its CSRF token rides in a signed cookie), a
    language switch, a 404, a refused page and static files: no session row is written."""
    for path in (
        "/",
        "/banshi",
        "/register",
        "/register?lang=en",
        "/register/done?code=" + C1,
        "/nope",
        "/usercenter",
        f"/uc/{C1}",
        "/static/portal.css",
    ):
        await client.get(path)
    assert await _count(client, WebSession) == 0
    resp = await client.get("/auth/login?identity=legal_rep", allow_redirects=False)
    assert resp.status == 303 and await _count(client, WebSession) == 1  # a pending login needs one


async def test_anonymous_form_token_is_this_browsers_own(
    client: TestClient, aiohttp_client
) -> None:
    """The cookie-held CSRF token of one browser is worthless in another (double submit with a
    signed cookie): the registration POST is refused and nothing is created."""
    token = await csrf_of(client, "/register")
    other: TestClient = await aiohttp_client(client.server)
    form = {"_csrf": token, "agree": "on", "credit_code": C4, "company_name": C4_NAME}
    resp = await other.post("/register", data={**form, "id_number": WU[0], "legal_rep_name": WU[1]})
    assert (resp.status, error_code(await resp.text())) == (403, "csrf_failed")
    assert await _count(client, Company) == 3


async def test_expired_rows_are_purged(client: TestClient) -> None:
    """The housekeeping round deletes expired sessions, remembered jti and counters, and keeps
    the live ones."""
    now = dt.datetime(2026, 12, 1, 12, 0)
    past, future = now - dt.timedelta(seconds=1), now + dt.timedelta(hours=1)
    async with client.app[DB]() as db:
        for i, expires in enumerate((past, future)):
            db.add(WebSession(id=f"s{i}", data={}, created_at=past, expires_at=expires))
            db.add(SeenToken(key=f"t{i}", expires_at=expires))
            db.add(RateCounter(key=f"r{i}", count=3, window_ends=expires))
        await db.commit()
    await housekeeping.purge_once(client.app[DB], lambda: now)
    found = await snapshot(client.app)
    assert [r[0] for r in found["web_sessions"]] == ["s1"]
    assert [r[0] for r in found["seen_tokens"]] == ["t1"]
    assert [r[0] for r in found["rate_counters"]] == ["r1"]


async def _register(client: TestClient, **fields: str) -> Any:
    token = await csrf_of(client, "/register")
    form = {"_csrf": token, "agree": "on", "id_type": "居民身份证", **fields}
    return await client.post("/register", data=form, allow_redirects=False)


async def test_register_done_answers_only_the_registering_session(
    client: TestClient, aiohttp_client
) -> None:
    """注册成功 is shown to the browser that registered; to anyone else /register/done?code= is
    the same 404 for a registered and an unknown company, without the company's name."""
    resp = await _register(
        client, credit_code=C4, company_name=C4_NAME, id_number=WU[0], legal_rep_name=WU[1]
    )
    assert resp.status == 303
    page = await (await client.get(resp.headers["Location"])).text()
    assert "注册成功" in page and C4_NAME in page
    stranger: TestClient = await aiohttp_client(client.server)
    for code in (C4, C1, C_UNKNOWN):
        resp = await stranger.get(f"/register/done?code={code}")
        page = await resp.text()
        assert (resp.status, error_code(page)) == (404, "not_found"), code
        assert C4_NAME not in page and "哈尔滨龙江机械制造有限公司" not in page


async def test_register_is_bounded_per_credit_code(aiohttp_client, settings: Settings) -> None:
    """Five tries per credit code per hour (an ID-number oracle needs many): the sixth is 429
    with Retry-After and checks nothing; an hour later the form answers again."""
    now = [dt.datetime(2026, 12, 1, 12, 0)]
    client: TestClient = await aiohttp_client(create_app(settings, clock=lambda: now[0]))
    await load_demo(client.app[DB], client.app[REGISTRIES])
    wrong = {"credit_code": C4, "company_name": C4_NAME, "legal_rep_name": WANG[1]}
    for _ in range(limits.REGISTER_PER_CREDIT_CODE.max_hits):
        resp = await _register(client, **wrong, id_number=WANG[0])
        assert error_code(await resp.text()) == "registry_verification_failed"
    before = await snapshot(client.app, leave_out=("web_sessions", "rate_counters"))
    resp = await _register(
        client, credit_code=C4, company_name=C4_NAME, id_number=WU[0], legal_rep_name=WU[1]
    )
    assert (resp.status, error_code(await resp.text())) == (429, "too_many_attempts")
    assert 3500 <= int(resp.headers["Retry-After"]) <= 3600
    assert "操作过于频繁，请稍后再试" in await resp.text()
    assert await snapshot(client.app, leave_out=("web_sessions", "rate_counters")) == before
    now[0] += limits.REGISTER_PER_CREDIT_CODE.window
    resp = await _register(
        client, credit_code=C4, company_name=C4_NAME, id_number=WU[0], legal_rep_name=WU[1]
    )
    assert resp.status == 303


async def test_register_is_bounded_per_address(aiohttp_client, settings: Settings) -> None:
    """Twenty tries per client address per hour, whatever the credit codes: then 429."""
    now = [dt.datetime(2026, 12, 1, 12, 0)]
    client: TestClient = await aiohttp_client(create_app(settings, clock=lambda: now[0]))
    await load_demo(client.app[DB], client.app[REGISTRIES])
    statuses = []
    for _ in range(limits.REGISTER_PER_ADDRESS.max_hits + 2):
        resp = await _register(
            client, credit_code="x", company_name="x", id_number="1", legal_rep_name="x"
        )
        statuses.append(resp.status)
    assert statuses == [400] * limits.REGISTER_PER_ADDRESS.max_hits + [429, 429]
    assert int(resp.headers["Retry-After"]) > 0
