"""Number matching on the real QR page in Chromium: after the scan the page shows the number
the phone is asked to pick; a right pick lands, a wrong one shows the cancellation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from mobile_sim import PhoneError
from tests.conftest import PhoneFactory
from tests.e2e.test_qr_page import authorize_url, landing, qr_from_screen, web_client
from tests.support.servers import running_authsvc

__all__ = ["landing"]  # the fixture, used by name
TWO_DIGITS = re.compile(r"^[1-9][0-9]$")


def numbered(redirect_uri: str) -> dict[str, object]:
    return {**web_client(redirect_uri), "number_matching": True}


async def test_page_shows_the_number_and_a_right_pick_lands(
    tmp_path: Path, chromium: Browser, landing: str, phones: PhoneFactory, artifacts: Path
) -> None:
    """The two-digit number appears under 扫码成功; the phone picks it and the page lands."""
    async with running_authsvc(tmp_path, extra_clients=[numbered(landing)]) as broker:
        page = await chromium.new_page(locale="zh-CN")
        await page.goto(authorize_url(broker, landing))
        phone = await phones(broker.url)
        result = await phone.scan(await qr_from_screen(page, artifacts / "number-pending.png"))
        number = page.locator("#match-number-value")
        await expect(number).to_have_text(TWO_DIGITS)
        shown = await number.text_content() or ""
        assert shown in result.number_choices
        await expect(page.locator("#match-number")).to_contain_text("请在手机上选择此数字")
        await page.screenshot(path=str(artifacts / "number-shown.png"))
        await phone.pick_number(shown)
        await expect(page.locator("#match-number")).to_be_hidden()
        await phone.choose(result.account("personal")["key"])
        await phone.face_check("pass")
        await phone.confirm()
        await page.wait_for_url(f"{landing}?*")


async def test_a_wrong_pick_shows_the_cancellation(
    tmp_path: Path, chromium: Browser, landing: str, phones: PhoneFactory, artifacts: Path
) -> None:
    """A wrong pick on the phone: the page says the number did not match, with a refresh."""
    async with running_authsvc(tmp_path, extra_clients=[numbered(landing)]) as broker:
        page = await chromium.new_page(locale="zh-CN")
        await page.goto(authorize_url(broker, landing))
        phone = await phones(broker.url)
        result = await phone.scan(await qr_from_screen(page, artifacts / "number-pending2.png"))
        await expect(page.locator("#match-number-value")).to_have_text(TWO_DIGITS)
        shown = await page.locator("#match-number-value").text_content() or ""
        wrong = next(n for n in result.number_choices if n != shown)
        with pytest.raises(PhoneError) as refused:
            await phone.pick_number(wrong)
        assert refused.value.code == "number_mismatch"
        await expect(page.locator("#overlay-title")).to_have_text(
            "手机上选择的数字不一致，本次登录已取消"
        )
        await expect(page.locator("#refresh-button")).to_be_visible()
        await page.screenshot(path=str(artifacts / "number-mismatch.png"))
