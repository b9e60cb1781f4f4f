"""Issue 12, XSS: payloads in every portal field that is rendered back, against the real
authsvc and phones. Each payload is either refused with the field's error or shown escaped on
every page that renders it; in Chromium no dialog fires and every page carries the CSP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from markupsafe import escape
from playwright.async_api import Browser, Dialog
from sqlalchemy import select

from portal.db.models import Agent, Company, CounterUpload
from portal.http.keys import DB
from tests.conftest import PhoneFactory
from tests.e2e.conftest import chromium  # noqa: F401 — the Debian Chromium fixture
from tests.support.hall import C1, SUN, WANG, Hall, csrf, new_browser, running_hall, scan_login

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    '"><script>alert(2)</script>',
    "'><svg onload=alert(3)>",
    "javascript:alert(4)",
    "{{7*7}}",
    "{% raw %}x",
    "\u202eevil\u202c",  # right-to-left override
    "张\u200b伟",  # zero-width space
]
INVISIBLE = ("\u202e", "\u202c", "\u200b")
MARKUP = set("<>\"'&")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
async def hall(tmp_path: Path) -> AsyncIterator[Hall]:
    async with running_hall(tmp_path) as running:
        yield running


@pytest.fixture
async def stored(
    hall: Hall, phones: PhoneFactory
) -> AsyncIterator[tuple[aiohttp.ClientSession, aiohttp.ClientSession, dict[str, list[str]]]]:
    """The legal rep of C1 and counter staff, logged in, after trying every payload in every
    field they can type into; which payloads each field stored."""
    async with new_browser() as wang, new_browser() as sun:
        for browser, who, identity, role, code in (
            (wang, WANG, "legal_rep", "legal_rep", C1),
            (sun, SUN, "personal", "staff", ""),
        ):
            phone = await phones(hall.authsvc.url, id_number=who[0], name=who[1], phone=who[2])
            await scan_login(hall, browser, phone, identity, role, code)
        kept: dict[str, list[str]] = {"agent name": [], "address": [], "upload name": []}
        for payload in PAYLOADS:
            kept["agent name"] += await _agent(hall, wang, payload)
            kept["address"] += await _address(hall, wang, payload)
            kept["upload name"] += await _upload(hall, sun, payload)
        yield wang, sun, kept


async def _agent(hall: Hall, browser: aiohttp.ClientSession, payload: str) -> list[str]:
    """添加经办人 with the payload as name (the agent is deleted again to stay under ten)."""
    token = await csrf(browser, f"{hall.portal_url}/uc/{C1}/agents")
    form = {
        "_csrf": token,
        "id_number": "230102199504021561",
        "name": payload,
        "phone": "13804510006",
    }
    async with browser.post(f"{hall.portal_url}/uc/{C1}/agents", data=form) as response:
        page = await response.text()
    if response.status == 400:
        assert 'data-code="invalid_name"' in page, payload
        _assert_escaped_echo(page, payload)
        return []
    assert response.status == 200, page
    async with hall.portal[DB]() as db:
        agent = await db.scalar(select(Agent).where(Agent.name == payload))
        assert agent is not None and agent.name == payload
        seen = [await _page(browser, f"{hall.portal_url}/uc/{C1}/agents/{agent.id}")]
        seen.append(await _page(browser, f"{hall.portal_url}/uc/{C1}/agents"))
    for page in seen:
        _assert_escaped(page, payload, present=True)
    async with browser.post(
        f"{hall.portal_url}/uc/{C1}/agents/{agent.id}/delete", data={"_csrf": token}
    ) as response:
        assert response.status == 200
    return [payload]


async def _address(hall: Hall, browser: aiohttp.ClientSession, payload: str) -> list[str]:
    """修改资料 with the payload as the address: refused with invalid_text or shown escaped."""
    token = await csrf(browser, f"{hall.portal_url}/uc/{C1}/profile")
    form = {"_csrf": token, "address": payload, "legal_rep_phone": "13804510001"}
    async with browser.post(f"{hall.portal_url}/uc/{C1}/profile", data=form) as response:
        page = await response.text()
    if response.status == 400:
        assert 'data-code="invalid_text"' in page, payload
        async with hall.portal[DB]() as db:
            company = await db.scalar(select(Company).where(Company.credit_code == C1))
            assert company.address != payload
        return []
    assert response.status == 200, page
    for path in (f"/uc/{C1}", f"/uc/{C1}/profile"):
        _assert_escaped(await _page(browser, hall.portal_url + path), payload, present=True)
    return [payload]


async def _upload(hall: Hall, browser: aiohttp.ClientSession, payload: str) -> list[str]:
    """A counter upload named after the payload: its name is shown escaped, invisible
    characters removed."""
    token = await csrf(browser, f"{hall.portal_url}/counter/{C1}")
    form = aiohttp.FormData()
    form.add_field("_csrf", token)
    form.add_field("file", PNG, filename=payload + ".png", content_type="image/png")
    async with browser.post(f"{hall.portal_url}/counter/{C1}/upload", data=form) as response:
        assert response.status == 200
    async with hall.portal[DB]() as db:
        upload = await db.scalar(select(CounterUpload).order_by(CounterUpload.id.desc()))
    assert not any(c in upload.original_name for c in INVISIBLE)
    page = await _page(browser, f"{hall.portal_url}/counter/{C1}")
    _assert_escaped(page, upload.original_name, present=True)
    return [upload.original_name]


async def _page(browser: aiohttp.ClientSession, url: str) -> str:
    async with browser.get(url) as response:
        assert response.status == 200, url
        assert "Content-Security-Policy" in response.headers
        return await response.text()


def _assert_escaped(page: str, payload: str, *, present: bool = False) -> None:
    """No raw markup of the payload in the page; when `present`, its escaped form is there."""
    if MARKUP & set(payload):
        assert payload not in page, payload
    if present:
        assert str(escape(payload)) in page, payload  # what Jinja's autoescape writes
    assert not any(c in page for c in INVISIBLE), payload
    assert 'href="javascript:' not in page.lower()


async def test_every_payload_is_refused_or_escaped(
    hall: Hall, stored: tuple[aiohttp.ClientSession, aiohttp.ClientSession, dict[str, list[str]]]
) -> None:
    """Names refuse invisible characters; addresses too; markup is stored and escaped; form
    values echoed back after an error and search queries are escaped."""
    _, sun, kept = stored
    assert kept["agent name"] == [p for p in PAYLOADS if not any(c in p for c in INVISIBLE)]
    assert kept["address"] == kept["agent name"]
    assert len(kept["upload name"]) == len(PAYLOADS)
    async with new_browser() as anonymous:
        for payload in PAYLOADS:
            token = await csrf(anonymous, f"{hall.portal_url}/register")
            form = {
                "_csrf": token,
                "agree": "on",
                "credit_code": payload,
                "company_name": payload,
                "id_number": payload,
                "legal_rep_name": payload,
            }
            async with anonymous.post(f"{hall.portal_url}/register", data=form) as response:
                assert response.status == 400
                _assert_escaped_echo(await response.text(), payload)
    for payload in PAYLOADS:
        async with sun.get(f"{hall.portal_url}/counter", params={"q": payload}) as response:
            assert response.status == 404
            _assert_escaped_echo(await response.text(), payload)


def _assert_escaped_echo(page: str, payload: str) -> None:
    """A form value echoed back: escaped (invisible characters may be echoed inside the
    input's value, where they are only the user's own typing)."""
    if MARKUP & set(payload):
        assert payload not in page, payload
    assert 'href="javascript:' not in page.lower()


async def test_no_dialog_fires_and_every_page_has_the_csp(
    hall: Hall,
    stored: tuple[aiohttp.ClientSession, aiohttp.ClientSession, dict[str, list[str]]],
    chromium: Browser,  # noqa: F811
) -> None:
    """Chromium opens every page that renders the stored payloads (as the legal rep and as
    staff, cookies taken from the scan logins): no alert/confirm/prompt, a CSP on each page."""
    wang, sun, _ = stored
    async with hall.portal[DB]() as db:
        agent = await db.scalar(select(Agent).order_by(Agent.id))
    pages = {
        wang: [f"/uc/{C1}", f"/uc/{C1}/agents", f"/uc/{C1}/agents/{agent.id}", f"/uc/{C1}/profile"],
        sun: [
            f"/counter/{C1}",
            "/counter?q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
            "/usercenter",
        ],
    }
    dialogs: list[str] = []
    visited = 0
    for session, paths in pages.items():
        context = await chromium.new_context()
        cookies = [
            {"name": c.key, "value": c.value, "url": hall.portal_url}
            for c in session.cookie_jar
            if c.key.startswith("portal_")
        ]
        await context.add_cookies(cookies)  # type: ignore[arg-type]
        page = await context.new_page()

        async def on_dialog(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            await dialog.dismiss()

        page.on("dialog", on_dialog)
        for path in [*paths, "/", "/register", "/banshi"]:
            response = await page.goto(hall.portal_url + path, wait_until="load")
            assert response is not None and response.status in (200, 404), path
            csp = await response.header_value("content-security-policy")
            assert csp and "script-src 'self'" in csp and "unsafe-inline" not in csp, path
            visited += 1
        await page.wait_for_load_state("networkidle")
        await context.close()
    assert dialogs == []
    assert visited == 13
