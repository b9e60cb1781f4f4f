"""Abuse limits, each proven by a bounded flood from 127.0.0.1 against a real authsvc (memory and
Redis): the refusal is 429 `rate_limited` with `Retry-After` (or WebSocket close 4429), and the
refused request stored nothing."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest

from authsvc.config import Limits
from authsvc.store.keys import code as code_name
from authsvc.store.records import secret_hash
from tests.conftest import PhoneFactory
from tests.security.helpers import StartServer, refused, unchanged, value_keys
from tests.support.browser import BrowserLogin, next_state, pkce_pair

FLOOD = 3


def _authorize_params() -> dict[str, str]:
    _, challenge = pkce_pair()
    return {
        "response_type": "code",
        "client_id": "hall",
        "redirect_uri": "http://127.0.0.1:9/cb",
        "scope": "openid",
        "state": "s",
        "nonce": "n",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }


async def test_authorize_is_rate_limited_per_ip(
    server: StartServer, http: aiohttp.ClientSession
) -> None:
    """The fourth /authorize a minute from one address: a 429 page with Retry-After and the
    stable code, and no authorization request remembered for it."""
    svc = await server(limits=Limits(authorize_per_ip_per_minute=FLOOD))
    for _ in range(FLOOD):
        async with http.get(svc.url + "/authorize", params=_authorize_params()) as response:
            assert response.status == 200
    before = await value_keys(svc, "authreq:")
    assert len(before) == FLOOD
    async with http.get(svc.url + "/authorize", params=_authorize_params()) as response:
        page = await response.text()
        assert response.status == 429 and response.headers["Retry-After"] == "60"
    assert "rate_limited" in page and "操作过于频繁" in page
    async with http.get(
        svc.url + "/authorize", params=_authorize_params(), headers={"Accept": "application/json"}
    ) as response:
        refused((response.status, await response.json()), 429, "rate_limited")
    assert await value_keys(svc, "authreq:") == before


async def test_token_is_rate_limited_per_ip(
    server: StartServer, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Past the /token limit, even a good code is refused 429 rate_limited (RFC 6749 §5.2 shape)
    with Retry-After, and the code is still there, unredeemed."""
    from tests.integration.test_oidc import code_of, confirmed_redirect

    svc = await server(limits=Limits(token_per_ip_per_minute=FLOOD))
    browser = BrowserLogin(svc.url, http)
    code = code_of(await confirmed_redirect(svc, http, phones, browser))
    form = {"grant_type": "authorization_code", "redirect_uri": browser.redirect_uri}
    auth = {"Authorization": aiohttp.encode_basic_auth("hall", "hall-secret")}
    for n in range(FLOOD):
        wrong = {**form, "code": f"guess-{n}", "code_verifier": browser.verifier}
        async with http.post(svc.url + "/token", data=wrong, headers=auth) as response:
            assert (response.status, (await response.json())["error"]) == (400, "invalid_grant")
    good = {**form, "code": code, "code_verifier": browser.verifier}
    async with http.post(svc.url + "/token", data=good, headers=auth) as response:
        body = await response.json()
        assert response.status == 429 and response.headers["Retry-After"] == "60"
    assert body["error"] == "rate_limited" and body["error_description"]
    assert await value_keys(svc, "code:") == {code_name(secret_hash(code))}
    assert await svc.store.issued_for_code(secret_hash(code)) is None


