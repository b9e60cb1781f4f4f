"""Every page the portal and authsvc serve passes axe-core's WCAG 2.0/2.1 A and AA rules with no
serious or critical violation (issue 10, "Every page"), in the standard view and in 长辈模式.

axe-core comes from npm at the version package-lock.json pins (`make test` runs `npm ci`); it is
injected with Playwright's init script, which runs in every frame (the portal's login modal
holds authsvc's QR page in an iframe) without loosening the pages' own CSP. Logins are real:
the browser opens the QR page, mobile_sim's phone scans the QR text the page received."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.conftest import PhoneFactory
from tests.support.hall import C1, SUN, WANG, ZHANG, Hall, running_hall

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}


async def audit(page: Page) -> list[str]:
    """axe-core's serious and critical WCAG A/AA violations on the page (iframes included)."""
    result: dict[str, Any] = await page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, iframes: true})", WCAG
    )
    return [
        f"{v['impact']} {v['id']} on {[n['target'] for n in v['nodes']][:5]}: {v['help']}"
        for v in result["violations"]
        if v["impact"] in BLOCKING
    ]


async def assert_accessible(page: Page, url: str | None = None) -> None:
    if url is not None:
        await page.goto(url)
    await page.wait_for_load_state("load")
    assert await page.evaluate("typeof axe") == "object", "axe-core was not injected"
    problems = await audit(page)
    assert not problems, f"{page.url}:\n" + "\n".join(problems)


