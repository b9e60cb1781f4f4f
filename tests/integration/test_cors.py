"""CORS for browser-based relying parties: discovery, JWKS, token and userinfo answer the
registered origins (preflights 204), nothing for anyone else, and authsvc's own pages and
APIs stay same-origin."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from authsvc.clients import ClientRegistry
from tests.support.servers import Broker, running_authsvc
from tests.support.snapshot import stored_keys

SPA_ORIGIN = "http://127.0.0.1:9"  # the origin of the test clients' redirect URIs
EVIL = "https://evil.example"
ENDPOINTS = [
    ("/.well-known/openid-configuration", "GET"),
    ("/jwks.json", "GET"),
    ("/token", "POST"),
    ("/userinfo", "GET"),
    ("/userinfo", "POST"),
]
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Credentials",
    "Access-Control-Expose-Headers",
)


def no_cors(headers: CIMultiDictProxy[str]) -> bool:
    return not any(name in headers for name in CORS_HEADERS)


async def preflight(
    http: aiohttp.ClientSession, url: str, origin: str, method: str, headers: str = ""
) -> aiohttp.ClientResponse:
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        asked["Access-Control-Request-Headers"] = headers
    async with http.options(url, headers=asked) as response:
        await response.read()
        return response


@pytest.mark.parametrize(("path", "method"), ENDPOINTS)
async def test_a_registered_origin_gets_a_204_preflight(
    authsvc: Broker, http: aiohttp.ClientSession, path: str, method: str
) -> None:
    """The four endpoints answer a registered origin's preflight 204 with its own origin, the
    method, Authorization and Content-Type, and never credentials."""
    response = await preflight(
        http, authsvc.url + path, SPA_ORIGIN, method, "authorization, content-type"
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    assert method in response.headers["Access-Control-Allow-Methods"].split(", ")
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Origin" in response.headers["Vary"]


@pytest.mark.parametrize(("path", "method"), ENDPOINTS)
async def test_an_unregistered_origin_is_refused_and_nothing_changes(
    authsvc: Broker, http: aiohttp.ClientSession, redis_prefix: str, path: str, method: str
) -> None:
    """A foreign origin's preflight is 403 forbidden_origin with no CORS header at all, and the
    store is unchanged."""
    before = await stored_keys(authsvc.store, redis_prefix)
    for origin in (EVIL, "null", SPA_ORIGIN + ".evil.example", "http://127.0.0.1:10"):
        async with http.options(
            authsvc.url + path,
            headers={"Origin": origin, "Access-Control-Request-Method": method},
        ) as response:
            body = await response.json()
            assert response.status == 403 and body["error"] == "forbidden_origin", origin
            assert body["message"]["zh"] and body["message"]["en"]
            assert no_cors(response.headers)
    assert await stored_keys(authsvc.store, redis_prefix) == before


async def test_actual_responses_echo_only_a_registered_origin(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """Discovery and JWKS carry Access-Control-Allow-Origin for a registered origin only;
    every answer varies by Origin."""
    for path in ("/.well-known/openid-configuration", "/jwks.json"):
        async with http.get(authsvc.url + path, headers={"Origin": SPA_ORIGIN}) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
            assert response.headers["Vary"] == "Origin"
        async with http.get(authsvc.url + path, headers={"Origin": EVIL}) as response:
            assert response.status == 200 and no_cors(response.headers)
            assert response.headers["Vary"] == "Origin"
        async with http.get(authsvc.url + path) as response:
            assert response.status == 200 and no_cors(response.headers)


async def test_token_and_userinfo_errors_are_readable_by_the_registered_origin(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """A browser app must read invalid_grant and invalid_token: the errors carry the headers,
    and WWW-Authenticate is exposed."""
    form = {
        "grant_type": "authorization_code",
        "client_id": "spa",
        "code": "nope",
        "redirect_uri": "http://127.0.0.1:9/spa",
        "code_verifier": "v" * 43,
    }
    async with http.post(
        authsvc.url + "/token", data=form, headers={"Origin": SPA_ORIGIN}
    ) as response:
        assert response.status == 400 and (await response.json())["error"] == "invalid_grant"
        assert response.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    async with http.get(
        authsvc.url + "/userinfo",
        headers={"Origin": SPA_ORIGIN, "Authorization": "Bearer nope"},
    ) as response:
        assert response.status == 401
        assert response.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
        assert "WWW-Authenticate" in response.headers["Access-Control-Expose-Headers"]
    async with http.post(authsvc.url + "/token", data=form, headers={"Origin": EVIL}) as response:
        assert response.status == 400 and no_cors(response.headers)


async def test_own_pages_and_apis_stay_same_origin(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """The QR page, the browser and mobile APIs and the admin API answer no CORS, even to a
    registered origin; a preflight there is not accepted."""
    for path in ("/api/broker-keys", "/readyz", "/authorize"):
        async with http.get(authsvc.url + path, headers={"Origin": SPA_ORIGIN}) as response:
            assert no_cors(response.headers), path
            assert "Origin" not in response.headers.get("Vary", "")
    for path in ("/api/tickets", "/api/mobile/tickets/x/scan", "/end-session"):
        response = await preflight(http, authsvc.url + path, SPA_ORIGIN, "POST")
        assert response.status != 204 and no_cors(response.headers), path


async def test_preflight_for_a_method_the_endpoint_does_not_take(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """DELETE on the JWKS or GET on the token endpoint: 400 invalid_request, no CORS headers."""
    for path, method in (("/jwks.json", "DELETE"), ("/token", "GET")):
        async with http.options(
            authsvc.url + path,
            headers={"Origin": SPA_ORIGIN, "Access-Control-Request-Method": method},
        ) as response:
            assert response.status == 400
            assert (await response.json())["error"] == "invalid_request"
            assert no_cors(response.headers)


async def test_plain_options_lists_the_methods(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """OPTIONS without Origin (not a preflight) is 204 with Allow (RFC 9110 §9.3.7)."""
    async with http.options(authsvc.url + "/userinfo") as response:
        assert response.status == 204 and response.headers["Allow"] == "GET, POST, OPTIONS"
        assert no_cors(response.headers)


async def test_explicit_allowed_origins_replace_the_redirect_origins(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """A registration's `allowed_origins` is the whole list: its redirect URI's origin is no
    longer allowed unless listed."""
    client = {
        "client_id": "app",
        "name": "App",
        "redirect_uris": ["http://localhost:7/cb"],
        "identities": ["personal"],
        "allowed_origins": ["https://app.example"],
    }
    async with running_authsvc(tmp_path, extra_clients=[client]) as broker:
        url = broker.url + "/token"
        allowed = await preflight(http, url, "https://app.example", "POST")
        assert allowed.status == 204
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
        refused = await preflight(http, url, "http://localhost:7", "POST")
        assert refused.status == 403 and no_cors(refused.headers)


@pytest.mark.parametrize(
    "origin", ["https://app.example/", "https://app.example/path", "ftp://app.example", "*"]
)
def test_an_allowed_origin_must_be_an_origin(tmp_path: Path, origin: str) -> None:
    """Only scheme://host[:port] is an origin; anything else stops the registry from loading."""
    path = tmp_path / "clients.json"
    client = {"client_id": "app", "redirect_uris": ["https://app.example/cb"]}
    path.write_text(json.dumps({"clients": [{**client, "allowed_origins": [origin]}]}))
    with pytest.raises(ValueError, match="allowed_origins"):
        ClientRegistry.load(path)
