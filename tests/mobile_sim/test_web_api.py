"""The phone page's server over real HTTP: strict CSP, CSRF-safe JSON endpoints, the login via
PhoneApp with server-side QR decoding (the browser-driven version is in test_page.py)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mobile_sim.web import create_app
from tests.mobile_sim.support import C1, C2, ZHANG, serve
from tests.support.browser import BrowserLogin, wait_for_state
from tests.support.servers import Broker

CONFIG = re.compile(r'<script type="application/json" id="config">(.*?)</script>', re.S)


@dataclass
class PageClient:
    base: str
    http: aiohttp.ClientSession
    token: str = ""

    async def open(self, lang: str = "") -> str:
        async with self.http.get(self.base + "/" + (f"?lang={lang}" if lang else "")) as response:
            html = await response.text()
            assert response.status == 200
        match = CONFIG.search(html)
        assert match
        self.token = json.loads(match.group(1))["csrf"]
        return html

    async def post(
        self,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        data: Any = None,
        origin: str | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        sent = {
            "Origin": self.base if origin is None else origin,
            "X-CSRF-Token": self.token if token is None else token,
            **(headers or {}),
        }
        if origin == "":
            sent.pop("Origin")
        async with self.http.post(
            self.base + path, json=body if data is None else None, data=data, headers=sent
        ) as response:
            return response.status, await response.json()


@pytest.fixture
async def page(
    tmp_path: Path, memory_hall: Broker, http: aiohttp.ClientSession
) -> AsyncIterator[PageClient]:
    async with serve(create_app(tmp_path / "web-phone", memory_hall.url, place="本机")) as base:
        client = PageClient(base, http)
        await client.open()
        yield client


async def _apply(page: PageClient) -> dict[str, Any]:
    status, body = await page.post("/api/ecard", {**ZHANG, "face": {"mode": "capture"}})
    assert status == 200, body
    return body


async def test_the_page_has_a_strict_csp_and_no_inline_script(
    page: PageClient, http: aiohttp.ClientSession
) -> None:
    """CSP allows scripts from 'self' only; every <script> is a file or a JSON data block."""
    async with http.get(page.base + "/") as response:
        html = await response.text()
        csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert (
        "frame-ancestors 'none'" in csp and response.headers["X-Content-Type-Options"] == "nosniff"
    )
    for tag in re.findall(r"<script[^>]*>", html):
        assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
    assert " style=" not in html and "onclick" not in html
    async with http.get(page.base + "/static/phone.js") as response:
        assert response.status == 200 and "Content-Security-Policy" in response.headers


async def test_english_via_lang(page: PageClient) -> None:
    """Chinese first; ?lang=en renders the English words."""
    assert "扫一扫" in await page.open() and '<html lang="zh-CN">' in await page.open()
    english = await page.open("en")
    assert '<html lang="en">' in english and "Scan" in english and "扫一扫" not in english


@pytest.mark.parametrize(
    ("origin", "token", "code"),
    [
        ("", None, "forbidden_origin"),
        ("http://evil.example", None, "forbidden_origin"),
        ("null", None, "forbidden_origin"),
        (None, "", "csrf_token_invalid"),
        (
            None,
            "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "csrf_token_invalid",
        ),
    ],
)
async def test_cross_site_posts_are_refused(
    page: PageClient, origin: str | None, token: str | None, code: str
) -> None:
    """A POST needs this page's own Origin and a token this server signed; else nothing changes."""
    status, body = await page.post(
        "/api/ecard", {**ZHANG, "face": {"mode": "capture"}}, origin=origin, token=token
    )
    assert status == 403 and body["error"] == code
    async with page.http.get(page.base + "/api/state") as response:
        assert (await response.json())["card"] is None


async def test_a_foreign_host_name_is_refused(page: PageClient) -> None:
    """DNS rebinding: a request naming another host is refused, even a GET."""
    async with page.http.get(
        page.base + "/api/state", headers={"Host": "attacker.example:8702"}
    ) as response:
        assert response.status == 403 and (await response.json())["error"] == "forbidden_host"


async def test_login_through_the_json_api_with_an_uploaded_png(
    page: PageClient, memory_hall: Broker, http: aiohttp.ClientSession
) -> None:
    """Upload → who asks → choose the second company → face fail then pass → confirm."""
    await _apply(page)
    browser = BrowserLogin(memory_hall.url, http)
    await browser.start("legal_rep")
    ws = await browser.socket()
    async with http.get(memory_hall.url + browser.ticket["png_url"]) as response:
        png = await response.read()
    form = aiohttp.FormData()
    form.add_field("image", png, filename="qr.png", content_type="image/png")
    status, body = await page.post("/api/scan", data=form)
    assert status == 200, body
    login = body["login"]
    assert (
        login["portal"] == "测试服务大厅"
        and login["ip"] == "127.0.0.1"
        and login["place"] == "本机"
    )
    assert not login["place_warning"]
    assert [a["company"] for a in login["accounts"][:2]] == [C1["company_name"], C2["company_name"]]
    assert login["accounts"][0]["group_label"] == "单位登录"
    key = f"legal_rep:{C2['credit_code']}"
    assert (await page.post("/api/account", {"key": key}))[1]["login"]["account_key"] == key
    status, failed = await page.post("/api/face", {"mode": "fail"})
    assert status == 403 and failed["error"] == "face_check_failed"
    status, body = await page.post("/api/face", {"mode": "capture"})
    assert status == 200 and body["login"]["face_passed"] and body["login"]["failures_left"] == 2
    status, body = await page.post("/api/confirm", {})
    assert status == 200 and body["login"]["outcome"] == "confirmed"
    await wait_for_state(ws, "confirmed")
    await ws.close()
    stored = await memory_hall.store.get_ticket(browser.ticket["ticket_id"])
    assert stored is not None and stored.account["key"] == key  # sent with the failed answer


