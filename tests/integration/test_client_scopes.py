"""What a portal may ask for: scopes checked against the registration before anything is
stored, and only registered claims released — in the ID token, at userinfo, and on the phone."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from mobile_sim import present
from tests.conftest import PhoneFactory
from tests.integration.test_oidc import code_of, redeem, verify_id_token
from tests.support.browser import BrowserLogin, pkce_pair, wait_for_state
from tests.support.servers import Broker, running_authsvc
from tests.support.snapshot import stored_keys

SPA = {"client_id": "spa", "redirect_uri": "http://127.0.0.1:9/spa"}


def authorize_params(scope: str, **extra: str) -> dict[str, str]:
    _, challenge = pkce_pair()
    return {
        "response_type": "code",
        **SPA,
        "scope": scope,
        "state": "st-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }


@pytest.mark.parametrize(
    "scope",
    [
        "openid id_number",
        "openid profile phone",
        "openid account",
        "openid profile id_number phone account",
        "openid profile email",
        "openid offline_access",
    ],
)
async def test_demo_spa_asking_for_more_than_registered_is_refused_before_storing(
    authsvc: Broker, http: aiohttp.ClientSession, redis_prefix: str, scope: str
) -> None:
    """A public SPA registered for `openid profile` asking for id_number (or any unregistered
    or unknown scope) is sent back invalid_scope to its verified redirect URI; nothing stored."""
    before = await stored_keys(authsvc.store, redis_prefix)
    async with http.get(
        authsvc.url + "/authorize", params=authorize_params(scope), allow_redirects=False
    ) as response:
        assert response.status == 302
        location = response.headers["Location"]
    assert location.startswith(SPA["redirect_uri"] + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == ["invalid_scope"] and query["state"] == ["st-1"]
    assert query["iss"] == [authsvc.url] and "code" not in query
    assert await stored_keys(authsvc.store, redis_prefix) == before


async def test_bad_scope_with_an_unregistered_redirect_uri_is_never_redirected(
    authsvc: Broker, http: aiohttp.ClientSession, redis_prefix: str
) -> None:
    """The redirect URI is verified first: a bad scope to a foreign URI is a page, not a 302."""
    before = await stored_keys(authsvc.store, redis_prefix)
    params = authorize_params("openid id_number", redirect_uri="https://evil.example/cb")
    async with http.get(
        authsvc.url + "/authorize",
        params=params,
        allow_redirects=False,
        headers={"Accept": "application/json"},
    ) as response:
        assert response.status == 400 and "Location" not in response.headers
        assert (await response.json())["error"] == "invalid_request"
    assert await stored_keys(authsvc.store, redis_prefix) == before


async def test_spa_gets_its_name_only_and_the_phone_says_so(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The SPA's login: the phone is told `name` only; ID token and userinfo carry no ID
    number and no phone."""
    browser = BrowserLogin(authsvc.url, http, **SPA, scope="openid profile")
    await browser.start()
    ws = await browser.socket()
    phone = await phones(authsvc.url)
    result = await phone.login(browser.ticket["qr_text"])
    assert result.claims == ["name"]
    assert present.release_line(result.client, result.claims) == "将向“演示应用”提供：姓名"
    assert (
        present.release_line(result.client, result.claims, "en") == "“Demo app” will receive: name"
    )
    code = code_of(str((await wait_for_state(ws, "confirmed"))["redirect"]))
    await ws.close()
    status, body = await redeem(http, authsvc, browser, code, client_id="spa")
    assert status == 200, body
    claims = await verify_id_token(http, authsvc, body["id_token"])
    assert claims["name"] == "张三" and not {"id_number", "phone_number", "role"} & set(claims)
    async with http.get(
        authsvc.url + "/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    ) as response:
        info = await response.json()
    assert info == {"sub": claims["sub"], "name": "张三"}
    assert body["scope"] == "openid profile"


async def test_hall_is_told_everything_it_is_registered_for(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The hall, registered for every scope, asks for all: the phone lists each item once, and
    the ID token carries the ID number and the phone."""
    browser = BrowserLogin(authsvc.url, http, scope="openid profile id_number phone account")
    await browser.start()
    ws = await browser.socket()
    phone = await phones(authsvc.url)
    result = await phone.login(browser.ticket["qr_text"])
    assert result.claims == [
        "name",
        "id_number",
        "phone_number",
        "role",
        "company",
        "relationships",
        "business_items",
        "unit_numbers",
    ]
    assert present.release_line(result.client, result.claims) == (
        "将向“测试服务大厅”提供：姓名、社会保障号码、手机号码、登录身份、"
        "单位名称及统一社会信用代码、单位授权信息"
    )
    assert present.release_line(result.client, result.claims, "en") == (
        "“Test service hall” will receive: name, social security number, mobile number, "
        "login role, company name and credit code, company authorizations"
    )
    code = code_of(str((await wait_for_state(ws, "confirmed"))["redirect"]))
    await ws.close()
    status, body = await redeem(http, authsvc, browser, code)
    assert status == 200, body
    claims = await verify_id_token(http, authsvc, body["id_token"])
    assert claims["id_number"] == "11010519491231002X"
    assert claims["phone_number"] == "13800138000" and claims["role"] == "personal"


async def test_claims_narrow_what_the_scopes_would_give(
    tmp_path: Path, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A client registered for profile, id_number and phone but only the claims name and
    phone_number: asking for id_number is allowed, yet the ID number is never released."""
    client = {
        "client_id": "narrow",
        "client_secret": "narrow-secret",
        "name": {"zh": "窄权限应用", "en": "Narrow app"},
        "redirect_uris": ["http://127.0.0.1:9/narrow"],
        "identities": ["personal"],
        "scopes": ["openid", "profile", "id_number", "phone"],
        "claims": ["name", "phone_number"],
    }
    async with running_authsvc(tmp_path, extra_clients=[client]) as broker:
        browser = BrowserLogin(
            broker.url,
            http,
            client_id="narrow",
            redirect_uri="http://127.0.0.1:9/narrow",
            scope="openid profile id_number phone",
        )
        await browser.start()
        ws = await browser.socket()
        phone = await phones(broker.url)
        result = await phone.login(browser.ticket["qr_text"])
        assert result.claims == ["name", "phone_number"]
        assert (
            present.release_line(result.client, result.claims)
            == "将向“窄权限应用”提供：姓名、手机号码"
        )
        code = code_of(str((await wait_for_state(ws, "confirmed"))["redirect"]))
        await ws.close()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": browser.redirect_uri,
            "code_verifier": browser.verifier,
        }
        auth = {"Authorization": aiohttp.encode_basic_auth("narrow", "narrow-secret")}
        async with http.post(broker.url + "/token", data=form, headers=auth) as response:
            body = await response.json()
            assert response.status == 200, body
        claims = await verify_id_token(http, broker, body["id_token"])
        assert claims["name"] == "张三" and claims["phone_number"] == "13800138000"
        assert "id_number" not in claims
        async with http.get(
            broker.url + "/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
        ) as response:
            assert "id_number" not in await response.json()
