"""CSRF, headers, sessions, errors, cross-company access (both databases)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from portal.db.models import Agent, AuditEntry
from portal.http.keys import DB

from .conftest import C1, C3, LIU, WANG, ZHANG, Provider, csrf_of, login


async def test_post_without_csrf_is_refused(client: TestClient) -> None:
    """A form POST without (or with a wrong) token gets 403 csrf_failed and changes nothing."""
    await client.get("/register")
    resp = await client.post("/register", data={"credit_code": C1})
    assert resp.status == 403 and "csrf_failed" in await resp.text()
    resp = await client.post("/register", data={"credit_code": C1, "_csrf": "forged"})
    assert resp.status == 403


async def test_csrf_on_user_centre_forms(client: TestClient, provider: Provider) -> None:
    """Adding an agent without the token is refused even when logged in."""
    await login(client, provider, WANG, "legal_rep", C1)
    resp = await client.post(
        f"/uc/{C1}/agents",
        data={"id_number": "230102199504021561", "name": "陈静", "phone": "13800000000"},
    )
    assert resp.status == 403
    async with client.app[DB]() as db:
        assert await db.scalar(select(func.count()).select_from(Agent)) == 3


async def test_security_headers(client: TestClient) -> None:
    """Strict CSP without inline scripts, framing only by ourselves, HttpOnly Lax cookies."""
    resp = await client.get("/register")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'self'" in csp
    assert resp.headers["X-Frame-Options"] == "SAMEORIGIN"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "<script>" not in await resp.text()


async def test_home_sets_no_cookie(client: TestClient) -> None:
    """Pages without forms create no session."""
    resp = await client.get("/")
    assert resp.status == 200 and "Set-Cookie" not in resp.headers


async def test_forged_session_cookie_is_ignored(client: TestClient) -> None:
    client.session.cookie_jar.update_cookies({"portal_session": "abc.def"})
    resp = await client.get("/usercenter")
    assert resp.status == 401


async def test_not_found_page_and_json(client: TestClient) -> None:
    """Browsers get a page, /api/* gets the JSON error shape."""
    resp = await client.get("/nope")
    assert resp.status == 404 and "您访问的页面不存在" in await resp.text()
    resp = await client.get("/api/nope")
    body = await resp.json()
    assert resp.status == 404 and body["error"] == "not_found"
    assert set(body["message"]) == {"zh", "en"} and "request_id" in body


async def test_english_is_sticky(client: TestClient) -> None:
    """?lang=en switches to English and stays in the session; Accept-Language works too."""
    resp = await client.get("/register?lang=en")
    assert "Unified social credit code" in await resp.text()
    resp = await client.get("/register")
    assert "Unified social credit code" in await resp.text()
    resp = await client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "Company login" in await resp.text()


async def test_agent_of_a_cannot_see_b(client: TestClient, provider: Provider) -> None:
    """An agent of company A asking for B's pages or agents gets 403; nothing changes."""
    await login(client, provider, ZHANG, "agent", C1)
    for path in (f"/uc/{C3}", f"/uc/{C3}/agents", f"/uc/{C1}/agents", "/counter"):
        resp = await client.get(path)
        assert resp.status == 403, path
    async with client.app[DB]() as db:
        before = await db.scalar(select(func.count()).select_from(AuditEntry))
        liu_c3 = await db.scalar(
            select(Agent.id).where(Agent.id_number == LIU[0]).order_by(Agent.id.desc())
        )
    token = await csrf_of(client, f"/uc/{C1}")
    resp = await client.post(f"/uc/{C3}/agents/{liu_c3}/delete", data={"_csrf": token})
    assert resp.status == 403
    async with client.app[DB]() as db:
        assert await db.get(Agent, liu_c3) is not None
        assert await db.scalar(select(func.count()).select_from(AuditEntry)) == before


async def test_legal_rep_cannot_touch_other_companys_agent(
    client: TestClient, provider: Provider
) -> None:
    """A legal rep of C1 naming C3's agent id under C1's URL gets 403, the agent survives."""
    await login(client, provider, WANG, "legal_rep", C1)
    async with client.app[DB]() as db:
        rows = await db.execute(select(Agent.id, Agent.company_id).order_by(Agent.id))
        ids = list(rows)
    c3_agent = ids[-1][0]
    token = await csrf_of(client, f"/uc/{C1}/agents")
    resp = await client.post(f"/uc/{C1}/agents/{c3_agent}/delete", data={"_csrf": token})
    assert resp.status == 403
    resp = await client.post(
        f"/uc/{C1}/agents/{c3_agent}/grants", data={"_csrf": token, "relationship": "1"}
    )
    assert resp.status == 403
    async with client.app[DB]() as db:
        assert await db.get(Agent, c3_agent) is not None


async def test_login_required(client: TestClient) -> None:
    resp = await client.get(f"/uc/{C1}/agents")
    assert resp.status == 401
    resp = await client.get("/usercenter")
    assert resp.status == 401 and "请先登录" in await resp.text()
