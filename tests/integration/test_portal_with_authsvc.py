"""The portal relying on the real authsvc, with mobile_sim phones: logins per role, agents added
and granted by the legal representative, refusals worded as the seeds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from mobile_sim import PhoneApp, PhoneError
from portal.db.models import Agent, Company, InsuranceRelationship
from portal.http.keys import DB
from tests.conftest import PhoneFactory
from tests.support.hall import (
    C1,
    C2,
    C3,
    CHEN,
    LIU,
    SUN,
    WANG,
    Hall,
    csrf,
    new_browser,
    scan_login,
)


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    """A browser profile: its own cookie jar (127.0.0.1 cookies included)."""
    async with new_browser() as session:
        yield session


login = scan_login


async def person(phones: PhoneFactory, hall: Hall, who: tuple[str, str, str]) -> PhoneApp:
    return await phones(hall.authsvc.url, id_number=who[0], name=who[1], phone=who[2])


async def test_legal_rep_of_two_companies_logs_into_the_chosen_one(
    hall: Hall, browser: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """王建国 picks 黑龙江北方粮油贸易有限公司 on the phone and lands in its user centre."""
    landed = await login(
        hall, browser, await person(phones, hall, WANG), "legal_rep", "legal_rep", C2
    )
    assert landed.url.path == f"/uc/{C2}"
    assert "黑龙江北方粮油贸易有限公司" in await landed.text()


async def test_agent_added_and_granted_then_logs_in_and_sees_only_the_grant(
    hall: Hall, browser: aiohttp.ClientSession, phones: PhoneFactory, tmp_path: Path
) -> None:
    """The legal rep adds 陈静 as agent of C1 and grants one relationship; 陈静 then logs in as
    that agent; before that, the seeds' 未找到当前办事员账号信息 message."""
    chen = await person(phones, hall, CHEN)
    with pytest.raises(PhoneError) as refused:
        await login(hall, browser, chen, "agent", "agent", C1)
    assert (
        refused.value.code == "no_account"
        and refused.value.zh == "未找到当前办事员账号信息，请联系法人授权或者去窗口授权！"
    )
    await login(hall, browser, await person(phones, hall, WANG), "legal_rep", "legal_rep", C1)
    token = await csrf(browser, f"{hall.portal_url}/uc/{C1}/agents")
    async with browser.post(
        f"{hall.portal_url}/uc/{C1}/agents",
        data={"_csrf": token, "id_number": CHEN[0], "name": CHEN[1], "phone": CHEN[2]},
    ) as response:
        assert response.status == 200
    async with hall.portal[DB]() as db:
        agent = await db.scalar(select(Agent).where(Agent.id_number == CHEN[0]))
        relationship = await db.scalar(
            select(InsuranceRelationship).where(
                InsuranceRelationship.company_id == agent.company_id
            )
        )
    token = await csrf(browser, f"{hall.portal_url}/uc/{C1}/agents/{agent.id}")
    async with browser.post(
        f"{hall.portal_url}/uc/{C1}/agents/{agent.id}/grants",
        data=[("_csrf", token), ("relationship", str(relationship.id))],
    ) as response:
        assert response.status == 200
    other = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        landed = await login(hall, other, chen, "agent", "agent", C1)
        page = await landed.text()
    finally:
        await other.close()
    assert landed.url.path == f"/uc/{C1}" and relationship.unit_no in page


