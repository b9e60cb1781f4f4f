"""authsvc's QR page in a real browser: screenshot → decode → phone → live states → redirect."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import zxingcpp
from aiohttp import web
from PIL import Image
from playwright.async_api import Browser, Page, expect

from authsvc.core.tickets import Lifetimes
from tests.conftest import PhoneFactory
from tests.support.browser import pkce_pair
from tests.support.servers import Broker, free_socket, running_authsvc


@pytest.fixture
async def landing() -> AsyncIterator[str]:
    """The relying party's redirect URI: a page that shows it was reached."""
    sock = free_socket()

    async def callback(request: web.Request) -> web.Response:
        return web.Response(
            text=f"<h1>landed</h1><p id=code>{request.query.get('code', '')}</p>",
            content_type="text/html",
        )

    app = web.Application()
    app.router.add_get("/cb", callback)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/cb"
    await runner.cleanup()


def authorize_url(
    broker: Broker, redirect_uri: str, identity: str = "personal", **extra: str
) -> str:
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": "web",
        "redirect_uri": redirect_uri,
        "scope": "openid profile",
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login_hint": identity,
        **extra,
    }
    return f"{broker.url}/authorize?{urlencode(params)}"


def web_client(redirect_uri: str) -> dict[str, object]:
    return {
        "client_id": "web",
        "client_secret": "web-secret",
        "name": {"zh": "网上服务大厅", "en": "Service hall"},
        "redirect_uris": [redirect_uri],
        "identities": ["personal", "agent", "legal_rep"],
    }


async def qr_from_screen(page: Page, path: Path) -> str:
    """What a phone camera would do: photograph the screen and decode the QR."""
    await page.locator("#qr-image").wait_for(state="visible")
    png = await page.locator("#qr-frame").screenshot(path=str(path))
    decoded = zxingcpp.read_barcode(Image.open(io.BytesIO(png)))
    assert decoded is not None, "the QR on the page decodes"
    return str(decoded.text)


async def test_scan_confirm_and_land_without_a_click(
    tmp_path: Path, chromium: Browser, landing: str, phones: PhoneFactory, artifacts: Path
) -> None:
    """The page shows 扫码成功 with the masked name, then navigates to the redirect by itself."""
    async with running_authsvc(tmp_path, extra_clients=[web_client(landing)]) as broker:
        page = await chromium.new_page(locale="zh-CN")
        await page.goto(authorize_url(broker, landing))
        await expect(page.locator("#identity-title")).to_have_text("个人登录")
        text = await qr_from_screen(page, artifacts / "qr-page-pending.png")
        phone = await phones(broker.url)
        result = await phone.scan(text)
        await expect(page.locator("#overlay-title")).to_have_text("扫码成功，请在手机上确认")
        await expect(page.locator("#overlay-detail")).to_contain_text("张*")
        await page.screenshot(path=str(artifacts / "qr-page-scanned.png"))
        await phone.choose(result.account("personal")["key"])
        await phone.face_check()
        await phone.confirm()
        await page.wait_for_url(f"{landing}?*")
        await expect(page.locator("h1")).to_have_text("landed")
        assert len(await page.locator("#code").text_content() or "") >= 43


async def test_identity_switch_renews_the_qr(
    tmp_path: Path, chromium: Browser, landing: str, artifacts: Path
) -> None:
    """办事员扫码登录 below the QR makes a new QR for the agent identity."""
    async with running_authsvc(tmp_path, extra_clients=[web_client(landing)]) as broker:
        page = await chromium.new_page(locale="zh-CN")
        await page.goto(authorize_url(broker, landing, identity="legal_rep"))
        await expect(page.locator("#identity-title")).to_have_text("法人扫码登录")
        first = await qr_from_screen(page, artifacts / "qr-page-legal-rep.png")
        await page.get_by_role("button", name="办事员扫码登录").click()
        await expect(page.locator("#identity-title")).to_have_text("办事员扫码登录")
        await expect(page.locator("#qr-image")).not_to_have_attribute(
            "data-ticket", first.rsplit("/", 1)[-1]
        )
        second = await qr_from_screen(page, artifacts / "qr-page-agent.png")
        assert second != first
        claims = phones_claims(broker, second)
        assert claims.identity == "agent"


def phones_claims(broker: Broker, text: str) -> object:
    from authsvc.services.login import verify_qr

    return verify_qr(broker.broker, text)


async def test_reject_and_expiry_are_shown_with_a_refresh_button(
    tmp_path: Path, chromium: Browser, landing: str, phones: PhoneFactory, artifacts: Path
) -> None:
    """取消 on the phone shows 已取消; a QR left alone expires and offers 刷新二维码."""
    async with running_authsvc(
        tmp_path,
        extra_clients=[web_client(landing)],
        lifetimes=Lifetimes(pending=3.0),
        qr_auto_renewals=0,
    ) as broker:
        page = await chromium.new_page(locale="zh-CN")
        await page.goto(authorize_url(broker, landing))
        text = await qr_from_screen(page, artifacts / "qr-page-before-reject.png")
        phone = await phones(broker.url)
        await phone.scan(text)
        await phone.reject()
        await expect(page.locator("#overlay-title")).to_have_text("您已在手机上取消登录")
        await page.screenshot(path=str(artifacts / "qr-page-rejected.png"))
        await page.get_by_role("button", name="刷新二维码").click()
        await expect(page.locator("#qr-frame")).to_have_attribute("data-state", "pending")
        await expect(page.locator("#overlay-title")).to_have_text("二维码已过期", timeout=10_000)
        await expect(page.get_by_role("button", name="刷新二维码")).to_be_visible()
        await page.screenshot(path=str(artifacts / "qr-page-expired.png"))


async def test_english_page(
    tmp_path: Path, chromium: Browser, landing: str, artifacts: Path
) -> None:
    """?lang=en gives the same page in English."""
    async with running_authsvc(tmp_path, extra_clients=[web_client(landing)]) as broker:
        page = await chromium.new_page(locale="zh-CN")
        await page.goto(authorize_url(broker, landing, lang="en"))
        await expect(page.locator("#identity-title")).to_have_text("Personal")
        await expect(page.locator(".hint")).to_contain_text("scan this code")
        await page.screenshot(path=str(artifacts / "qr-page-en.png"))
