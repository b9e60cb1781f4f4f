"""Number matching (binding the two devices, after the IETF cross-device BCP) for clients that
register it, through the real API on memory and Redis: the browser shows a two-digit number
after the scan, the phone is offered three, and only the right pick lets the login go on."""

from __future__ import annotations

import aiohttp

from mobile_sim import PhoneApp
from tests.conftest import PhoneFactory
from tests.security.helpers import StartServer, phone_refused, unchanged
from tests.support.browser import BrowserLogin, next_state, wait_for_state
from tests.support.servers import Broker

NUMBERED = {
    "client_id": "numbered",
    "client_secret": "numbered-secret",
    "name": {"zh": "数字核验大厅", "en": "Number-matching hall"},
    "redirect_uris": ["http://127.0.0.1:9/numbered"],
    "identities": ["personal"],
    "number_matching": True,
    "scopes": ["openid", "profile", "id_number", "account"],
}


async def _scanned(
    svc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> tuple[BrowserLogin, aiohttp.ClientWebSocketResponse, PhoneApp, str]:
    browser = BrowserLogin(
        svc.url, http, client_id="numbered", redirect_uri=NUMBERED["redirect_uris"][0]
    )
    await browser.start()
    ws = await browser.socket()
    assert "number" not in await next_state(ws)  # pending: nothing to show yet
    phone = await phones(svc.url)
    result = await phone.scan(browser.ticket["qr_text"])
    shown = (await wait_for_state(ws, "scanned"))["number"]
    choices = result.number_choices
    assert len(set(choices)) == 3 and all(len(c) == 2 and c.isdigit() for c in choices)
    assert shown in choices
    return browser, ws, phone, shown


async def test_right_number_lets_the_login_finish(
    server: StartServer, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The phone picks the number the browser shows: the login confirms and the code arrives."""
    svc = await server(extra_clients=[NUMBERED])
    _, ws, phone, shown = await _scanned(svc, http, phones)
    assert await phone.pick_number(shown) == {"matched": True}
    await phone.choose(phone.ticket.account("personal")["key"])
    await phone.face_check("pass")
    await phone.confirm()
    assert "code=" in (await wait_for_state(ws, "confirmed"))["redirect"]


async def test_wrong_number_rejects_the_ticket(
    server: StartServer, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A wrong pick: 403 number_mismatch, the ticket is rejected (the browser is told why), and
    no second pick or confirmation is possible."""
    svc = await server(extra_clients=[NUMBERED])
    browser, ws, phone, shown = await _scanned(svc, http, phones)
    wrong = next(c for c in phone.ticket.number_choices if c != shown)
    await phone_refused(phone.pick_number(wrong), 403, "number_mismatch")
    event = await wait_for_state(ws, "rejected")
    assert event["reason"] == "number_mismatch" and "number" not in event
    async with unchanged(svc, browser.ticket["ticket_id"]):
        await phone_refused(phone.pick_number(shown), 409, "ticket_state_conflict")
        await phone_refused(phone.confirm(), 409, "ticket_state_conflict")


async def test_confirm_without_the_number_is_refused(
    server: StartServer, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Account chosen and face passed, but no number picked: 403 number_match_required and the
    ticket is unchanged (no code minted)."""
    svc = await server(extra_clients=[NUMBERED])
    browser, _, phone, _ = await _scanned(svc, http, phones)
    await phone.choose(phone.ticket.account("personal")["key"])
    await phone.face_check("pass")
    async with unchanged(svc, browser.ticket["ticket_id"]):
        await phone_refused(phone.confirm(), 403, "number_match_required")


async def test_clients_without_number_matching_have_no_number(
    server: StartServer, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Without the registration there are no choices, no number, and the step is a conflict."""
    svc = await server()
    browser = BrowserLogin(svc.url, http)
    await browser.start()
    ws = await browser.socket()
    phone = await phones(svc.url)
    result = await phone.scan(browser.ticket["qr_text"])
    assert result.number_choices == [] and "number_choices" not in result.raw
    assert "number" not in await wait_for_state(ws, "scanned")
    async with unchanged(svc, browser.ticket["ticket_id"]):
        await phone_refused(phone.pick_number("42"), 409, "ticket_state_conflict")
