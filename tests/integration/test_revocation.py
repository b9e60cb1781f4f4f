"""Revocation that reaches every portal (issue 8): when authsvc revokes what a ticket issued —
a replayed code, the operator's revoke, the card reported lost at 我的社会保障卡 — every
session of that person at every portal ends by back-channel logout. Two real portals, each
with its own database."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from mobile_sim import PhoneApp
from tests.conftest import PhoneFactory
from tests.security.helpers import phone_refused
from tests.support.browser import CONFIG, BrowserLogin, wait_for_state
from tests.support.hall import CHEN, Hall, running_two_halls

CSRF = re.compile(r'name="_csrf" value="([^"]+)"')
ADMIN = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
async def halls(tmp_path: Path) -> AsyncIterator[list[Hall]]:
    async with running_two_halls(tmp_path) as both:
        yield both


def browser_profile() -> aiohttp.ClientSession:
    """One browser profile per portal (both portals are on 127.0.0.1: cookies ignore ports)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def portal_login(hall: Hall, browser: aiohttp.ClientSession, phone: PhoneApp) -> str:
    """登录 at this portal as a personal user; returns the redirect (with its code)."""
    async with browser.get(f"{hall.portal_url}/auth/login?identity=personal") as page:
        request_id = json.loads(CONFIG.search(await page.text()).group(1))["request"]  # type: ignore[union-attr]
    async with browser.post(
        hall.authsvc.url + "/api/tickets", json={"request": request_id, "identity": "personal"}
    ) as response:
        ticket = await response.json()
    ws = await browser.ws_connect(hall.authsvc.url + ticket["ws_url"])
    await ws.send_json({"type": "auth", "secret": ticket["browser_secret"]})
    try:
        await phone.login(ticket["qr_text"])
        redirect = str((await wait_for_state(ws, "confirmed"))["redirect"])
    finally:
        await ws.close()
    async with browser.get(redirect) as landed:
        assert landed.status == 200, await landed.text()
    return redirect


async def signed_in(hall: Hall, browser: aiohttp.ClientSession) -> bool:
    async with browser.get(f"{hall.portal_url}/usercenter", allow_redirects=False) as page:
        return page.status == 200 and "我的社会保障卡" in await page.text()


async def signed_out_at_both(halls: list[Hall], browsers: list[aiohttp.ClientSession]) -> bool:
    return not any([await signed_in(h, b) for h, b in zip(halls, browsers, strict=True)])


async def both_signed_in(
    halls: list[Hall], phones: PhoneFactory
) -> tuple[PhoneApp, list[aiohttp.ClientSession], list[str]]:
    phone = await phones(halls[0].authsvc.url, id_number=CHEN[0], name=CHEN[1], phone=CHEN[2])
    browsers = [browser_profile(), browser_profile()]
    redirects = [await portal_login(h, b, phone) for h, b in zip(halls, browsers, strict=True)]
    assert [await signed_in(h, b) for h, b in zip(halls, browsers, strict=True)] == [True, True]
    return phone, browsers, redirects


async def test_report_lost_at_one_portal_ends_the_sessions_at_both(
    halls: list[Hall], phones: PhoneFactory
) -> None:
    """卡挂失 on 我的社会保障卡 at portal A: both portals' sessions end, the next scan is
    refused; the card shows 已挂失 to its holder's phone."""
    phone, browsers, _ = await both_signed_in(halls, phones)
    first = halls[0]
    try:
        async with browsers[0].get(f"{first.portal_url}/usercenter") as page:
            html = await page.text()
        assert "2301**********1561" in html and "黑龙江省哈尔滨市" in html and "正常" in html
        assert CHEN[0] not in html  # the 社会保障号码 is masked
        token = CSRF.search(html).group(1)  # type: ignore[union-attr]
        async with browsers[0].post(
            f"{first.portal_url}/usercenter/card/report-lost", data={"_csrf": token}
        ) as done:
            assert done.status == 200 and "卡挂失成功" in await done.text()
        assert await signed_out_at_both(halls, browsers)
        browser = BrowserLogin(first.authsvc.url, browsers[1])
        await browser.start()
        await phone_refused(phone.scan(browser.ticket["qr_text"]), 403, "ecard_not_active")
        assert (await phone.show_ecard())["status"] == "lost"
    finally:
        for b in browsers:
            await b.close()


async def test_operator_revoke_of_one_ticket_ends_the_person_everywhere(
    halls: list[Hall], phones: PhoneFactory
) -> None:
    """The admin revokes the ticket of the login at portal A: portal B's session ends too."""
    _, browsers, _ = await both_signed_in(halls, phones)
    first = halls[0]
    try:
        records = await first.authsvc.store.audit_records(200)
        ticket = next(
            r["ticket"]
            for r in records
            if r.get("event") == "token" and r.get("client") == "portal"
        )
        async with browsers[0].post(
            f"{first.authsvc.url}/api/admin/tickets/{ticket}/revoke", headers=ADMIN
        ) as response:
            assert response.status == 200 and (await response.json())["revoked"] == 1
        assert await signed_out_at_both(halls, browsers)
    finally:
        for b in browsers:
            await b.close()


async def test_a_replayed_code_ends_the_person_everywhere(
    halls: list[Hall], phones: PhoneFactory
) -> None:
    """The code of portal A's login presented again (stolen?): refused, and both sessions end."""
    _, browsers, redirects = await both_signed_in(halls, phones)
    first = halls[0]
    code = parse_qs(urlsplit(redirects[0]).query)["code"][0]
    try:
        async with browsers[0].post(
            f"{first.authsvc.url}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": f"{first.portal_url}/auth/callback",
                "code_verifier": "v" * 43,
                "client_id": "portal",
                "client_secret": "portal-test-secret",
            },
        ) as response:
            assert response.status == 400 and (await response.json())["error"] == "invalid_grant"
        assert await signed_out_at_both(halls, browsers)
    finally:
        for b in browsers:
            await b.close()
