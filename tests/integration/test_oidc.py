"""authsvc as an OpenID Connect provider, driven by standard clients and mobile_sim."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import ECKey, KeySet

from authsvc.core.clock import FrozenClock
from tests.conftest import PhoneFactory
from tests.support.browser import BrowserLogin, wait_for_state
from tests.support.servers import Broker, running_authsvc


async def confirmed_redirect(
    broker: Broker,
    http: aiohttp.ClientSession,
    phones: PhoneFactory,
    browser: BrowserLogin,
    **login: Any,
) -> str:
    """Browser shows the QR, a phone logs in, the browser is pushed the redirect with the code."""
    if not browser.ticket:
        await browser.start(login.pop("identity", "personal"))
    ws = await browser.socket()
    phone = await phones(broker.url)
    await phone.login(browser.ticket["qr_text"], **login)
    event = await wait_for_state(ws, "confirmed")
    await ws.close()
    return str(event["redirect"])


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": aiohttp.encode_basic_auth(client_id, secret)}


def code_of(redirect: str) -> str:
    return parse_qs(urlsplit(redirect).query)["code"][0]


async def redeem(
    http: aiohttp.ClientSession, broker: Broker, browser: BrowserLogin, code: str, **form: str
) -> tuple[int, dict[str, Any]]:
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": browser.redirect_uri,
        "code_verifier": browser.verifier,
        **form,
    }
    headers = basic("hall", "hall-secret") if "client_id" not in form else {}
    async with http.post(broker.url + "/token", data=body, headers=headers) as response:
        return response.status, await response.json()


async def verify_id_token(
    http: aiohttp.ClientSession, broker: Broker, token: str
) -> dict[str, Any]:
    async with http.get(broker.url + "/jwks.json") as response:
        keys = KeySet.import_key_set(await response.json())
    return dict(jwt.decode(token, keys, algorithms=["ES256"]).claims)


async def test_discovery_names_every_endpoint(authsvc: Broker, http: aiohttp.ClientSession) -> None:
    """Discovery advertises code + PKCE S256 and our endpoints under the issuer."""
    async with http.get(authsvc.url + "/.well-known/openid-configuration") as response:
        meta = await response.json()
    assert meta["issuer"] == authsvc.url
    assert meta["code_challenge_methods_supported"] == ["S256"]
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
    ):
        assert meta[name].startswith(authsvc.url)


async def test_code_flow_gives_a_verified_id_token(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The code redeems once for an ID token with nonce, acr/amr, pairwise sub; userinfo agrees."""
    browser = BrowserLogin(authsvc.url, http)
    redirect = await confirmed_redirect(authsvc, http, phones, browser)
    status, body = await redeem(http, authsvc, browser, code_of(redirect))
    assert status == 200, body
    claims = await verify_id_token(http, authsvc, body["id_token"])
    assert (
        claims["iss"] == authsvc.url
        and claims["aud"] == "hall"
        and claims["nonce"] == browser.nonce
    )
    assert claims["amr"] == ["qr", "ecard", "hwk", "face"]
    assert claims["acr"] == "urn:qrauth:acr:ecard-qr-face"
    assert (
        claims["name"] == "张三"
        and claims["id_number"] == "11010519491231002X"
        and claims["role"] == "personal"
    )
    assert claims["sub"] != "11010519491231002X" and len(claims["sub"]) == 32
    async with http.get(
        authsvc.url + "/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    ) as response:
        info = await response.json()
    assert info["sub"] == claims["sub"] and info["name"] == "张三"
    ticket = await authsvc.store.get_ticket(browser.ticket["ticket_id"])
    assert ticket is not None and ticket.state == "consumed"


async def test_replayed_code_is_refused_and_revokes_its_tokens(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A code presented twice: invalid_grant, and the access token it issued stops working."""
    browser = BrowserLogin(authsvc.url, http)
    code = code_of(await confirmed_redirect(authsvc, http, phones, browser))
    _, first = await redeem(http, authsvc, browser, code)
    status, second = await redeem(http, authsvc, browser, code)
    assert status == 400 and second["error"] == "invalid_grant"
    async with http.get(
        authsvc.url + "/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"}
    ) as response:
        assert response.status == 401


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"code_verifier": "x" * 43}, 400, "invalid_grant"),
        ({"redirect_uri": "http://127.0.0.1:9/other"}, 400, "invalid_grant"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"client_id": "hall", "client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "nobody", "client_secret": "x"}, 401, "invalid_client"),
        ({"client_id": "spa"}, 400, "invalid_grant"),
    ],
    ids=[
        "wrong-verifier",
        "wrong-redirect",
        "wrong-grant",
        "bad-secret",
        "unknown-client",
        "other-client",
    ],
)
async def test_token_refusals(
    authsvc: Broker,
    http: aiohttp.ClientSession,
    phones: PhoneFactory,
    change: dict[str, str],
    status: int,
    error: str,
) -> None:
    """Every token-endpoint refusal has its RFC 6749 error code."""
    browser = BrowserLogin(authsvc.url, http)
    code = code_of(await confirmed_redirect(authsvc, http, phones, browser))
    got_status, body = await redeem(http, authsvc, browser, code, **change)
    assert (got_status, body["error"]) == (status, error)


@pytest.mark.parametrize(("waited", "status"), [(59.9, 200), (60.0, 400)])
async def test_code_expires_on_the_brokers_clock(
    tmp_path: Path,
    http: aiohttp.ClientSession,
    phones: PhoneFactory,
    store_kind: str,
    redis_prefix: str,
    waited: float,
    status: int,
) -> None:
    """Codes are short-lived (code_ttl 60 s, on the injected clock; no waiting): redeemed just
    before its expiry it works, at its expiry it is invalid_grant — and then nothing was
    issued."""
    clock = FrozenClock(time.time())
    async with running_authsvc(
        tmp_path, store_kind=store_kind, prefix=redis_prefix, clock=clock, code_ttl=60.0
    ) as broker:
        browser = BrowserLogin(broker.url, http)
        code = code_of(await confirmed_redirect(broker, http, phones, browser))
        clock.advance(waited)
        got, body = await redeem(http, broker, browser, code)
        issued = await broker.store.issued_for_ticket(browser.ticket["ticket_id"])
    if status == 400:
        assert (got, body["error"]) == (400, "invalid_grant")
        assert issued is None
    else:
        assert got == 200 and "id_token" in body
        assert issued is not None


async def test_authorization_request_expires_on_the_brokers_clock(
    tmp_path: Path, http: aiohttp.ClientSession, store_kind: str, redis_prefix: str
) -> None:
    """The QR page's authorization request lives 30 minutes on the injected clock: a ticket
    asked for at that moment is refused invalid_request, and no ticket was made."""
    clock = FrozenClock(time.time())
    async with running_authsvc(
        tmp_path, store_kind=store_kind, prefix=redis_prefix, clock=clock
    ) as broker:
        browser = BrowserLogin(broker.url, http)
        await browser.open_page("personal")
        clock.advance(1799.0)
        await browser.new_ticket("personal")
        clock.advance(1.0)
        before = await broker.store.audit_records(1000)
        async with http.post(
            broker.url + "/api/tickets", json={"request": browser.request_id}
        ) as response:
            body = await response.json()
        assert await broker.store.audit_records(1000) == before
    assert (response.status, body["error"]) == (400, "invalid_request")


async def test_client_secret_post_works(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """client_secret_post authenticates as well as Basic."""
    browser = BrowserLogin(authsvc.url, http)
    code = code_of(await confirmed_redirect(authsvc, http, phones, browser))
    status, body = await redeem(
        http, authsvc, browser, code, client_id="hall", client_secret="hall-secret"
    )
    assert status == 200 and "id_token" in body


async def test_public_client_uses_pkce_only(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A public client (no secret) redeems with its client_id and the PKCE verifier."""
    browser = BrowserLogin(
        authsvc.url,
        http,
        client_id="spa",
        redirect_uri="http://127.0.0.1:9/spa",
        scope="openid profile",
    )
    code = code_of(await confirmed_redirect(authsvc, http, phones, browser))
    status, body = await redeem(http, authsvc, browser, code, client_id="spa")
    assert (
        status == 200 and (await verify_id_token(http, authsvc, body["id_token"]))["aud"] == "spa"
    )


@pytest.fixture
async def keyed_broker(tmp_path: Path) -> AsyncIterator[tuple[Broker, ECKey]]:
    key = ECKey.generate_key("P-256", parameters={"kid": "rp-key-1"})
    client = {
        "client_id": "keyed",
        "name": {"zh": "密钥客户端", "en": "Keyed"},
        "redirect_uris": ["http://127.0.0.1:9/keyed"],
        "jwks": {"keys": [key.as_dict(private=False)]},
        "identities": ["personal"],
        "scopes": ["openid", "profile", "id_number", "account"],
    }
    async with running_authsvc(tmp_path, extra_clients=[client]) as broker:
        yield broker, key


def assertion(broker: Broker, key: ECKey, **override: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": "keyed",
        "sub": "keyed",
        "aud": broker.url + "/token",
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(12),
        **override,
    }
    return jwt.encode({"alg": "ES256", "kid": "rp-key-1"}, claims, key)


async def test_private_key_jwt_authenticates_once_per_assertion(
    keyed_broker: tuple[Broker, ECKey], http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """private_key_jwt works; the same assertion replayed is invalid_client."""
    broker, key = keyed_broker
    proof = assertion(broker, key)
    form = {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": proof,
    }
    browser = BrowserLogin(
        broker.url, http, client_id="keyed", redirect_uri="http://127.0.0.1:9/keyed"
    )
    code = code_of(await confirmed_redirect(broker, http, phones, browser))
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": browser.redirect_uri,
        "code_verifier": browser.verifier,
        **form,
    }
    async with http.post(broker.url + "/token", data=body) as response:
        assert response.status == 200, await response.text()
    async with http.post(broker.url + "/token", data=body) as response:
        assert (response.status, (await response.json())["error"]) == (401, "invalid_client")


async def test_private_key_jwt_with_wrong_audience_or_key_is_refused(
    keyed_broker: tuple[Broker, ECKey], http: aiohttp.ClientSession
) -> None:
    """An assertion for another audience, or signed by another key, does not authenticate."""
    broker, key = keyed_broker
    other = ECKey.generate_key("P-256", parameters={"kid": "rp-key-1"})
    for proof in (assertion(broker, key, aud="https://elsewhere/token"), assertion(broker, other)):
        form = {
            "grant_type": "authorization_code",
            "code": "x",
            "client_assertion": proof,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        }
        async with http.post(broker.url + "/token", data=form) as response:
            assert (response.status, (await response.json())["error"]) == (401, "invalid_client")


async def test_tokens_signed_before_rotation_still_verify(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """After `keys rotate token` the JWKS keeps the old key; after retire it is gone."""
    from authsvc.keyring import Purpose

    browser = BrowserLogin(authsvc.url, http)
    _, body = await redeem(
        http, authsvc, browser, code_of(await confirmed_redirect(authsvc, http, phones, browser))
    )
    keyring = authsvc.broker.keyring
    old = keyring.current_record(Purpose.TOKEN)
    keyring.rotate(Purpose.TOKEN, now=time.time(), grace=3600)
    assert (await verify_id_token(http, authsvc, body["id_token"]))["aud"] == "hall"
    keyring.retire(old.kid)
    with pytest.raises(InvalidKeyIdError):
        await verify_id_token(http, authsvc, body["id_token"])


async def test_end_session_revokes_and_notifies_back_channel(
    tmp_path: Path, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """RP-initiated logout revokes the login's tokens, posts a logout token to the back channel,
    and redirects only to a registered post-logout URI."""
    received: list[str] = []

    async def backchannel(request: aiohttp.web.Request) -> aiohttp.web.Response:
        received.append(str((await request.post())["logout_token"]))
        return aiohttp.web.Response()

    from aiohttp import web

    from tests.support.servers import free_socket

    sock = free_socket()
    app = web.Application()
    app.router.add_post("/bcl", backchannel)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    client = {
        "client_id": "bcl",
        "client_secret": "bcl-secret",
        "name": "BCL",
        "redirect_uris": ["http://127.0.0.1:9/bcl"],
        "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"],
        "identities": ["personal"],
        "scopes": ["openid", "profile", "id_number", "account"],
        "backchannel_logout_uri": f"http://127.0.0.1:{sock.getsockname()[1]}/bcl",
    }
    try:
        async with running_authsvc(tmp_path, extra_clients=[client]) as broker:
            browser = BrowserLogin(
                broker.url, http, client_id="bcl", redirect_uri="http://127.0.0.1:9/bcl"
            )
            code = code_of(await confirmed_redirect(broker, http, phones, browser))
            form = {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": browser.redirect_uri,
                "code_verifier": browser.verifier,
            }
            async with http.post(
                broker.url + "/token", data=form, headers=basic("bcl", "bcl-secret")
            ) as response:
                tokens = await response.json()
            params = {
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": "http://127.0.0.1:9/bye",
                "state": "s1",
            }
            async with http.get(
                broker.url + "/end-session", params=params, allow_redirects=False
            ) as response:
                assert (
                    response.status == 302
                    and response.headers["Location"] == "http://127.0.0.1:9/bye?state=s1"
                )
            async with http.get(
                broker.url + "/userinfo",
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
            ) as response:
                assert response.status == 401
            evil = {**params, "post_logout_redirect_uri": "https://evil.example/"}
            async with http.get(
                broker.url + "/end-session", params=evil, allow_redirects=False
            ) as response:
                assert response.status == 200 and "Location" not in response.headers
            id_claims = await verify_id_token(http, broker, tokens["id_token"])
            logout_claims = await verify_id_token(http, broker, received[0])
    finally:
        await runner.cleanup()
    assert logout_claims["sid"] == id_claims["sid"] and logout_claims["aud"] == "bcl"
    assert "http://schemas.openid.net/event/backchannel-logout" in logout_claims["events"]
