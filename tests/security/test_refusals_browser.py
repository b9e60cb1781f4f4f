"""Refusals on the browser side (long-poll, WebSocket, ticket creation, /authorize), against a real
authsvc on memory and on Redis: status, stable code, zh and en messages, and nothing changed."""

from __future__ import annotations

import json
import secrets
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from authsvc.config import Limits
from authsvc.core import tickets
from authsvc.core.crypto import b64u
from tests.conftest import PhoneFactory
from tests.security.helpers import (
    StartServer,
    begin,
    phone_refused,
    post,
    refused,
    scan_path,
    signed,
    unchanged,
)
from tests.support.browser import BrowserLogin, next_state
from tests.support.servers import Broker

WRONG_SECRETS = {
    "other": ("not-the-secret", 403, "browser_secret_invalid"),
    "truncated": (None, 403, "browser_secret_invalid"),
    "non-ASCII": ("秘密", 403, "browser_secret_invalid"),
    "empty": ("", 400, "invalid_request"),
    "too long": ("x" * 129, 400, "invalid_request"),
}


@pytest.mark.parametrize("case", list(WRONG_SECRETS))
async def test_long_poll_with_a_wrong_secret_is_refused(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory, case: str
) -> None:
    """Long-poll without the exact browser secret is refused and reveals no state."""
    browser, _, tid = await begin(authsvc, http, phones)
    secret, status, code = WRONG_SECRETS[case]
    secret = browser.ticket["browser_secret"][:-1] if secret is None else secret
    body = json.dumps({"secret": secret, "version": 0}).encode()
    async with unchanged(authsvc, tid):
        reply = await post(http, authsvc.url + browser.ticket["poll_url"], body)
        assert "state" not in refused(reply, status, code)