async def test_wrong_name_is_not_the_agent(
    hall: Hall, browser: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The right ID number with another name (填写的经办人身份证号或姓名错误) gets no e-card at
    all: the card registry refuses the application, so it can never log in."""
    with pytest.raises(PhoneError) as refused:
        await phones(hall.authsvc.url, id_number=LIU[0], name="刘阳", phone=LIU[2])
    assert refused.value.code == "card_holder_name_mismatch"


async def test_deleted_agent_can_no_longer_log_in(
    hall: Hall, browser: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Revoking an agent takes effect at the next login."""
    await login(hall, browser, await person(phones, hall, WANG), "legal_rep", "legal_rep", C1)
    async with hall.portal[DB]() as db:
        company = await db.scalar(select(Company).where(Company.credit_code == C1))
        agent = await db.scalar(
            select(Agent).where(Agent.id_number == LIU[0], Agent.company_id == company.id)
        )
    token = await csrf(browser, f"{hall.portal_url}/uc/{C1}/agents")
    async with browser.post(
        f"{hall.portal_url}/uc/{C1}/agents/{agent.id}/delete", data={"_csrf": token}
    ) as response:
        assert response.status == 200
    liu = await person(phones, hall, LIU)
    result_session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        with pytest.raises(PhoneError) as refused:
            await login(hall, result_session, liu, "agent", "agent", C1)
        assert refused.value.code == "account_not_offered"  # still agent of C3, no longer of C1
        landed = await login(hall, result_session, liu, "agent", "agent", C3)
        assert landed.url.path == f"/uc/{C3}"
    finally:
        await result_session.close()


async def test_agent_of_one_company_gets_403_for_the_other(
    hall: Hall, browser: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Logged in for C3, the agent asking for C1's pages or agents gets 403."""
    await login(hall, browser, await person(phones, hall, LIU), "agent", "agent", C3)
    for path in (f"/uc/{C1}", f"/uc/{C1}/agents"):
        async with browser.get(hall.portal_url + path) as response:
            assert response.status == 403, path


async def test_agency_staff_log_in_by_scanning_and_reach_the_counter(
    hall: Hall, browser: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """孙丽 scans with the personal identity, chooses her staff account, and may use 窗口授权."""
    landed = await login(hall, browser, await person(phones, hall, SUN), "personal", "staff")
    assert landed.url.path == "/usercenter"
    async with browser.get(f"{hall.portal_url}/counter?q={C1}") as response:
        assert response.status == 200 and "哈尔滨龙江机械制造有限公司" in await response.text()


async def test_person_without_company_cannot_reach_the_counter(
    hall: Hall, browser: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A personal account is not agency staff: 窗口授权 is refused."""
    await login(hall, browser, await person(phones, hall, CHEN), "personal", "personal")
    async with browser.get(f"{hall.portal_url}/counter?q={C1}") as response:
        assert response.status == 403


WU = ("230106197802031895", "吴海涛", "13945100002")
C4 = "91230102MA1DT6W200"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_registered_company_logs_in_by_scanning(
    hall: Hall, browser: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """单位注册, then 吴海涛 scans as legal representative of the new company; before
    registering, the seeds' 未找到当前法人账号信息."""
    wu = await person(phones, hall, WU)
    with pytest.raises(PhoneError) as refused:
        await login(hall, browser, wu, "legal_rep", "legal_rep", C4)
    assert refused.value.zh == "未找到当前法人账号信息，请先注册法人账号！"
    token = await csrf(browser, f"{hall.portal_url}/register")
    form = {
        "_csrf": token,
        "agree": "on",
        "id_type": "居民身份证",
        "credit_code": C4,
        "company_name": "哈尔滨冰城数码科技有限公司",
        "id_number": WU[0],
        "legal_rep_name": WU[1],
    }
    async with browser.post(f"{hall.portal_url}/register", data=form) as response:
        assert response.status == 200 and "注册成功" in await response.text()
    landed = await login(hall, browser, wu, "legal_rep", "legal_rep", C4)
    assert landed.url.path == f"/uc/{C4}"


async def test_counter_authorization_with_an_upload_lets_the_agent_log_in(
    hall: Hall, browser: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """窗口授权: staff upload the signed form and add 陈静 as agent of C1; she can then scan in."""
    await login(hall, browser, await person(phones, hall, SUN), "personal", "staff")
    token = await csrf(browser, f"{hall.portal_url}/counter/{C1}")
    upload = aiohttp.FormData()
    upload.add_field("_csrf", token)
    upload.add_field("file", PNG, filename="授权书.png", content_type="image/png")
    async with browser.post(f"{hall.portal_url}/counter/{C1}/upload", data=upload) as response:
        assert response.status == 200
    agent = {"_csrf": token, "id_number": CHEN[0], "name": CHEN[1], "phone": CHEN[2]}
    async with browser.post(f"{hall.portal_url}/counter/{C1}/agents", data=agent) as response:
        assert response.status == 200
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        landed = await login(hall, other, await person(phones, hall, CHEN), "agent", "agent", C1)
    assert landed.url.path == f"/uc/{C1}"


async def test_eleventh_agent_and_forged_forms_are_refused(
    hall: Hall, browser: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """At most ten agents per company; a form without the CSRF token changes nothing."""
    from portal.rules.idcard import check_digit

    await login(hall, browser, await person(phones, hall, WANG), "legal_rep", "legal_rep", C1)
    token = await csrf(browser, f"{hall.portal_url}/uc/{C1}/agents")
    statuses = []
    for n in range(9):
        first17 = f"23010219900{n + 1}0{n + 1}12{n}"
        form = {
            "_csrf": token,
            "id_number": first17 + check_digit(first17),
            "name": "测试员",
            "phone": "13900000001",
        }
        async with browser.post(f"{hall.portal_url}/uc/{C1}/agents", data=form) as response:
            statuses.append(response.status)
    assert statuses[:8] == [200] * 8 and statuses[8] == 409
    async with hall.portal[DB]() as db:
        company = await db.scalar(select(Company).where(Company.credit_code == C1))
        count = len(list(await db.scalars(select(Agent).where(Agent.company_id == company.id))))
    forged = {"id_number": CHEN[0], "name": CHEN[1], "phone": CHEN[2]}
    async with browser.post(f"{hall.portal_url}/uc/{C1}/agents", data=forged) as response:
        assert response.status == 403
    async with hall.portal[DB]() as db:
        assert (
            len(list(await db.scalars(select(Agent).where(Agent.company_id == company.id))))
            == count
            == 10
        )


async def test_logout_ends_both_sessions(
    hall: Hall, browser: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """退出 clears the portal session and ends the login at authsvc, back on the portal's home."""
    await login(hall, browser, await person(phones, hall, WANG), "legal_rep", "legal_rep", C1)
    token = await csrf(browser, f"{hall.portal_url}/uc/{C1}")
    records_before = len(await hall.authsvc.store.audit_records(1000))
    async with browser.post(f"{hall.portal_url}/auth/logout", data={"_csrf": token}) as response:
        assert response.status == 200 and str(response.url) == f"{hall.portal_url}/"
        hops = [str(r.url) for r in response.history]
    assert any(hop.startswith(f"{hall.authsvc.url}/end-session") for hop in hops)
    ended = (await hall.authsvc.store.audit_records(1000))[records_before:]
    assert any(r["event"] == "logout" and r["client"] == "portal" for r in ended)
    async with browser.get(f"{hall.portal_url}/uc/{C1}", allow_redirects=False) as response:
        assert response.status in (302, 303, 401)


async def test_back_channel_logout_ends_the_portal_session(
    hall: Hall, browser: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Ending the login at authsvc (another tab, an admin) logs the portal session out too."""
    await login(hall, browser, await person(phones, hall, WANG), "legal_rep", "legal_rep", C1)
    from authsvc.services.login import session_id
    from authsvc.services.logout import end_session

    audit = await hall.authsvc.store.audit_records(1000)
    ticket_id = next(r["ticket"] for r in reversed(audit) if r.get("event") == "token")
    client = hall.authsvc.broker.clients.get("portal")
    await end_session(hall.authsvc.broker, {"sid": session_id(ticket_id), "sub": "x"}, client)
    async with browser.get(f"{hall.portal_url}/uc/{C1}", allow_redirects=False) as response:
        assert response.status in (302, 303, 401)
