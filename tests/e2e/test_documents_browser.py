"""Printed documents in a real browser (headless Debian Chromium): the phone page's 扫一扫 takes
a photo of the printed certificate and receipt and shows what they certify; the portal's own
/cert/verify#TOKEN page (the URL in the QR) checks the same token. Screenshots in
test-artifacts/documents/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from mobile_sim import PhoneApp
from mobile_sim.web import create_app
from portal.demo_documents import make
from portal.http.keys import DB, SETTINGS
from tests.mobile_sim.support import serve
from tests.support.hall import WANG, running_hall
from tests.support.pdfs import qr_of

pytestmark = pytest.mark.e2e


async def _page(chromium: Browser, url: str, errors: list[str]) -> Page:
    context = await chromium.new_context(
        viewport={"width": 400, "height": 860}, locale="zh-CN", device_scale_factor=1
    )
    page = await context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(url)
    return page


async def test_the_phone_page_verifies_the_printed_documents(
    chromium: Browser, tmp_path: Path, artifacts: Path
) -> None:
    """申领 an e-card on the page, 扫一扫 the certificate photo → 验证通过 with its facts, then
    the receipt; the portal's verification page says the same; an altered token fails there."""
    shots = artifacts / "documents"
    shots.mkdir(exist_ok=True)
    async with running_hall(tmp_path) as hall:
        printed = await make(hall.portal[DB], hall.portal[SETTINGS], tmp_path / "printed")
        certificate_png, receipt_png = (p for p in printed if p.suffix == ".png")
        home = tmp_path / "page-phone"
        jwks = f"{hall.portal_url}/.well-known/cert-jwks.json"
        PhoneApp.open(home, hall.authsvc.url, certificate_jwks_url=jwks).state.save()
        errors: list[str] = []
        async with serve(create_app(home, hall.authsvc.url)) as base:
            page = await _page(chromium, base, errors)
            await page.wait_for_selector("#screen-apply:not([hidden])")
            await page.fill("#apply-name", WANG[1])
            await page.fill("#apply-id", WANG[0])
            await page.fill("#apply-phone", WANG[2])
            await page.check("#apply-agree")
            await page.click("#apply-submit")
            await page.wait_for_selector("#screen-home:not([hidden])", timeout=15_000)
            for png, title in (
                (certificate_png, "单位参保证明"),
                (receipt_png, "社会保险业务受理单"),
            ):
                await page.click("#scan-button")
                await page.wait_for_selector("#screen-scan:not([hidden])")
                await page.set_input_files("#qr-file", str(png))
                await page.wait_for_selector("#screen-certificate:not([hidden])", timeout=15_000)
                assert await page.inner_text("#cert-heading") == f"验证通过：{title}"
                lines = await page.inner_text("#cert-lines")
                assert "哈尔滨龙江机械制造有限公司" in lines and "证明编号" in lines, lines
                await page.screenshot(path=str(shots / f"phone-{png.stem}.png"), full_page=True)
                await page.click("#cert-home")
                await page.wait_for_selector("#screen-home:not([hidden])")
            portal = await _page(chromium, qr_of(certificate_png), errors)
            await portal.wait_for_selector("[data-state='ok']:not([hidden])", timeout=15_000)
            facts = await portal.inner_text("[data-facts]")
            assert "单位参保证明" in facts and "企业职工基本养老保险" in facts
            await portal.screenshot(path=str(shots / "portal-verify.png"), full_page=True)
            forged = qr_of(certificate_png)[:-6] + "AAAAAA"
            await portal.goto(forged)
            await portal.reload()
            await portal.wait_for_selector("[data-state='error']:not([hidden])", timeout=15_000)
            assert "伪造或篡改" in await portal.inner_text("[data-message]")
    assert not [e for e in errors if "Failed to load resource" not in e], errors
