"""Issue 8, revocation inside the portal: against the real authsvc and phones, on SQLite and
PostgreSQL. A removed administrator, a deleted agent and a revoked grant take effect on the
very next request, not at the next login, and the refused requests change nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import select

from mobile_sim import PhoneApp
from portal.db.models import Agent, Company, InsuranceRelationship
from portal.http.keys import DB
from tests.conftest import PhoneFactory
from tests.support.hall import (
    C1,
    LI,
    LIU,
    WANG,
    ZHANG,
    Hall,
    csrf,
    new_browser,
    scan_login,
)
from tests.support.snapshot import snapshot

REVOKED = "当前账号已不存在或授权已取消"


@pytest.fixture
async def browsers() -> AsyncIterator[tuple[aiohttp.ClientSession, aiohttp.ClientSession]]:
    """The legal representative's browser and the other person's."""
    async with new_browser() as legal_rep, new_browser() as other:
        yield legal_rep, other


async def _phone(phones: PhoneFactory, hall: Hall, who: tuple[str, str, str]) -> PhoneApp:
    return await phones(hall.authsvc.url, id_number=who[0], name=who[1], phone=who[2])


async def _agent_id(hall: Hall, id_number: str) -> int:
    async with hall.portal[DB]() as db:
        company = await db.scalar(select(Company).where(Company.credit_code == C1))
        agent = await db.scalar(
            select(Agent).where(Agent.id_number == id_number, Agent.company_id == company.id)
        )
    return agent.id


async def _session_rows(hall: Hall) -> int:
    return len((await snapshot(hall.portal))["web_sessions"])


async def test_removed_administrator_is_refused_on_the_next_request(
    hall: Hall, browsers: tuple[aiohttp.ClientSession, aiohttp.ClientSession], phones: PhoneFactory
) -> None:
    """李秀梅 is logged in as administrator of C1 when 王建国 removes her: her next request —
    adding herself as an agent with a valid CSRF token — is refused with account_revoked,
    no agent is added, and her session is over."""
    wang_browser, li_browser = browsers
    await scan_login(
        hall, wang_browser, await _phone(phones, hall, WANG), "legal_rep", "legal_rep", C1
    )
    landed = await scan_login(
        hall, li_browser, await _phone(phones, hall, LI), "legal_rep", "admin", C1
    )
    assert landed.url.path == f"/uc/{C1}"
    li_token = await csrf(li_browser, f"{hall.portal_url}/uc/{C1}/agents")
    wang_token = await csrf(wang_browser, f"{hall.portal_url}/uc/{C1}/agents")
    async with wang_browser.post(
        f"{hall.portal_url}/uc/{C1}/admin/delete", data={"_csrf": wang_token}
    ) as response:
        assert response.status == 200
    before = await snapshot(hall.portal, leave_out=("web_sessions",))
    sessions_before = await _session_rows(hall)
    add_self = {"_csrf": li_token, "id_number": LI[0], "name": LI[1], "phone": LI[2]}
    async with li_browser.post(f"{hall.portal_url}/uc/{C1}/agents", data=add_self) as response:
        page = await response.text()
        assert response.status == 403 and "<code>account_revoked</code>" in page and REVOKED in page
    assert await snapshot(hall.portal, leave_out=("web_sessions",)) == before
    assert await _session_rows(hall) == sessions_before - 1  # her session row is gone
    for path in (f"/uc/{C1}", f"/uc/{C1}/agents", f"/uc/{C1}/profile"):
        async with li_browser.get(hall.portal_url + path, allow_redirects=False) as response:
            assert response.status == 401, path
    assert await snapshot(hall.portal, leave_out=("web_sessions",)) == before


async def test_deleted_agent_is_refused_on_the_next_request(
    hall: Hall, browsers: tuple[aiohttp.ClientSession, aiohttp.ClientSession], phones: PhoneFactory
) -> None:
    """张伟 is logged in as agent of C1 when 王建国 deletes him: his next page is refused."""
    wang_browser, zhang_browser = browsers
    await scan_login(
        hall, wang_browser, await _phone(phones, hall, WANG), "legal_rep", "legal_rep", C1
    )
    await scan_login(hall, zhang_browser, await _phone(phones, hall, ZHANG), "agent", "agent", C1)
    async with zhang_browser.get(f"{hall.portal_url}/uc/{C1}") as response:
        assert response.status == 200 and "23010010001" in await response.text()
    token = await csrf(wang_browser, f"{hall.portal_url}/uc/{C1}/agents")
    agent_id = await _agent_id(hall, ZHANG[0])
    async with wang_browser.post(
        f"{hall.portal_url}/uc/{C1}/agents/{agent_id}/delete", data={"_csrf": token}
    ) as response:
        assert response.status == 200
    before = await snapshot(hall.portal, leave_out=("web_sessions",))
    async with zhang_browser.get(f"{hall.portal_url}/uc/{C1}") as response:
        page = await response.text()
        assert response.status == 403 and "<code>account_revoked</code>" in page
        assert "23010010001" not in page
    async with zhang_browser.get(f"{hall.portal_url}/uc/{C1}/business") as response:
        assert response.status == 401
    assert await snapshot(hall.portal, leave_out=("web_sessions",)) == before


async def test_revoked_grant_hides_the_relationship_at_once(
    hall: Hall, browsers: tuple[aiohttp.ClientSession, aiohttp.ClientSession], phones: PhoneFactory
) -> None:
    """刘洋 sees 23010020002 while granted; 王建国 grants him 23010010001 instead, and 刘洋's next
    page shows the new grant and not the old one — without logging in again."""
    wang_browser, liu_browser = browsers
    await scan_login(
        hall, wang_browser, await _phone(phones, hall, WANG), "legal_rep", "legal_rep", C1
    )
    await scan_login(hall, liu_browser, await _phone(phones, hall, LIU), "agent", "agent", C1)
    unit = re.compile(r"<td>(\d{11})</td><td>([^<]+)</td>")
    async with liu_browser.get(f"{hall.portal_url}/uc/{C1}") as response:
        assert set(unit.findall(await response.text())) == {("23010020002", "企业职工基本养老保险")}
    agent_id = await _agent_id(hall, LIU[0])
    async with hall.portal[DB]() as db:
        company = await db.scalar(select(Company).where(Company.credit_code == C1))
        other = await db.scalar(
            select(InsuranceRelationship.id).where(
                InsuranceRelationship.company_id == company.id,
                InsuranceRelationship.unit_no == "23010010001",
                InsuranceRelationship.insurance_type == "失业保险",
            )
        )
    token = await csrf(wang_browser, f"{hall.portal_url}/uc/{C1}/agents/{agent_id}")
    async with wang_browser.post(
        f"{hall.portal_url}/uc/{C1}/agents/{agent_id}/grants",
        data=[("_csrf", token), ("relationship", str(other))],
    ) as response:
        assert response.status == 200
    async with liu_browser.get(f"{hall.portal_url}/uc/{C1}") as response:
        assert response.status == 200
        assert set(unit.findall(await response.text())) == {("23010010001", "失业保险")}
    async with wang_browser.post(
        f"{hall.portal_url}/uc/{C1}/agents/{agent_id}/grants", data={"_csrf": token}
    ) as response:
        assert response.status == 200
    async with liu_browser.get(f"{hall.portal_url}/uc/{C1}") as response:
        page = await response.text()
        assert response.status == 200 and unit.findall(page) == []
        assert "暂无可办理的参保关系" in page
