"""The broker's login, end to end over real HTTP and WebSockets, on memory and on Redis."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from authsvc.core import tickets
from mobile_sim import PhoneError
from tests.conftest import PhoneFactory
from tests.support.browser import BrowserLogin, next_state, wait_for_state
from tests.support.servers import Broker


async def test_browser_is_pushed_scanned_then_confirmed_with_code(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The browser holding the secret sees pending → scanned (masked name) → confirmed + code."""
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    ws = await browser.socket()
    assert (await next_state(ws))["state"] == "pending"
    phone = await phones(authsvc.url)
    result = await phone.scan(browser.ticket["qr_text"])
    assert result.client["name"]["zh"] == "测试服务大厅"
    scanned = await wait_for_state(ws, "scanned")
    assert scanned["name"] == "张*"
    await phone.choose(result.account("personal")["key"])
    await phone.face_check()
    await phone.confirm()
    confirmed = await wait_for_state(ws, "confirmed")
    query = parse_qs(urlsplit(confirmed["redirect"]).query)
    assert confirmed["redirect"].startswith("http://127.0.0.1:9/cb?")
    assert query["state"] == [browser.state] and query["iss"] == [authsvc.url]
    assert len(query["code"][0]) >= 43
    await ws.close()


async def test_second_phone_gets_already_scanned_and_nothing_changes(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """First scan wins; a second phone is refused with 二维码已被扫描."""
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    first = await phones(authsvc.url)
    second = await phones(authsvc.url, name="李四", id_number="110105194912310038")
    await first.scan(browser.ticket["qr_text"])
    before = await authsvc.store.get_ticket(browser.ticket["ticket_id"])
    with pytest.raises(PhoneError) as refused:
        await second.scan(browser.ticket["qr_text"])
    assert refused.value.code == "ticket_already_scanned" and refused.value.zh == "二维码已被扫描"
    assert await authsvc.store.get_ticket(browser.ticket["ticket_id"]) == before


async def test_reconnect_gets_the_current_state(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A change made while the browser was away is the first thing it hears on reconnect."""
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    ws = await browser.socket()
    await next_state(ws)
    await ws.close()
    phone = await phones(authsvc.url)
    await phone.scan(browser.ticket["qr_text"])
    again = await browser.socket()
    assert (await next_state(again))["state"] == "scanned"
    await again.close()


async def test_wrong_secret_learns_nothing(authsvc: Broker, http: aiohttp.ClientSession) -> None:
    """Without the browser secret the socket is closed with an error and no ticket state."""
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    ws = await browser.socket(secret="not-the-secret")
    error = await next_state(ws)
    assert error["type"] == "error" and error["error"] == "browser_secret_invalid"
    assert "state" not in error
    closing = await ws.receive(timeout=5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == 4403


async def test_unknown_ticket_and_wrong_secret_look_the_same(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """Whether a ticket exists is itself a secret."""
    async with http.post(
        f"{authsvc.url}/api/tickets/nosuchticket/poll", json={"secret": "x"}
    ) as unknown:
        body_unknown = await unknown.json()
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    async with http.post(authsvc.url + browser.ticket["poll_url"], json={"secret": "x"}) as wrong:
        body_wrong = await wrong.json()
    assert unknown.status == wrong.status == 403
    assert body_unknown["error"] == body_wrong["error"] == "browser_secret_invalid"


async def test_long_poll_gives_the_same_events(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The fallback for networks without WebSockets returns each change by version, as the
    socket does: pending, scanned, then (the account and the face check change nothing it
    shows) confirmed with the redirect. What a waiting poll returns is the stored ticket's
    event, exactly as a fresh read would give it."""
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    poll = authsvc.url + browser.ticket["poll_url"]
    secret = browser.ticket["browser_secret"]

    async def polled(version: int) -> dict[str, Any]:
        async with http.post(poll, json={"secret": secret, "version": version}) as response:
            assert response.status == 200
            return dict(await response.json())

    first = await polled(0)
    assert first["state"] == "pending"
    phone = await phones(authsvc.url)
    waiter = asyncio.create_task(polled(first["version"]))
    await asyncio.sleep(0.2)
    result = await phone.scan(browser.ticket["qr_text"])
    second = await waiter
    assert second["state"] == "scanned" and second["version"] > first["version"]
    waiter = asyncio.create_task(polled(second["version"]))
    await asyncio.sleep(0.2)  # the poll is waiting
    await phone.choose(result.account("personal")["key"])
    await phone.face_check()
    await asyncio.sleep(0.2)
    assert not waiter.done()  # neither woke it
    await phone.confirm()
    third = await waiter
    stored = await authsvc.store.get_ticket(browser.ticket["ticket_id"])
    assert stored is not None and third == {"type": "state", **tickets.event(stored)}
    assert third["state"] == "confirmed" and "code=" in third["redirect"]


async def test_phone_reject_is_pushed(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """取消 on the phone reaches the browser as rejected."""
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    ws = await browser.socket()
    phone = await phones(authsvc.url)
    await phone.scan(browser.ticket["qr_text"])
    await phone.reject()
    rejected = await wait_for_state(ws, "rejected")
    assert rejected["reason"] == "user_rejected"


async def test_face_failures_are_bounded(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Two failed face checks may be retried; the third rejects the ticket."""
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    ws = await browser.socket()
    phone = await phones(authsvc.url)
    result = await phone.scan(browser.ticket["qr_text"])
    await phone.choose(result.account("personal")["key"])
    for expected in ("face_check_failed", "face_check_failed", "face_check_exhausted"):
        with pytest.raises(PhoneError) as failed:
            await phone.face_check("fail")
        assert failed.value.code == expected
    event = await wait_for_state(ws, "rejected")
    assert event["reason"] == "face_check_exhausted"
    with pytest.raises(PhoneError) as late:
        await phone.confirm()
    assert late.value.code == "ticket_state_conflict"


async def test_face_check_then_retry_passes(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A failed face check followed by a pass confirms the login."""
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    ws = await browser.socket()
    phone = await phones(authsvc.url)
    result = await phone.scan(browser.ticket["qr_text"])
    await phone.choose(result.account("personal")["key"])
    with pytest.raises(PhoneError):
        await phone.face_check("fail")
    assert (await phone.face_check())["failures_left"] == 2
    await phone.confirm()
    await wait_for_state(ws, "confirmed")


async def test_switching_identity_makes_a_new_ticket(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """The identity switch below the QR renews the QR for the chosen identity."""
    browser = BrowserLogin(authsvc.url, http)
    await browser.open_page("personal")
    first = await browser.new_ticket("personal")
    second = await browser.new_ticket("agent")
    assert first["ticket_id"] != second["ticket_id"] and first["qr_text"] != second["qr_text"]
    stored = await authsvc.store.get_ticket(second["ticket_id"])
    assert stored is not None and stored.identity == "agent"


async def test_identity_a_client_does_not_accept_is_refused(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """A personal-only client cannot be asked for a legal-representative login."""
    browser = BrowserLogin(
        authsvc.url,
        http,
        client_id="spa",
        redirect_uri="http://127.0.0.1:9/spa",
        scope="openid profile",
    )
    await browser.open_page("personal")
    async with http.post(
        authsvc.url + "/api/tickets", json={"request": browser.request_id, "identity": "legal_rep"}
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "identity_not_allowed"


async def test_qr_images_decode_to_the_qr_text(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """The PNG and SVG endpoints draw exactly the signed QR text, at version ≤ 10. The ticket
    itself carries the text and no image: the page draws it (tests/e2e/test_qr_draw.py)."""
    import io

    import zxingcpp
    from PIL import Image

    browser = BrowserLogin(authsvc.url, http)
    ticket = await browser.start()
    assert not any(isinstance(v, str) and v.startswith("data:") for v in ticket.values())
    async with http.get(authsvc.url + ticket["png_url"]) as response:
        png = await response.read()
    decoded = zxingcpp.read_barcode(Image.open(io.BytesIO(png)))
    assert decoded is not None and decoded.text == ticket["qr_text"]
    assert decoded.ec_level == "M"
    async with http.get(authsvc.url + ticket["svg_url"]) as response:
        svg = await response.text()
    assert svg.startswith("<svg") and 'viewBox="-4 -4 61 61"' in svg  # 53 modules: version 9


async def test_audit_records_every_transition(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Created, scanned and confirmed are audit events with the ticket's context; the
    confirmation's record says the code was issued (one record, written with the transition)."""
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    phone = await phones(authsvc.url)
    await phone.login(browser.ticket["qr_text"])
    records = [
        r
        for r in await authsvc.store.audit_records(200)
        if r.get("ticket") == browser.ticket["ticket_id"]
    ]
    outcomes = [r["outcome"] for r in records]
    assert outcomes[0] == "created" and "scanned" in outcomes and outcomes[-1] == "confirmed"
    assert records[-1]["code"] == "issued" and records[-1]["card"]
    assert all(
        r["client"] == "hall" and r["browser_ip"] == "127.0.0.1"
        for r in records
        if r["event"] == "ticket"
    )


async def test_health_readiness_and_metrics(authsvc: Broker, http: aiohttp.ClientSession) -> None:
    """/healthz, /readyz (store reachable) and Prometheus /metrics answer."""
    async with http.get(authsvc.url + "/healthz") as response:
        assert response.status == 200
    async with http.get(authsvc.url + "/readyz") as response:
        assert (await response.json())["store"] == authsvc.store.name
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    ws = await browser.socket()
    await next_state(ws)
    async with http.get(authsvc.url + "/metrics") as response:
        text = await response.text()
    assert 'qrauth_ticket_transitions_total{state="pending"} 1.0' in text
    assert "qrauth_websockets_active 1.0" in text
    await ws.close()
