"""OAuth errors come from the one registry and the one middleware, in the RFC shapes: JSON
§5.2 bodies with their challenges at /token and /userinfo, §4.1.2.1 redirects from /authorize
once the redirect URI is verified — with the same security headers as every other answer."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import aiohttp

from tests.support.browser import pkce_pair
from tests.support.servers import Broker

TOKEN_FORM = {
    "grant_type": "authorization_code",
    "code": "unknown-code",
    "redirect_uri": "http://127.0.0.1:9/cb",
    "code_verifier": "v" * 43,
}


def basic(secret: str) -> dict[str, str]:
    return {"Authorization": aiohttp.encode_basic_auth("hall", secret)}


async def oauth_error(response: aiohttp.ClientResponse) -> dict[str, str]:
    assert response.content_type == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body: dict[str, str] = await response.json()
    assert set(body) == {"error", "error_description", "request_id"}
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


async def test_token_errors_are_rfc6749_json_with_their_challenge(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """invalid_client (401 + Basic challenge), invalid_grant, unsupported_grant_type (400)."""
    cases = [
        (basic("wrong"), TOKEN_FORM, 401, "invalid_client"),
        (basic("hall-secret"), TOKEN_FORM, 400, "invalid_grant"),
        (
            basic("hall-secret"),
            {**TOKEN_FORM, "grant_type": "password"},
            400,
            "unsupported_grant_type",
        ),
    ]
    for headers, form, status, code in cases:
        async with http.post(authsvc.url + "/token", data=form, headers=headers) as response:
            assert response.status == status
            assert (await oauth_error(response))["error"] == code
            challenge = response.headers.get("WWW-Authenticate")
            assert challenge == ('Basic realm="qrauth"' if status == 401 else None)


async def test_an_oversized_token_request_is_invalid_request_413(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """A body over the limit: 413 with the RFC 6749 code invalid_request, as before."""
    big = {**TOKEN_FORM, "code": "x" * (2 * authsvc.settings.limits.max_body_bytes)}
    async with http.post(
        authsvc.url + "/token", data=big, headers=basic("hall-secret")
    ) as response:
        assert response.status == 413
        assert (await oauth_error(response))["error"] == "invalid_request"


async def test_userinfo_without_a_valid_token_is_an_rfc6750_challenge(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """No or an unknown bearer token: 401 invalid_token with `Bearer error="invalid_token"`."""
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        async with http.get(authsvc.url + "/userinfo", headers=headers) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
            assert (await oauth_error(response))["error"] == "invalid_token"


async def test_authorize_errors_redirect_through_the_middleware(
    authsvc: Broker, http: aiohttp.ClientSession
) -> None:
    """A verified redirect URI gets the error back (302, state and iss), with security headers."""
    _, challenge = pkce_pair()
    params = {
        "client_id": "hall",
        "redirect_uri": "http://127.0.0.1:9/cb",
        "response_type": "code",
        "scope": "profile",
        "state": "st-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    async with http.get(
        authsvc.url + "/authorize", params=params, allow_redirects=False
    ) as response:
        assert response.status == 302
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        location = urlsplit(response.headers["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == "http://127.0.0.1:9/cb"
    assert query["error"] == ["invalid_scope"] and query["state"] == ["st-1"]
    assert query["iss"] == [authsvc.url]
