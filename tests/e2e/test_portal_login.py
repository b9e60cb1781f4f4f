"""The service hall in a real browser: 登录 → 企业用户, switch to 办事员扫码登录, photograph the QR,
let mobile_sim scan that photo and confirm as the agent of the second of two companies — and the
browser lands in that company's user centre with no reload or click."""

from __future__ import annotations

import io
from pathlib import Path

import zxingcpp
from PIL import Image
from playwright.async_api import Browser, FrameLocator, Page, expect

from authsvc.core.tickets import Lifetimes
from mobile_sim import PhoneApp
from tests.conftest import PhoneFactory
from tests.support.hall import C3, LIU, running_hall


async def open_company_login(page: Page, portal_url: str) -> FrameLocator:
    await page.goto(portal_url + "/")
    await page.locator("[data-dropdown]").hover()
    await page.locator(".dropdown-menu [data-login=legal_rep]").click()
    frame = page.frame_locator("#login-frame")
    await expect(frame.locator("#identity-title")).to_have_text("法人扫码登录")
    return frame


async def photograph_qr(frame: FrameLocator, path: Path) -> Path:
    await expect(frame.locator("#qr-frame")).to_have_attribute("data-state", "pending")
    await frame.locator("#qr-frame").screenshot(path=str(path))
    return path


async def test_agent_of_two_companies_lands_in_the_second(
    tmp_path: Path, chromium: Browser, phones: PhoneFactory, artifacts: Path
) -> None:
    """The pushed confirmation takes the browser into 黑龙江省农业技术推广中心's user centre."""
    async with running_hall(tmp_path) as hall:
        page = await chromium.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
        frame = await open_company_login(page, hall.portal_url)
        await frame.get_by_role("button", name="办事员扫码登录").click()
        await expect(frame.locator("#identity-title")).to_have_text("办事员扫码登录")
        await page.screenshot(path=str(artifacts / "portal-login-modal.png"))
        photo = await photograph_qr(frame, artifacts / "portal-login-qr.png")
        decoded = zxingcpp.read_barcode(Image.open(io.BytesIO(photo.read_bytes())))
        assert decoded is not None and decoded.text.startswith(hall.authsvc.url + "/q/")
        phone: PhoneApp = await phones(
            hall.authsvc.url, name=LIU[1], id_number=LIU[0], phone=LIU[2]
        )
        result = await phone.scan(decoded.text)
        assert result.client["name"]["zh"] == "人社网上服务大厅"
        assert {a["credit_code"] for a in result.accounts} == {"91230100MA1BX2K306", C3}
        await expect(frame.locator("#overlay-title")).to_have_text("扫码成功，请在手机上确认")
        await phone.choose(result.account("agent", C3)["key"])
        await phone.face_check()
        await phone.confirm()
        await page.wait_for_url(f"{hall.portal_url}/uc/{C3}*")
        await expect(page.locator("body")).to_contain_text("黑龙江省农业技术推广中心")
        await expect(page.locator("body")).not_to_contain_text("哈尔滨龙江机械制造有限公司")
        await page.screenshot(path=str(artifacts / "portal-agent-usercenter.png"), full_page=True)


async def test_rejection_and_expiry_show_on_the_portal(
    tmp_path: Path, chromium: Browser, phones: PhoneFactory, artifacts: Path
) -> None:
    """取消 on the phone and an expired QR are both shown inside the login modal."""
    async with running_hall(tmp_path, lifetimes=Lifetimes(pending=4.0), qr_auto_renewals=0) as hall:
        page = await chromium.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
        frame = await open_company_login(page, hall.portal_url)
        photo = await photograph_qr(frame, artifacts / "portal-reject-qr.png")
        decoded = zxingcpp.read_barcode(Image.open(io.BytesIO(photo.read_bytes())))
        assert decoded is not None
        phone = await phones(
            hall.authsvc.url, name="王建国", id_number="230102197503121019", phone="13804510001"
        )
        await phone.scan(decoded.text)
        await phone.reject()
        await expect(frame.locator("#overlay-title")).to_have_text("您已在手机上取消登录")
        await page.screenshot(path=str(artifacts / "portal-login-rejected.png"))
        await frame.get_by_role("button", name="刷新二维码").click()
        await expect(frame.locator("#overlay-title")).to_have_text("二维码已过期", timeout=10_000)
        await page.screenshot(path=str(artifacts / "portal-login-expired.png"))
