"""The browser-facing small fixes of issue 12: the language link stays on-site, and QR images
are no oracle of a ticket's state. Against a real authsvc on memory and Redis."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import aiohttp
import pytest

from tests.conftest import PhoneFactory
from tests.security.helpers import begin, refused, unchanged, value_keys
from tests.support.servers import Broker

LANG_LINK = re.compile(r'class="lang-switch" href="([^"]*)"')


@pytest.mark.parametrize(
    "path",
    ["//evil.example/x", "/\\evil.example/x", "//evil.example/%2e%2e", "/authorize"],
)
async def test_language_link_is_a_relative_query(
    authsvc: Broker, http: aiohttp.ClientSession, path: str
) -> None:
    """Whatever the path, the language (and 长辈模式) switches are "?…" links: they cannot
    leave the site."""
    async with http.get(authsvc.url + path + "?x=1", allow_redirects=False) as response:
        html = await response.text()
    links = LANG_LINK.findall(html)
    assert links, html[:200]
    for link in links:  # the language switch and the 长辈模式 switch
        assert link.startswith("?") and "evil" not in link, link
    assert any("lang=en" in link for link in links)


async def _image(http: aiohttp.ClientSession, url: str) -> tuple[int, bytes]:
    async with http.get(url) as response:
        return response.status, await response.read()


async def test_qr_images_do_not_tell_whether_a_ticket_is_pending(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The image of a scanned ticket's QR is the same image as while it was pending: drawn from
    the signed text alone, not from the ticket's state; the ticket is unchanged by asking."""
    browser, phone, ticket_id = await begin(authsvc, http, phones, scan=False)
    png, svg = (authsvc.url + browser.ticket[k] for k in ("png_url", "svg_url"))
    assert "/api/tickets/" not in png
    pending = [await _image(http, png), await _image(http, svg)]
    await phone.scan(browser.ticket["qr_text"])
    async with unchanged(authsvc, ticket_id):
        scanned = [await _image(http, png), await _image(http, svg)]
    assert pending == scanned and pending[0][0] == 200


@pytest.mark.parametrize(
    "text",
    ["", "https://evil.example/phish", "x" * 5000, "http://127.0.0.1:1/q/AAAA"],
    ids=["empty", "foreign-url", "huge", "forged"],
)
async def test_qr_images_only_for_our_signed_text(
    authsvc: Broker, http: aiohttp.ClientSession, text: str
) -> None:
    """Anything but a QR text signed by this broker is 400 qr_invalid: no QR drawing service;
    nothing is stored or audited."""
    before = (await value_keys(authsvc, ""), len(await authsvc.store.audit_records(1000)))
    for kind in ("png", "svg"):
        async with http.get(f"{authsvc.url}/api/qr.{kind}?{urlencode({'text': text})}") as r:
            refused((r.status, await r.json()), 400, "qr_invalid")
    assert (await value_keys(authsvc, ""), len(await authsvc.store.audit_records(1000))) == before


async def test_the_old_ticket_image_routes_are_gone(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """/api/tickets/{id}/qr.png no longer exists: 404 for any id, live or not."""
    _, _, ticket_id = await begin(authsvc, http, phones, scan=False)
    for tid in (ticket_id, "nope"):
        async with http.get(f"{authsvc.url}/api/tickets/{tid}/qr.png") as response:
            refused((response.status, await response.json()), 404, "not_found")


async def test_every_page_has_a_strict_csp(authsvc: Broker, http: aiohttp.ClientSession) -> None:
    """The QR page, an error page and the logged-out page: no inline script, no framing (the
    embedded QR page only by the client's own origin)."""
    pages = {
        "qr": authsvc.url + "/authorize?" + urlencode({"client_id": "nobody"}),
        "logged-out": authsvc.url + "/end-session",
        "missing": authsvc.url + "/no-such-page",
    }
    for name, url in pages.items():
        async with http.get(url) as response:
            csp = response.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, name
        assert "unsafe-inline" not in csp, name
    from tests.security.test_limits import _authorize_params

    params = {**_authorize_params(), "display": "embedded"}
    async with http.get(authsvc.url + "/authorize", params=params) as response:
        assert response.status == 200
        csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors http://127.0.0.1:9" in csp and "script-src 'self'" in csp