async def test_pasted_text_and_reject(
    page: PageClient, memory_hall: Broker, http: aiohttp.ClientSession
) -> None:
    """Pasted QR text scans too; 取消 reaches the browser as rejected."""
    await _apply(page)
    browser = BrowserLogin(memory_hall.url, http)
    await browser.start()
    ws = await browser.socket()
    status, body = await page.post("/api/scan", {"text": browser.ticket["qr_text"]})
    assert status == 200 and body["login"]["accounts"][0]["key"] == "personal:"
    status, body = await page.post("/api/reject", {})
    assert status == 200 and body["login"]["outcome"] == "rejected"
    await wait_for_state(ws, "rejected")
    assert (await page.post("/api/done", {}))[1]["login"] is None
    await ws.close()


async def test_bad_uploads_are_refused(page: PageClient) -> None:
    """Not an image, no QR in it, or too large: a documented code, never a 500."""
    await _apply(page)
    for content, code, expected in (
        (b"hello", "image_unreadable", 400),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image_unreadable", 400),
        (b"\x00" * (9 * 1024 * 1024), "image_too_large", 413),
    ):
        form = aiohttp.FormData()
        form.add_field("image", io.BytesIO(content), filename="x.png", content_type="image/png")
        status, body = await page.post("/api/scan", data=form)
        assert (status, body["error"]) == (expected, code)


async def test_a_forged_text_is_refused_by_the_phone(page: PageClient, memory_hall: Broker) -> None:
    """The page's server refuses a foreign QR exactly like the library: qr_invalid."""
    await _apply(page)
    status, body = await page.post("/api/scan", {"text": memory_hall.url + "/q/AAAA"})
    assert status == 400 and body["error"] == "qr_invalid"
    assert body["message"]["zh"] == "此二维码不是本平台的登录二维码"


async def test_steps_need_a_scan_and_valid_bodies(page: PageClient) -> None:
    """Out-of-order steps and malformed bodies get codes, not crashes."""
    await _apply(page)
    assert (await page.post("/api/confirm", {}))[1]["error"] == "no_scan"
    assert (await page.post("/api/face", {"mode": "score", "score": 0.99}))[1][
        "error"
    ] == "invalid_request"
    status, body = await page.post(
        "/api/account", data=b"[1, 2", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and body["error"] == "invalid_request"


async def test_a_suspended_card_shows_and_cannot_scan(
    page: PageClient, memory_hall: Broker, http: aiohttp.ClientSession
) -> None:
    """The card shows the broker's status; a suspended card's scan is refused with its words."""
    card_no = (await _apply(page))["card"]["card_no"]
    async with http.get(page.base + "/api/state") as response:
        assert (await response.json())["card"]["status"] == "active"
    async with http.post(
        f"{memory_hall.url}/api/admin/ecards/{card_no}/suspend",
        headers={"Authorization": "Bearer test-admin-token"},
    ) as response:
        assert response.status == 200
    async with http.get(page.base + "/api/state") as response:
        card = (await response.json())["card"]
    assert (
        card["status"] == "suspended"
        and card["problem"]["zh"] == "您的电子社保卡已暂停使用，无法扫码登录"
    )
    browser = BrowserLogin(memory_hall.url, http)
    await browser.start()
    status, body = await page.post("/api/scan", {"text": browser.ticket["qr_text"]})
    assert (status, body["error"]) == (403, "ecard_not_active")
    assert body["message"]["zh"] == "您的电子社保卡已暂停使用，无法扫码登录"


@pytest.mark.parametrize(
    "raw",
    [b"[" * 8000 + b"]" * 8000, b'{"a":' * 4000 + b"1" + b"}" * 4000],
    ids=["deep-array", "deep-object"],
)
async def test_deeply_nested_json_is_invalid_request_not_a_500(
    page: PageClient, raw: bytes
) -> None:
    """JSON nested deeper than the parser recurses is a usage error, and the login is untouched."""
    await _apply(page)
    async with page.http.get(page.base + "/api/state") as response:
        before = await response.json()
    status, body = await page.post(
        "/api/account", data=raw, headers={"Content-Type": "application/json"}
    )
    assert (status, body["error"]) == (400, "invalid_request")
    async with page.http.get(page.base + "/api/state") as response:
        assert await response.json() == before
