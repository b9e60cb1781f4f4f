"""The phone page in headless Chromium (Playwright), against a real authsvc and a real accounts
endpoint; the desktop browser's side is a real WebSocket. Screenshots go to test-artifacts/."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from mobile_sim import PhoneApp
from mobile_sim.web import create_app
from tests.mobile_sim.support import ARTIFACTS, C2, ZHANG, serve
from tests.support.browser import BrowserLogin, wait_for_state
from tests.support.servers import Broker

pytestmark = pytest.mark.e2e
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
PHONE_VIEWPORT: ViewportSize = {"width": 400, "height": 860}


@dataclass
class PhonePage:
    page: Page
    url: str
    console_errors: list[str] = field(default_factory=list)

    async def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    async def screen(self, name: str) -> None:
        await self.page.wait_for_selector(f"#screen-{name}:not([hidden])", timeout=15_000)

    async def simulate_face(self, mode: str) -> None:
        if not await self.page.locator("#sim").evaluate("details => details.open"):
            await self.page.click("#sim summary")
        await self.page.check(f"input[name='sim-face'][value='{mode}']")


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def desktop() -> AsyncIterator[aiohttp.ClientSession]:
    """The desktop browser's HTTP and WebSocket side (with a desktop Chrome user agent)."""
    async with aiohttp.ClientSession(headers={"User-Agent": DESKTOP_UA}) as session:
        yield session


