"""Behind trusted proxies the browser's address is the rightmost X-Forwarded-For entry not in
AUTHSVC_TRUSTED_PROXIES — shown on the phone and the key of the per-IP limits; without them,
and from anywhere else, the header is ignored. Real authsvc, memory and Redis."""

from __future__ import annotations

import json

import aiohttp

from authsvc.config import Limits
from authsvc.core.forwarded import parse_networks
from tests.conftest import PhoneFactory
from tests.security.helpers import StartServer, post, refused
from tests.support.browser import BrowserLogin
from tests.support.servers import Broker


async def _ticket(
    http: aiohttp.ClientSession, browser: BrowserLogin, forwarded: str
) -> tuple[int, dict]:
    body = json.dumps({"request": browser.request_id, "identity": "personal"}).encode()
    headers = {"X-Forwarded-For": forwarded, "Content-Type": "application/json"}
    return await post(http, browser.base + "/api/tickets", body, headers)


async def _created(svc: Broker) -> int:
    records = await svc.store.audit_records(1000)
    return len([r for r in records if r.get("outcome") == "created"])


async def test_the_rightmost_untrusted_address_is_the_browser(
    server: StartServer, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A client-chosen leftmost entry is ignored: the phone is shown what our proxy saw."""
    svc = await server(trusted_proxies=parse_networks("127.0.0.1/32"))
    browser = BrowserLogin(svc.url, http)
    await browser.open_page()
    status, ticket = await _ticket(http, browser, "6.6.6.6, 203.0.113.9")
    assert status == 201
    stored = await svc.store.get_ticket(ticket["ticket_id"])
    assert stored is not None and stored.browser_ip == "203.0.113.9"
    phone = await phones(svc.url)
    assert (await phone.scan(ticket["qr_text"])).browser["ip"] == "203.0.113.9"


async def test_without_trusted_proxies_the_header_is_ignored(
    server: StartServer, http: aiohttp.ClientSession
) -> None:
    """By default X-Forwarded-For is the client's word and changes nothing."""
    svc = await server()
    browser = BrowserLogin(svc.url, http)
    await browser.open_page()
    status, ticket = await _ticket(http, browser, "203.0.113.9")
    stored = await svc.store.get_ticket(ticket["ticket_id"])
    assert status == 201 and stored is not None and stored.browser_ip == "127.0.0.1"


async def test_limits_count_the_browser_not_what_it_claims(
    server: StartServer, http: aiohttp.ClientSession
) -> None:
    """Per-IP limits key on the derived address: changing the forged prefix does not dodge
    them, while another browser behind the same proxy has its own allowance."""
    svc = await server(
        trusted_proxies=parse_networks("127.0.0.1/32"),
        limits=Limits(tickets_per_ip_per_minute=2),
    )
    browser = BrowserLogin(svc.url, http)
    await browser.open_page()
    for forged in ("1.1.1.1", "2.2.2.2"):
        assert (await _ticket(http, browser, f"{forged}, 203.0.113.9"))[0] == 201
    created = await _created(svc)
    refused(await _ticket(http, browser, "3.3.3.3, 203.0.113.9"), 429, "rate_limited")
    assert await _created(svc) == created  # the refused request made no ticket
    assert (await _ticket(http, browser, "203.0.113.10"))[0] == 201
