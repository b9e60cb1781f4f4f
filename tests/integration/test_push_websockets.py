"""Push checked against a second WebSocket implementation: the `websockets` library's client (not
aiohttp's) drives authsvc's aiohttp server through a login, a refusal and a forbidden origin, on
memory and on Redis. Framing, masking, close codes and the auth-first handshake are all
exercised by code that shares nothing with the server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import PhoneFactory
from tests.support.browser import BrowserLogin
from tests.support.servers import Broker


def ws_url(broker: Broker, browser: BrowserLogin) -> str:
    return broker.url.replace("http://", "ws://", 1) + browser.ticket["ws_url"]


async def receive(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.recv(decode=True), timeout)
    assert isinstance(message, str), message
    body: dict[str, Any] = json.loads(message)
    return body


async def until(ws: ClientConnection, state: str) -> dict[str, Any]:
    while (event := await receive(ws))["state"] != state:
        pass
    return event


async def test_a_login_is_pushed_to_an_independent_client(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """pending → scanned (masked name) → confirmed with the code, and nothing else: choosing the
    account and the face check change nothing the browser shows, so it is not told of them.
    The closing handshake is clean."""
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    async with connect(ws_url(authsvc, browser), open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "auth", "secret": browser.ticket["browser_secret"]}))
        first = await receive(ws)
        assert (first["type"], first["state"]) == ("state", "pending")
        phone = await phones(authsvc.url)
        result = await phone.scan(browser.ticket["qr_text"])
        scanned = await receive(ws)
        assert (scanned["state"], scanned["name"]) == ("scanned", "张*")
        await phone.choose(result.account("personal")["key"], with_face_check=True)
        await phone.face_check("pass")
        await phone.confirm()
        confirmed = await receive(ws)
        assert confirmed["state"] == "confirmed", confirmed
        assert confirmed["version"] == scanned["version"] + 2  # the silent account + face commit
        assert confirmed["redirect"].startswith("http://127.0.0.1:9/cb?code=")
        await ws.close()
    assert ws.close_code == 1000


async def test_the_browsers_offer_of_compression_is_declined(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """The client offers permessage-deflate, as every browser does; authsvc answers without it
    (a compressor per socket costs ~94 KiB for frames of a few hundred bytes), and the frames
    come uncompressed."""
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    async with connect(ws_url(authsvc, browser), open_timeout=10) as ws:
        assert ws.request is not None and ws.response is not None
        assert "permessage-deflate" in ws.request.headers["Sec-WebSocket-Extensions"]
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        await ws.send(json.dumps({"type": "auth", "secret": browser.ticket["browser_secret"]}))
        assert (await receive(ws))["state"] == "pending"


async def test_a_wrong_secret_is_closed_with_4403_and_no_state(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """The server's error message, then close code 4403; the ticket is untouched."""
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    before = await authsvc.store.get_ticket(browser.ticket["ticket_id"])
    async with connect(ws_url(authsvc, browser), open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "auth", "secret": "not-the-secret"}))
        error = await receive(ws)
        assert (error["type"], error["error"]) == ("error", "browser_secret_invalid")
        assert "state" not in error
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    assert await authsvc.store.get_ticket(browser.ticket["ticket_id"]) == before


async def test_a_socket_that_never_authenticates_is_closed_with_4401(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """A first message that is not `auth` ends the socket with 4401."""
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    async with connect(ws_url(authsvc, browser), open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "hello"}))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_a_foreign_origin_is_refused_before_the_upgrade(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """Origin not the issuer's or a client's: HTTP 403 forbidden_origin, no WebSocket."""
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            ws_url(authsvc, browser), origin="https://evil.example", open_timeout=10
        ):
            pass
    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body)["error"] == "forbidden_origin"