async def _open(chromium: Browser, base: str, path: str = "/") -> PhonePage:
    context = await chromium.new_context(
        viewport=PHONE_VIEWPORT, device_scale_factor=2, locale="zh-CN"
    )
    page = await context.new_page()
    phone = PhonePage(page, base)
    # Script errors and CSP violations; refused steps (HTTP 4xx answers) are expected, not errors.
    page.on("pageerror", lambda error: phone.console_errors.append(str(error)))
    page.on(
        "console",
        lambda m: (
            phone.console_errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    await page.goto(base + path)
    return phone


async def _login(
    broker: Broker, desktop: aiohttp.ClientSession, identity: str, tmp_path: Path
) -> tuple[BrowserLogin, Path]:
    browser = BrowserLogin(broker.url, desktop)
    await browser.start(identity)
    png = tmp_path / f"qr-{browser.ticket['ticket_id'][:6]}.png"
    async with desktop.get(broker.url + browser.ticket["png_url"]) as response:
        png.write_bytes(await response.read())
    return browser, png


async def test_apply_upload_choose_face_retry_confirm(
    chromium: Browser, memory_hall: Broker, desktop: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """申领 on the page, upload the QR PNG, pick the 2nd company, fail then pass the face check,
    确认登录 — and the desktop browser's WebSocket is pushed `confirmed`."""
    app = create_app(tmp_path / "page-phone", memory_hall.url, place="哈尔滨")
    async with serve(app) as base:
        phone = await _open(chromium, base)
        await phone.screen("apply")
        await phone.shot("01-apply")
        await phone.page.fill("#apply-name", ZHANG["name"])
        await phone.page.fill("#apply-id", ZHANG["id_number"])
        await phone.page.fill("#apply-phone", ZHANG["phone"])
        await phone.page.check("#apply-agree")
        await phone.page.click("#apply-submit")
        await phone.page.wait_for_selector("#face[data-state='running']")
        await phone.shot("02-apply-face-check")
        await phone.screen("home")
        assert await phone.page.inner_text("#card-name") == "张*"
        await phone.page.wait_for_selector("#toast:not([hidden])")
        await phone.shot("03-home-card")

        browser, png = await _login(memory_hall, desktop, "legal_rep", tmp_path)
        ws = await browser.socket()
        await phone.page.click("#scan-button")
        await phone.screen("scan")
        await phone.shot("04-scan")
        await phone.page.set_input_files("#qr-file", str(png))
        await phone.screen("request")
        assert await phone.page.inner_text("#req-portal") == "测试服务大厅"
        assert await phone.page.inner_text("#req-ip") == "127.0.0.1"
        assert await phone.page.inner_text("#req-browser") == "Chrome 126 / Windows"
        assert await phone.page.is_visible("#req-warning")
        assert await phone.page.locator(".account").count() == 3
        await wait_for_state(ws, "scanned")
        await phone.shot("05-who-is-asking")

        await phone.page.click(f".account[data-key='legal_rep:{C2['credit_code']}']")
        await phone.simulate_face("fail")
        await phone.page.click("#account-next")
        await phone.page.wait_for_selector("#face[data-state='failed']", timeout=15_000)
        assert "2" in await phone.page.inner_text("#face-sub")
        await phone.shot("06-face-failed")
        await phone.simulate_face("capture")
        await phone.page.click("#face-retry")
        await phone.screen("confirm")
        assert "测试服务大厅" in await phone.page.inner_text("#confirm-question")
        assert C2["company_name"] in await phone.page.inner_text("#confirm-account")
        assert await phone.page.inner_text("#confirm-release") == (
            "将向“测试服务大厅”提供：姓名、社会保障号码、登录身份、单位名称及统一社会信用代码、"
            "单位授权信息"
        )
        await phone.shot("07-confirm")
        await phone.page.click("#confirm-button")
        await phone.screen("outcome")
        await phone.shot("08-confirmed")
        await phone.page.click("#outcome-home")
        await phone.screen("home")
        await phone.page.set_viewport_size({"width": 1100, "height": 900})
        await phone.shot("09-home-on-a-desktop")
        confirmed = await wait_for_state(ws, "confirmed")
        assert confirmed["redirect"].startswith("http://127.0.0.1:9/cb?code=")
        stored = await memory_hall.store.get_ticket(browser.ticket["ticket_id"])
        assert stored is not None and stored.account["credit_code"] == C2["credit_code"]
        assert phone.console_errors == []
        await ws.close()


async def test_english_text_scan_and_cancel(
    chromium: Browser, memory_hall: Broker, desktop: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """?lang=en; pasted QR text; 取消 (Cancel) on the request screen pushes `rejected`."""
    async with PhoneApp.open(tmp_path / "page-phone", memory_hall.url) as ready:
        await ready.apply_ecard(ZHANG["name"], ZHANG["id_number"], ZHANG["phone"])
    async with serve(create_app(tmp_path / "page-phone", memory_hall.url, place="本机")) as base:
        phone = await _open(chromium, base, "/?lang=en")
        await phone.screen("home")
        assert await phone.page.inner_text(".scan-label") == "Scan"
        await phone.shot("10-home-en")
        browser, _ = await _login(memory_hall, desktop, "personal", tmp_path)
        ws = await browser.socket()
        await phone.page.click("#scan-button")
        await phone.page.fill("#qr-text", browser.ticket["qr_text"])
        await phone.page.click("#text-submit")
        await phone.screen("request")
        assert not await phone.page.is_visible("#req-warning")
        assert await phone.page.inner_text("#req-portal") == "Test service hall"
        await phone.shot("11-request-en")
        await phone.page.click("#screen-request [data-action='reject']")
        await phone.screen("outcome")
        assert await phone.page.inner_text("#outcome-title") == "Login cancelled"
        await phone.shot("12-cancelled-en")
        assert (await wait_for_state(ws, "rejected"))["reason"] == "user_rejected"
        await phone.page.click("#outcome-home")
        await phone.screen("home")
        assert phone.console_errors == []
        await ws.close()


async def test_paste_and_drop_a_screenshot(
    chromium: Browser, memory_hall: Broker, desktop: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """A screenshot pasted from the clipboard, or dropped on the scan area, is scanned too."""
    async with PhoneApp.open(tmp_path / "page-phone", memory_hall.url) as ready:
        await ready.apply_ecard(ZHANG["name"], ZHANG["id_number"], ZHANG["phone"])
    async with serve(create_app(tmp_path / "page-phone", memory_hall.url)) as base:
        phone = await _open(chromium, base)
        await phone.screen("home")
        for event in ("paste", "drop"):
            browser, png = await _login(memory_hall, desktop, "personal", tmp_path)
            await phone.page.click("#scan-button")
            await phone.screen("scan")
            await phone.page.evaluate(
                _DISPATCH, [event, base64.b64encode(png.read_bytes()).decode()]
            )
            await phone.screen("request")
            stored = await memory_hall.store.get_ticket(browser.ticket["ticket_id"])
            assert stored is not None and stored.state == "scanned"
            await phone.page.click("#screen-request [data-action='reject']")
            await phone.screen("outcome")
            await phone.page.click("#outcome-home")
            await phone.screen("home")
        assert phone.console_errors == []


async def test_a_forged_qr_shows_the_refusal(
    chromium: Browser, memory_hall: Broker, tmp_path: Path
) -> None:
    """A foreign QR shows 此二维码不是本平台的登录二维码 and the scan screen stays."""
    async with PhoneApp.open(tmp_path / "page-phone", memory_hall.url) as ready:
        await ready.apply_ecard(ZHANG["name"], ZHANG["id_number"], ZHANG["phone"])
    async with serve(create_app(tmp_path / "page-phone", memory_hall.url)) as base:
        phone = await _open(chromium, base)
        await phone.screen("home")
        await phone.page.click("#scan-button")
        await phone.page.fill("#qr-text", memory_hall.url + "/q/AQE3MSC3qwqv5GsEhh0BmB9cn")
        await phone.page.click("#text-submit")
        await phone.page.wait_for_selector("#toast:not([hidden])")
        assert await phone.page.inner_text("#toast") == "此二维码不是本平台的登录二维码"
        assert await phone.page.is_visible("#screen-scan")
        await phone.shot("13-forged-refused")


_DISPATCH = """([kind, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], "screenshot.png", { type: "image/png" }));
  if (kind === "paste") {
    document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true }));
  } else {
    const drop = new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true });
    document.getElementById("dropzone").dispatchEvent(drop);
  }
}"""


async def test_a_card_reported_lost_says_so_on_its_face(
    chromium: Browser, memory_hall: Broker, desktop: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """After 挂失 at the agency the card face shows 已挂失 and why it cannot log in."""
    async with PhoneApp.open(tmp_path / "page-phone", memory_hall.url) as ready:
        card_no = (await ready.apply_ecard(ZHANG["name"], ZHANG["id_number"], ZHANG["phone"]))[
            "card_no"
        ]
    async with desktop.post(
        f"{memory_hall.url}/api/admin/ecards/{card_no}/report_lost",
        headers={"Authorization": "Bearer test-admin-token"},
    ) as response:
        assert response.status == 200
    async with serve(create_app(tmp_path / "page-phone", memory_hall.url)) as base:
        phone = await _open(chromium, base)
        await phone.screen("home")
        await phone.page.wait_for_selector("#card-problem:not([hidden])")
        assert await phone.page.inner_text("#card-status") == "已挂失"
        assert "已挂失" in await phone.page.inner_text("#card-problem")
        await phone.shot("14-card-reported-lost")