async def test_websocket_with_a_wrong_secret_is_refused(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A socket authenticating with a wrong secret gets the error (no state), then close 4403."""
    browser, _, tid = await begin(authsvc, http, phones)
    async with unchanged(authsvc, tid):
        ws = await browser.socket(secret="not-the-secret")
        error = await next_state(ws)
        assert error["type"] == "error" and "state" not in error and "name" not in error
        refused((403, error), 403, "browser_secret_invalid")
        await ws.receive(timeout=5)
        assert ws.close_code == 4403


async def test_ticket_creation_is_rate_limited_per_ip(
    server: StartServer, http: aiohttp.ClientSession
) -> None:
    """The fourth ticket a minute from one IP is 429 rate_limited with Retry-After, whatever its
    body (a good one, one that is not JSON, one naming no request), and no ticket is created."""
    svc = await server(limits=Limits(tickets_per_ip_per_minute=3))
    browser = BrowserLogin(svc.url, http)
    await browser.open_page()
    for _ in range(3):
        await browser.new_ticket()
    good = json.dumps({"request": browser.request_id, "identity": "personal"}).encode()
    for body in (good, b"{", b"{}"):
        async with http.post(svc.url + "/api/tickets", data=body) as response:
            assert response.headers["Retry-After"] == "60"
            refused((response.status, await response.json()), 429, "rate_limited")
    created = [r for r in await svc.store.audit_records(1000) if r.get("outcome") == "created"]
    assert len(created) == 3


async def test_a_ticket_request_refused_for_its_body_counts_toward_the_limit(
    server: StartServer, http: aiohttp.ClientSession
) -> None:
    """A body that is not JSON, or names no request, is refused as it is and counted: with a
    limit of two, a good request after them is 429 and creates nothing."""
    svc = await server(limits=Limits(tickets_per_ip_per_minute=2))
    browser = BrowserLogin(svc.url, http)
    await browser.open_page()
    refused(await post(http, svc.url + "/api/tickets", b"{"), 400, "malformed_json")
    refused(await post(http, svc.url + "/api/tickets", b"{}"), 400, "invalid_request")
    good = json.dumps({"request": browser.request_id, "identity": "personal"}).encode()
    refused(await post(http, svc.url + "/api/tickets", good), 429, "rate_limited")
    assert not [r for r in await svc.store.audit_records(1000) if r.get("outcome") == "created"]


async def test_a_ticket_refused_on_a_recalled_request_counts_toward_the_limit(
    server: StartServer, http: aiohttp.ClientSession
) -> None:
    """The broker recalls the authorization request it saved at /authorize and counts the hit
    with the ticket it creates; a ticket refused on that request (an unknown identity) is
    decided again on a real read, which counts it: with a limit of one, the good one after it
    is 429 and creates nothing."""
    svc = await server(limits=Limits(tickets_per_ip_per_minute=1))
    browser = BrowserLogin(svc.url, http)
    await browser.open_page()
    odd = json.dumps({"request": browser.request_id, "identity": "martian"}).encode()
    refused(await post(http, svc.url + "/api/tickets", odd), 400, "invalid_request")
    good = json.dumps({"request": browser.request_id, "identity": "personal"}).encode()
    refused(await post(http, svc.url + "/api/tickets", good), 429, "rate_limited")
    assert not [r for r in await svc.store.audit_records(1000) if r.get("outcome") == "created"]


async def test_scans_are_rate_limited_per_device(
    server: StartServer, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Past the per-device scan limit, a scan is 429 rate_limited and leaves the ticket pending."""
    svc = await server(limits=Limits(scans_per_device_per_minute=2))
    phone = await phones(svc.url)
    browser = BrowserLogin(svc.url, http)
    await browser.open_page()
    for _ in range(2):
        await phone.scan((await browser.new_ticket())["qr_text"])
    third = await browser.new_ticket()
    async with unchanged(svc, third["ticket_id"]) as before:
        await phone_refused(phone.scan(third["qr_text"]), 429, "rate_limited")
    assert before.state is tickets.State.PENDING


async def test_a_replayed_scan_does_not_use_up_the_devices_scans(
    server: StartServer, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Someone replaying a captured signed scan is refused request_replayed, and it is not
    counted: the phone's own next scan still fits in its limit of two a minute."""
    svc = await server(limits=Limits(scans_per_device_per_minute=2))
    phone = await phones(svc.url)
    browser = BrowserLogin(svc.url, http)
    await browser.open_page()
    first = await browser.new_ticket()
    body = json.dumps({"qr": first["qr_text"]}).encode()
    path = scan_path(first["ticket_id"])
    headers = signed(phone, path, body)
    scanned = await post(http, svc.url + path, body, headers)
    assert scanned[0] == 200, scanned
    for _ in range(3):
        refused(await post(http, svc.url + path, body, headers), 401, "request_replayed")
    await phone.scan((await browser.new_ticket())["qr_text"])


async def test_a_scan_past_the_limit_spends_its_nonce_first(
    server: StartServer, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Past the per-device limit a fresh scan is 429 with Retry-After; the same signed request
    again is request_replayed (the nonce is checked first); the ticket stays pending."""
    svc = await server(limits=Limits(scans_per_device_per_minute=1))
    phone = await phones(svc.url)
    browser = BrowserLogin(svc.url, http)
    await browser.open_page()
    await phone.scan((await browser.new_ticket())["qr_text"])
    second = await browser.new_ticket()
    body = json.dumps({"qr": second["qr_text"]}).encode()
    path = scan_path(second["ticket_id"])
    headers = signed(phone, path, body)
    async with unchanged(svc, second["ticket_id"]) as before:
        async with http.post(svc.url + path, data=body, headers=headers) as response:
            assert response.headers["Retry-After"] == "60"
            refused((response.status, await response.json()), 429, "rate_limited")
        replayed = await post(http, svc.url + path, body, headers)
        refused(replayed, 401, "request_replayed")
    assert before.state is tickets.State.PENDING


async def test_websocket_from_a_foreign_origin_is_refused(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """An Origin not on the allow-list is refused at the upgrade: 403 forbidden_origin."""
    browser, _, tid = await begin(authsvc, http, phones)
    url = authsvc.url + browser.ticket["ws_url"]
    async with unchanged(authsvc, tid):
        with pytest.raises(aiohttp.WSServerHandshakeError) as handshake:
            await http.ws_connect(url, origin="http://evil.example")
        assert handshake.value.status == 403
        upgrade = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": b64u(secrets.token_bytes(16)) + "==",
            "Origin": "http://127.0.0.1:9.evil.example",
        }
        async with http.get(url, headers=upgrade) as response:
            body = refused((response.status, await response.json()), 403, "forbidden_origin")
            assert body["request_id"] == response.headers["X-Request-Id"]
            assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_websocket_refusals_before_the_upgrade_keep_the_error_shape(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The socket handler answers its own errors (no middleware frame around an idle socket):
    a plain GET, which cannot be upgraded, still gets the API error shape and headers."""
    browser, _, tid = await begin(authsvc, http, phones)
    async with unchanged(authsvc, tid):
        headers = {"X-Request-Id": "rid-ws-plain-get"}
        async with http.get(authsvc.url + browser.ticket["ws_url"], headers=headers) as response:
            body = refused((response.status, await response.json()), 400, "invalid_request")
            assert body["request_id"] == response.headers["X-Request-Id"] == "rid-ws-plain-get"
            assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_websocket_that_does_not_authenticate_is_closed(
    server: StartServer, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A socket that sends no auth message within ws_auth_timeout is closed with 4401."""
    svc = await server(limits=Limits(ws_auth_timeout=0.5))
    browser, _, tid = await begin(svc, http, phones)
    async with unchanged(svc, tid):
        ws = await http.ws_connect(svc.url + browser.ticket["ws_url"])
        message = await ws.receive(timeout=30)
        assert message.type is aiohttp.WSMsgType.CLOSE and ws.close_code == 4401


@pytest.mark.parametrize("when", ["instead of auth", "after auth"])
async def test_oversized_websocket_message_closes_the_socket(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory, when: str
) -> None:
    """A message over ws_max_message_bytes closes the socket (1009) and changes nothing."""
    browser, _, tid = await begin(authsvc, http, phones)
    big = json.dumps({"type": "auth", "secret": "x" * authsvc.settings.limits.ws_max_message_bytes})
    async with unchanged(authsvc, tid):
        if when == "after auth":
            ws = await browser.socket()
            assert (await next_state(ws))["state"] == "scanned"
        else:
            ws = await http.ws_connect(authsvc.url + browser.ticket["ws_url"])
        await ws.send_str(big)
        while (await ws.receive(timeout=10)).type not in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
        ):
            pass
        assert ws.close_code == 1009


async def test_deeply_nested_auth_message_is_unauthorized(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A small but deeply nested JSON auth message is refused like any malformed one: 4401."""
    browser, _, tid = await begin(authsvc, http, phones)
    async with unchanged(authsvc, tid):
        ws = await http.ws_connect(authsvc.url + browser.ticket["ws_url"])
        await ws.send_str("[" * 2000)
        await ws.receive(timeout=10)
        assert ws.close_code == 4401


@pytest.mark.parametrize(
    ("client_id", "redirect_uri", "code"),
    [
        ("nobody", "http://127.0.0.1:9/cb", "unknown_client"),
        ("hall", "http://evil.example/cb", "invalid_request"),
        ("hall", "http://127.0.0.1:9/spa", "invalid_request"),
    ],
)
async def test_authorize_errors_before_redirect_verification_are_shown(
    authsvc: Broker, http: aiohttp.ClientSession, client_id: str, redirect_uri: str, code: str
) -> None:
    """Unknown client or unregistered redirect URI: an HTML error page (400), never a redirect."""
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": "openid",
        "state": "st",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
    }
    async with http.get(
        authsvc.url + "/authorize", params=params, allow_redirects=False
    ) as response:
        html = await response.text()
        assert response.status == 400 and "Location" not in response.headers
        assert response.content_type == "text/html" and code in html


async def test_authorize_without_pkce_redirects_an_error(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """A registered redirect URI without PKCE: 302 with error=invalid_request, state and iss."""
    params = {
        "client_id": "hall",
        "redirect_uri": "http://127.0.0.1:9/cb",
        "response_type": "code",
        "scope": "openid",
        "state": "st-42",
    }
    async with http.get(
        authsvc.url + "/authorize", params=params, allow_redirects=False
    ) as response:
        assert response.status == 302
        location = urlsplit(response.headers["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == "http://127.0.0.1:9/cb"
    assert query["error"] == ["invalid_request"] and query["state"] == ["st-42"]
    assert query["iss"] == [authsvc.url]


@pytest.mark.parametrize("scale", ["²", "9" * 5000])
async def test_odd_qr_scale_is_not_a_server_error(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory, scale: str
) -> None:
    """Any scale parameter gives an image or a 400, never a 500."""
    browser, _, _ = await begin(authsvc, http, phones, scan=False)
    async with http.get(
        authsvc.url + browser.ticket["png_url"], params={"scale": scale}
    ) as response:
        assert response.status < 500