async def test_a_refused_token_request_counts_and_past_the_limit_is_429_first(
    server: StartServer, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Requests refused before any code is looked at (a wrong client secret, a bad grant
    type) count against the per-IP limit too; past it, even a wrong secret is answered 429,
    so the limit still bounds guessing a client's secret, and the good code stays unredeemed."""
    from tests.integration.test_oidc import code_of, confirmed_redirect

    svc = await server(limits=Limits(token_per_ip_per_minute=FLOOD))
    browser = BrowserLogin(svc.url, http)
    code = code_of(await confirmed_redirect(svc, http, phones, browser))
    form = {"grant_type": "authorization_code", "redirect_uri": browser.redirect_uri}
    good = {**form, "code": code, "code_verifier": browser.verifier}
    guess = {"Authorization": aiohttp.encode_basic_auth("hall", "guess")}
    right = {"Authorization": aiohttp.encode_basic_auth("hall", "hall-secret")}
    tries = [(good, guess), ({**good, "grant_type": "password"}, right), (good, guess)]
    answers = []
    for data, headers in [*tries, (good, guess)]:
        async with http.post(svc.url + "/token", data=data, headers=headers) as response:
            answers.append((response.status, (await response.json())["error"]))
    assert answers == [
        (401, "invalid_client"),
        (400, "unsupported_grant_type"),
        (401, "invalid_client"),
        (429, "rate_limited"),
    ]
    assert await value_keys(svc, "code:") == {code_name(secret_hash(code))}
    assert await svc.store.issued_for_code(secret_hash(code)) is None


async def _refused_handshake(http: aiohttp.ClientSession, url: str) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as error:
        await http.ws_connect(url)
    assert error.value.status == 429
    assert error.value.headers is not None and error.value.headers["Retry-After"] == "10"


async def test_sockets_per_ip_are_bounded(server: StartServer, http: aiohttp.ClientSession) -> None:
    """The fourth socket from one address is refused 429 before the upgrade; closing one makes
    room again; the ticket is unchanged."""
    svc = await server(limits=Limits(ws_per_ip=FLOOD, ws_per_ticket=10))
    browser = BrowserLogin(svc.url, http)
    await browser.start()
    url = svc.url + browser.ticket["ws_url"]
    async with unchanged(svc, browser.ticket["ticket_id"]):
        sockets = [await browser.socket() for _ in range(FLOOD)]
        for ws in sockets:
            assert (await next_state(ws))["state"] == "pending"
        await _refused_handshake(http, url)
        await sockets[0].close()
        again = await _eventually_connects(browser)
        assert (await next_state(again))["state"] == "pending"
    for ws in [*sockets, again]:
        await ws.close()


async def _eventually_connects(browser: BrowserLogin) -> aiohttp.ClientWebSocketResponse:
    """The server releases a closed socket's place when its handler ends: try a few times."""
    for _ in range(50):
        try:
            return await browser.socket()
        except aiohttp.WSServerHandshakeError:
            await asyncio.sleep(0.1)
    raise AssertionError("no room after a socket closed")


async def test_sockets_per_ticket_are_bounded_but_only_authenticated_ones_count(
    server: StartServer, http: aiohttp.ClientSession
) -> None:
    """An attacker's sockets without the secret do not use up a ticket's room; past the bound an
    authenticated socket is told rate_limited and closed 4429; the ticket is unchanged."""
    svc = await server(limits=Limits(ws_per_ticket=2, ws_per_ip=20))
    browser = BrowserLogin(svc.url, http)
    await browser.start()
    url = svc.url + browser.ticket["ws_url"]
    async with unchanged(svc, browser.ticket["ticket_id"]):
        lurkers = [await http.ws_connect(url) for _ in range(3)]  # never send the secret
        owners = [await browser.socket() for _ in range(2)]
        for ws in owners:
            assert (await next_state(ws))["state"] == "pending"
        third = await browser.socket()
        message = await next_state(third)
        assert message["type"] == "error" and message["error"] == "rate_limited"
        assert message["message"]["zh"] and message["message"]["en"]
        assert (await third.receive()).type is aiohttp.WSMsgType.CLOSE
        assert third.close_code == 4429
    for ws in [*lurkers, *owners, third]:
        await ws.close()


async def test_unauthenticated_sockets_are_capped(
    server: StartServer, http: aiohttp.ClientSession
) -> None:
    """Sockets that have not sent their secret are capped per process: the next one is refused
    429 before the upgrade; once one authenticates there is room again."""
    svc = await server(limits=Limits(ws_unauthenticated=FLOOD, ws_per_ip=20))
    browser = BrowserLogin(svc.url, http)
    await browser.start()
    url = svc.url + browser.ticket["ws_url"]
    silent = [await http.ws_connect(url) for _ in range(FLOOD)]
    async with unchanged(svc, browser.ticket["ticket_id"]):
        await _refused_handshake(http, url)
    await silent[0].send_json({"type": "auth", "secret": browser.ticket["browser_secret"]})
    assert (await next_state(silent[0]))["state"] == "pending"
    extra = await http.ws_connect(url)
    for ws in [*silent, extra]:
        await ws.close()


def test_close_code_is_documented() -> None:
    """docs/api.md names every close code the socket uses."""
    from pathlib import Path

    api = Path(__file__).parents[2].joinpath("docs", "api.md").read_text(encoding="utf-8")
    for code in ("4401", "4403", "4429"):
        assert re.search(rf"\b{code}\b", api), code
