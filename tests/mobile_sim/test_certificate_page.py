"""The phone page's 扫一扫 verifies certificate QRs (单位参保证明, 受理单) like `mobile-sim verify`:
what it certifies, any number of times, and the refusal's words when altered or expired."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import qrcode

from mobile_sim import PhoneApp
from mobile_sim.web import create_app
from tests.mobile_sim.support import CertificatePortal, certificate_portal, serve
from tests.mobile_sim.test_web_api import PageClient


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def portal() -> AsyncIterator[CertificatePortal]:
    async with certificate_portal() as running:
        yield running


@pytest.fixture
async def page(
    tmp_path: Path, portal: CertificatePortal, http: aiohttp.ClientSession
) -> AsyncIterator[PageClient]:
    home = tmp_path / "web-phone"
    PhoneApp.open(home, "http://127.0.0.1:1", certificate_jwks_url=portal.url).state.save()
    async with serve(create_app(home, "http://127.0.0.1:1")) as base:
        client = PageClient(base, http)
        await client.open()
        yield client


async def test_a_certificate_qr_is_verified_and_shown(
    page: PageClient, portal: CertificatePortal
) -> None:
    """Pasted text or a screenshot: 验证通过 with number, holder and facts; again and again;
    返回首页 clears it. No e-card is needed to check a certificate."""
    token = portal.sign(portal.keys[0])
    for _ in range(2):
        status, view = await page.post(
            "/api/scan", {"text": f"{portal.issuer}/cert/verify#{token}"}
        )
        assert status == 200 and view["certificate"]["ok"] and view["login"] is None
        lines = view["certificate"]["lines"]
        assert lines[0] == "验证通过：单位参保证明" and "证明编号：ZM2024110500123" in lines
        assert "参保险种：企业职工基本养老保险" in lines
    image = io.BytesIO()
    qrcode.make(token).save(image, format="PNG")
    form = aiohttp.FormData()
    form.add_field("image", image.getvalue(), filename="cert.png", content_type="image/png")
    status, view = await page.post("/api/scan", data=form)
    assert status == 200 and view["certificate"]["ok"]
    status, view = await page.post("/api/done", {})
    assert status == 200 and view["certificate"] is None
    assert portal.fetches == 1  # pinned once, verified offline afterwards


@pytest.mark.parametrize(
    ("case", "code_zh"),
    [
        ("altered", "此二维码不是有效的电子证明，证明可能被伪造或篡改"),
        ("expired", "该证明已超过有效期"),
        ("longer than six months", "此二维码不是有效的电子证明，证明可能被伪造或篡改"),
    ],
)
async def test_a_bad_certificate_shows_the_refusal(
    page: PageClient, portal: CertificatePortal, case: str, code_zh: str
) -> None:
    """The page shows 验证未通过 with the phone's words; nothing else changes on the phone."""
    now = int(time.time())
    key = portal.keys[0]
    token = {
        "altered": lambda: _alter(portal.sign(key)),
        "expired": lambda: portal.sign(key, iat=now - 200 * 86400, exp=now - 5),
        "longer than six months": lambda: portal.sign(key, iat=now - 60, exp=now + 400 * 86400),
    }[case]()
    status, view = await page.post("/api/scan", {"text": token})
    assert status == 200 and view["certificate"] == {
        "ok": False,
        "message": {"zh": code_zh, "en": view["certificate"]["message"]["en"]},
    }
    assert view["login"] is None


def _alter(token: str) -> str:
    head, payload, signature = token.split(".")
    middle = len(payload) // 2
    swapped = "A" if payload[middle] != "A" else "B"
    return f"{head}.{payload[:middle]}{swapped}{payload[middle + 1 :]}.{signature}"
