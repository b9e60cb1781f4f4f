"""A browser relying party built only with oidc-client-ts (tests/e2e/spa, the library vendored
unmodified from npm) logs in through authsvc in Chromium from its own 127.0.0.1 origin: CORS on
discovery, token and userinfo is all it needs. From an unregistered origin it cannot start."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import zxingcpp
from aiohttp import web
from PIL import Image
from playwright.async_api import Browser, Page, expect

from tests.conftest import PhoneFactory
from tests.support.servers import Broker, free_socket, running_authsvc
from tests.support.snapshot import stored_keys

SPA_DIR = Path(__file__).parent / "spa"


@asynccontextmanager
async def spa_server(config: dict[str, Any]) -> AsyncIterator[str]:
    """The single-page app's own web server: static files and its config, nothing else."""
    sock = free_socket()

    async def page(_: web.Request) -> web.FileResponse:
        return web.FileResponse(SPA_DIR / "index.html")

    async def settings(_: web.Request) -> web.Response:
        return web.json_response(config)

    async def script(_: web.Request) -> web.FileResponse:
        return web.FileResponse(SPA_DIR / "app.js")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/callback", page)
    app.router.add_get("/config.json", settings)
    app.router.add_get("/app.js", script)
    app.router.add_static("/vendor", SPA_DIR / "vendor")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()


def spa_client(origin: str) -> dict[str, object]:
    """Registered like demo-spa: public (PKCE only), personal logins, the name and no more."""
    return {
        "client_id": "spa-e2e",
        "name": {"zh": "演示应用", "en": "Demo app"},
        "redirect_uris": [f"{origin}/callback"],
        "identities": ["personal"],
        "scopes": ["openid", "profile"],
    }


async def qr_text(page: Page, path: Path) -> str:
    """Photograph the QR page and decode it, as a phone camera would."""
    await page.locator("#qr-image").wait_for(state="visible")
    png = await page.locator("#qr-frame").screenshot(path=str(path))
    decoded = zxingcpp.read_barcode(Image.open(io.BytesIO(png)))
    assert decoded is not None, "the QR on the page decodes"
    return str(decoded.text)


@asynccontextmanager
async def authsvc_with_spa(tmp_path: Path) -> AsyncIterator[tuple[Broker, str, str]]:
    """authsvc with the SPA registered, the SPA, and a second copy on an unregistered origin."""
    config: dict[str, Any] = {"client_id": "spa-e2e", "scope": "openid profile"}
    async with (
        spa_server(config) as spa,
        spa_server(config) as foreign,
        running_authsvc(tmp_path, extra_clients=[spa_client(spa)]) as broker,
    ):
        config["authority"] = broker.url
        yield broker, spa, foreign


async def test_spa_logs_in_through_the_qr_and_reads_userinfo(
    tmp_path: Path, chromium: Browser, phones: PhoneFactory, artifacts: Path
) -> None:
    """登录 → authsvc's QR page → the phone scans the screenshot and confirms → the SPA's
    callback redeems the code and reads userinfo, all cross-origin."""
    async with authsvc_with_spa(tmp_path) as (broker, spa, _):
        page = await chromium.new_page(locale="zh-CN", viewport={"width": 1100, "height": 800})
        await page.goto(spa + "/")
        await expect(page.locator("body")).to_have_attribute("data-state", "ready")
        await page.locator("#login").click()
        await page.wait_for_url(f"{broker.url}/authorize?*")
        await expect(page.locator("#identity-title")).to_have_text("个人登录")
        text = await qr_text(page, artifacts / "spa-qr.png")
        phone = await phones(broker.url)
        result = await phone.scan(text)
        assert result.client["id"] == "spa-e2e" and result.claims == ["name"]
        await phone.choose(result.account("personal")["key"])
        await phone.face_check("pass")
        await phone.confirm()
        await page.wait_for_url(f"{spa}/**")
        await expect(page.locator("body")).to_have_attribute(
            "data-state", "signed-in", timeout=15_000
        )
        await expect(page.locator("#status")).to_have_text("已登录")
        await expect(page.locator("#name")).to_have_text("张三")
        sub = await page.locator("#sub").text_content()
        assert sub and len(sub) == 32
        userinfo = await page.locator("#userinfo").text_content()
        assert userinfo == f'{{"sub":"{sub}","name":"张三"}}'
        assert int(await page.locator("#jwks").text_content() or "0") >= 2
        await page.screenshot(path=str(artifacts / "spa-signed-in.png"), full_page=True)


async def test_an_unregistered_origin_cannot_even_start(
    tmp_path: Path, chromium: Browser, artifacts: Path
) -> None:
    """The same SPA served from an origin no client registered: discovery has no
    Access-Control-Allow-Origin, so oidc-client-ts fails before any redirect; a preflighted
    userinfo call is refused; authsvc stores nothing."""
    async with authsvc_with_spa(tmp_path) as (broker, _, foreign):
        before = await stored_keys(broker.store, "")
        page = await chromium.new_page(locale="zh-CN")
        await page.goto(foreign + "/")
        await expect(page.locator("body")).to_have_attribute("data-state", "ready")
        await page.locator("#login").click()
        await expect(page.locator("body")).to_have_attribute("data-state", "error")
        await expect(page.locator("#error")).to_contain_text("登录失败")
        assert page.url.startswith(foreign)
        outcome = await page.evaluate(
            """async (issuer) => {
                const tries = {};
                for (const [name, init] of [
                    ["discovery", {}],
                    ["userinfo", { headers: { Authorization: "Bearer x" } }],
                ]) {
                    const url = name === "discovery"
                        ? issuer + "/.well-known/openid-configuration"
                        : issuer + "/userinfo";
                    try { await fetch(url, init); tries[name] = "read"; }
                    catch (error) { tries[name] = error.name; }
                }
                return tries;
            }""",
            broker.url,
        )
        assert outcome == {"discovery": "TypeError", "userinfo": "TypeError"}
        await page.screenshot(path=str(artifacts / "spa-foreign-origin.png"))
        assert await stored_keys(broker.store, "") == before
