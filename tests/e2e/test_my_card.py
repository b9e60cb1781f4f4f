"""我的社会保障卡 in a real browser (seed 004): 陈静 logs in by scanning, her user centre shows
her card from her login (masked 社会保障号码, 卡号, 发卡地, state), 卡挂失 ends her session and
her phone's next scan is refused."""

from __future__ import annotations

import io
from pathlib import Path

import aiohttp
import zxingcpp
from PIL import Image
from playwright.async_api import Browser, expect

from tests.conftest import PhoneFactory
from tests.security.helpers import phone_refused
from tests.support.browser import BrowserLogin
from tests.support.hall import CHEN, running_hall
from tools.people import ssc_no


async def test_report_lost_from_the_user_centre(
    tmp_path: Path, chromium: Browser, phones: PhoneFactory, artifacts: Path
) -> None:
    """The card is shown masked; 卡挂失 logs her out everywhere and blocks the next scan."""
    async with running_hall(tmp_path) as hall:
        phone = await phones(hall.authsvc.url, name=CHEN[1], id_number=CHEN[0], phone=CHEN[2])
        page = await chromium.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
        await page.goto(hall.portal_url + "/")
        await page.locator("[data-dropdown]").hover()
        await page.locator(".dropdown-menu [data-login=personal]").click()
        frame = page.frame_locator("#login-frame")
        await expect(frame.locator("#qr-frame")).to_have_attribute("data-state", "pending")
        shot = await frame.locator("#qr-frame").screenshot()
        decoded = zxingcpp.read_barcode(Image.open(io.BytesIO(shot)))
        assert decoded is not None
        await phone.login(decoded.text)
        await page.wait_for_url(f"{hall.portal_url}/usercenter*")
        card = page.locator("#my-card")
        await expect(card).to_contain_text("我的社会保障卡")
        await expect(card.locator("[data-field=ssn]")).to_have_text("2301**********1561")
        await expect(card.locator("[data-field=ssc_no]")).to_have_text(ssc_no(CHEN[0]))
        await expect(card).to_contain_text("黑龙江省哈尔滨市")
        await expect(card.locator("[data-field=ecard-status]")).to_have_text("正常")
        await expect(page.locator("body")).not_to_contain_text(CHEN[0])
        await page.screenshot(path=str(artifacts / "portal-my-card.png"), full_page=True)
        page.once("dialog", lambda dialog: dialog.accept())
        await card.get_by_role("button", name="卡挂失").click()
        await expect(page.locator("#card-lost")).to_contain_text("卡挂失成功")
        await page.screenshot(path=str(artifacts / "portal-card-lost.png"), full_page=True)
        await page.goto(hall.portal_url + "/usercenter")
        await expect(page.locator("body")).to_contain_text("请先登录")
        async with aiohttp.ClientSession() as http:
            browser = BrowserLogin(hall.authsvc.url, http)
            await browser.start()
            await phone_refused(phone.scan(browser.ticket["qr_text"]), 403, "ecard_not_active")
        assert (await phone.show_ecard())["status"] == "lost"