async def context(chromium: Browser, *, elder: bool = False, hall: Hall | None = None) -> Any:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` installs axe-core with npm ci", pytrace=False)
    ctx: BrowserContext = await chromium.new_context(
        locale="zh-CN", viewport={"width": 1280, "height": 900}
    )
    await ctx.add_init_script(path=str(AXE))
    if elder and hall is not None:
        await ctx.add_cookies([{"name": "elder", "value": "1", "url": hall.portal_url}])
    return ctx


async def log_in(
    page: Page, hall: Hall, phone: Any, identity: str, role: str, credit_code: str = ""
) -> None:
    """Portal 登录 → authsvc's QR page in this browser → the phone scans what the page shows."""
    async with page.expect_response(
        lambda r: r.url.endswith("/api/tickets") and r.request.method == "POST"
    ) as created:
        await page.goto(f"{hall.portal_url}/auth/login?identity={identity}")
    ticket = json.loads(await (await created.value).text())
    await expect(page.locator("#qr-frame")).to_have_attribute("data-state", "pending")
    await assert_accessible(page)  # the QR page itself, waiting for a scan
    result = await phone.scan(ticket["qr_text"])
    await expect(page.locator("#qr-frame")).to_have_attribute("data-state", "scanned")
    await assert_accessible(page)  # 扫码成功，请在手机上确认
    await phone.choose(result.account(role, credit_code)["key"])
    await phone.face_check("pass")
    await phone.confirm()
    await page.wait_for_url(re.compile(re.escape(hall.portal_url) + r"/(uc|usercenter).*"))


LEGAL_REP_PAGES = ["", "/business", "/agents", "/profile"]
COUNTER_PAGES = ["/counter", f"/counter?q={C1}", f"/counter/{C1}", "/counter?q=91230100MA1BX2K000"]
PUBLIC = ["/", "/banshi", "/register", f"/register/done?code={C1}", "/no-such-page", "/?lang=en"]


@pytest.mark.e2e
@pytest.mark.parametrize("elder", [False, True], ids=["standard", "elder"])
async def test_public_pages(tmp_path: Path, chromium: Browser, elder: bool) -> None:
    """Home, 办事中心, 单位注册 (empty and refused), its result, a 404 and English: no serious
    violation; the home page with the login modal open (authsvc's QR page in its iframe) too."""
    async with running_hall(tmp_path) as hall:
        ctx = await context(chromium, elder=elder, hall=hall)
        page = await ctx.new_page()
        for path in PUBLIC:
            await assert_accessible(page, hall.portal_url + path)
            assert (await page.locator("html").get_attribute("class") or "") == (
                "elder" if elder else ""
            )
        await page.goto(hall.portal_url + "/register")
        await page.locator("input[name=credit_code]").fill("91230100MA1BX2K307")
        await page.locator("input[name=agree]").check()
        await page.locator("form.form button[type=submit]").click()
        await expect(page.locator(".banner.error")).to_be_visible()
        await assert_accessible(page)
        await page.goto(hall.portal_url + "/")
        await page.locator("[data-dropdown]").hover()
        await page.locator(".dropdown-menu [data-login=legal_rep]").click()
        frame = page.frame_locator("#login-frame")
        await expect(frame.locator("#qr-frame")).to_have_attribute("data-state", "pending")
        if elder:  # one site: authsvc's QR page in the modal follows the portal's 长辈模式
            await expect(frame.locator("html")).to_have_class("elder")
        await assert_accessible(page)
        await ctx.close()


@pytest.mark.e2e
@pytest.mark.parametrize("elder", [False, True], ids=["standard", "elder"])
async def test_authsvc_pages(tmp_path: Path, chromium: Browser, elder: bool) -> None:
    """authsvc's error page (an unknown client), its logged-out page and its QR page in page
    mode; 长辈模式 switched on authsvc itself (?elder=1) is kept for its next pages."""
    async with running_hall(tmp_path) as hall:
        ctx = await context(chromium)
        page = await ctx.new_page()
        first = "/authorize?client_id=nobody" + ("&elder=1" if elder else "")
        await assert_accessible(page, hall.authsvc.url + first)
        await expect(page.locator("body")).to_contain_text("未登记的接入系统")
        await assert_accessible(page, hall.authsvc.url + "/end-session")
        await assert_accessible(page, hall.authsvc.url + "/authorize?client_id=nobody&lang=en")
        async with page.expect_response(lambda r: r.url.endswith("/api/tickets")):
            await page.goto(f"{hall.portal_url}/auth/login?identity=legal_rep")
        await expect(page.locator("#qr-frame")).to_have_attribute("data-state", "pending")
        await assert_accessible(page)
        assert (await page.locator("html").get_attribute("class") or "") == (
            "elder" if elder else ""
        )
        await ctx.close()


@pytest.mark.e2e
@pytest.mark.parametrize("elder", [False, True], ids=["standard", "elder"])
async def test_user_centre_and_counter_pages(
    tmp_path: Path, chromium: Browser, phones: PhoneFactory, elder: bool
) -> None:
    """The legal representative's user centre (company, business, agents, one agent, profile),
    a personal user centre and the agency counter (search, a company): no serious violation."""
    async with running_hall(tmp_path) as hall:
        logins = [
            (WANG, "legal_rep", "legal_rep", C1, [f"/uc/{C1}{p}" for p in LEGAL_REP_PAGES]),
            (ZHANG, "personal", "personal", "", ["/usercenter"]),
            (SUN, "personal", "staff", "", COUNTER_PAGES),
        ]
        for who, identity, role, company, paths in logins:
            ctx = await context(chromium, elder=elder, hall=hall)
            page = await ctx.new_page()
            phone = await phones(hall.authsvc.url, id_number=who[0], name=who[1], phone=who[2])
            await log_in(page, hall, phone, identity, role, company)
            for path in paths:
                await assert_accessible(page, hall.portal_url + path)
            if role == "legal_rep":  # one agent's page, reached the way a person does
                await page.goto(f"{hall.portal_url}/uc/{C1}/agents")
                await page.locator(f"a[href^='/uc/{C1}/agents/']").first.click()
                await page.wait_for_url(re.compile(rf".*/uc/{C1}/agents/\d+"))
                await assert_accessible(page)
            await ctx.close()


@pytest.mark.e2e
async def test_elder_mode_is_switched_on_by_the_visitor_and_persists(
    tmp_path: Path, chromium: Browser, artifacts: Path
) -> None:
    """长辈模式 in the top bar: larger text and darker secondary text, kept across pages and new
    tabs of the same browser, until 退出长辈模式 switches it off again; authsvc's pages have the
    same switch."""
    async with running_hall(tmp_path) as hall:
        ctx = await context(chromium)
        page = await ctx.new_page()
        await page.goto(hall.portal_url + "/banshi")
        standard = await page.evaluate("getComputedStyle(document.body).fontSize")
        muted = await page.evaluate("getComputedStyle(document.querySelector('.breadcrumb')).color")
        await page.get_by_role("link", name="长辈模式").click()
        await page.wait_for_url(hall.portal_url + "/banshi")
        await expect(page.locator("html")).to_have_class("elder")
        assert await page.evaluate("getComputedStyle(document.body).fontSize") == "18px" != standard
        assert (
            await page.evaluate("getComputedStyle(document.querySelector('.breadcrumb')).color")
            != muted
        )
        await page.screenshot(path=str(artifacts / "portal-elder-mode.png"), full_page=True)
        other = await ctx.new_page()
        await other.goto(hall.portal_url + "/register")
        await expect(other.locator("html")).to_have_class("elder")
        await other.get_by_role("link", name="退出长辈模式").click()
        await other.wait_for_url(hall.portal_url + "/register")
        await expect(other.locator("html")).not_to_have_class("elder")
        await page.reload()
        await expect(page.locator("html")).not_to_have_class("elder")
        await page.goto(hall.authsvc.url + "/end-session")
        await page.get_by_role("link", name="长辈模式").click()
        await expect(page.locator("html")).to_have_class("elder")
        await page.goto(hall.authsvc.url + "/end-session")
        await expect(page.locator("html")).to_have_class("elder")  # kept by authsvc's cookie
        await ctx.close()


@pytest.mark.e2e
async def test_the_elder_switch_only_returns_to_this_site(
    tmp_path: Path, chromium: Browser
) -> None:
    """`next` of the switch is a path on the portal; another host falls back to the home page."""
    async with running_hall(tmp_path) as hall:
        ctx = await context(chromium)
        page = await ctx.new_page()
        for target in ["//evil.example/x", "https://evil.example/", "/\\evil.example"]:
            await page.goto(f"{hall.portal_url}/elder-mode?on=1&next={target}")
            assert page.url == hall.portal_url + "/"
        await ctx.close()
