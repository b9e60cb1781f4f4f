"""Business handling in real browsers: 张伟 scans in, files an enrolment through the form and
sees its timeline; 孙丽, in a second browser context, picks it up and approves it; 张伟's page
then shows 已办结 (seed 001 item 5: green done nodes)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import zxingcpp
from PIL import Image
from playwright.async_api import Browser, Page, expect

from tests.conftest import PhoneFactory
from tests.e2e.test_portal_login import photograph_qr
from tests.portal.business_support import SUN, ZHANG, BusinessClock
from tests.support.hall import C1, Hall, running_hall


async def scan_in(
    page: Page, hall: Hall, phones: PhoneFactory, who: tuple[str, str, str], role: str, shot: Path
) -> None:
    """登录 → 企业用户 (办事员扫码登录) or 个人用户, photograph the QR, the phone confirms."""
    await page.goto(hall.portal_url + "/")
    await page.locator("[data-dropdown]").hover()
    menu = "legal_rep" if role == "agent" else "personal"
    await page.locator(f".dropdown-menu [data-login={menu}]").click()
    frame = page.frame_locator("#login-frame")
    if role == "agent":
        await frame.get_by_role("button", name="办事员扫码登录").click()
        await expect(frame.locator("#identity-title")).to_have_text("办事员扫码登录")
    photo = await photograph_qr(frame, shot)
    decoded = zxingcpp.read_barcode(Image.open(io.BytesIO(photo.read_bytes())))
    assert decoded is not None
    phone = await phones(hall.authsvc.url, name=who[1], id_number=who[0], phone=who[2])
    result = await phone.scan(decoded.text)
    await phone.choose(result.account(role, C1 if role == "agent" else "")["key"])
    await phone.face_check("pass")
    await phone.confirm()
    await page.wait_for_url(re.compile(r"/(uc/|usercenter)"))


async def test_agent_files_staff_approves_agent_sees_done(
    tmp_path: Path, chromium: Browser, phones: PhoneFactory, artifacts: Path
) -> None:
    """The two-minute walk of the README, in two browser contexts."""
    async with running_hall(tmp_path, business_clock=BusinessClock()) as hall:
        agent_ctx = await chromium.new_context(
            locale="zh-CN", viewport={"width": 1280, "height": 900}
        )
        staff_ctx = await chromium.new_context(
            locale="zh-CN", viewport={"width": 1280, "height": 900}
        )
        agent, staff = await agent_ctx.new_page(), await staff_ctx.new_page()
        await scan_in(agent, hall, phones, ZHANG, "agent", tmp_path / "agent-qr.png")
        await agent.goto(hall.portal_url + "/banshi")
        await (
            agent.get_by_role("row", name="用人单位用工参保登记")
            .get_by_role("link", name="办理指南")
            .click()
        )
        await expect(agent.locator("[data-guide=basis]")).to_contain_text("社会保险法")
        await agent.get_by_role("link", name="立即办理").click()
        await agent.get_by_label("证件号码 1").fill("230104199602185124")
        await agent.get_by_label("姓名 1").fill("冯晓东")
        await agent.get_by_label("参保开始月份 1").fill("2026-10")
        await agent.get_by_label("缴费基数（元） 1").fill("5000")
        await agent.get_by_role("button", name="提交办理").click()
        await expect(agent.locator(".banner.success")).to_contain_text("受理流水号")
        await expect(agent.locator(".timeline [data-node=filed]")).to_have_attribute(
            "data-kind", "done"
        )
        await expect(agent.locator(".timeline [data-node=accepted]")).to_have_attribute(
            "data-kind", "current"
        )
        await agent.screenshot(path=str(artifacts / "business-submitted.png"), full_page=True)
        serial = (await agent.locator("[data-serial]").inner_text()).strip()

        await scan_in(staff, hall, phones, SUN, "staff", tmp_path / "staff-qr.png")
        await staff.goto(hall.portal_url + "/review")
        await staff.locator(f"tr[data-serial='{serial}']").get_by_role("link", name="办理").click()
        await staff.get_by_role("button", name="领取审核").click()
        await staff.get_by_role("button", name="审核通过").click()
        await expect(staff.locator("[data-state]").first).to_have_attribute("data-state", "done")

        await agent.reload()
        await expect(agent.locator("dd [data-state]")).to_have_text("已办结")
        await expect(agent.locator(".timeline .node.done")).to_have_count(4)
        await agent.screenshot(path=str(artifacts / "business-done.png"), full_page=True)
        await agent.goto(f"{hall.portal_url}/uc/{C1}/roster")
        await expect(
            agent.locator("tr[data-id-number='230104199602185124']").first
        ).to_contain_text("冯晓东")
        await agent_ctx.close()
        await staff_ctx.close()
