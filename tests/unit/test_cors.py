"""The CORS rules (authsvc/core/cors.py), no server."""

from __future__ import annotations

import pytest

from authsvc import errors
from authsvc.core import cors

ALLOWED = frozenset({"https://spa.example", "http://127.0.0.1:8799"})


def test_only_the_four_relying_party_endpoints_answer_cors() -> None:
    """Discovery, JWKS, token and userinfo; not the QR page, the APIs or end-session."""
    assert set(cors.ENDPOINTS) == {
        "/.well-known/openid-configuration",
        "/jwks.json",
        "/token",
        "/userinfo",
    }
    for path in (
        "/authorize",
        "/api/tickets",
        "/api/mobile/tickets/x/scan",
        "/end-session",
        "/token/",
    ):
        assert cors.methods_for(path) is None


def test_preflight_echoes_a_registered_origin_without_credentials() -> None:
    """The exact origin, never `*`, never Allow-Credentials."""
    headers = cors.preflight(
        "/userinfo", origin="https://spa.example", requested_method="GET", allowed=ALLOWED
    )
    assert headers["Access-Control-Allow-Origin"] == "https://spa.example"
    assert headers["Access-Control-Allow-Methods"] == "GET, POST"
    assert "Access-Control-Allow-Credentials" not in headers


@pytest.mark.parametrize(
    ("origin", "method", "code"),
    [
        ("https://evil.example", "POST", "forbidden_origin"),
        ("null", "POST", "forbidden_origin"),
        ("https://SPA.example", "POST", "forbidden_origin"),
        ("https://spa.example:443", "POST", "forbidden_origin"),
        ("https://spa.example", "GET", "invalid_request"),
        ("https://spa.example", "post", "invalid_request"),
    ],
)
def test_preflight_refusals(origin: str, method: str, code: str) -> None:
    """Unregistered origins (compared exactly) and methods the endpoint does not take."""
    with pytest.raises(errors.QrAuthError) as refused:
        cors.preflight("/token", origin=origin, requested_method=method, allowed=ALLOWED)
    assert refused.value.code == code


def test_response_headers_vary_by_origin_always() -> None:
    """A registered origin is echoed; any other gets only `Vary: Origin`."""
    assert cors.response_headers("https://spa.example", ALLOWED)["Access-Control-Allow-Origin"] == (
        "https://spa.example"
    )
    assert cors.response_headers("https://evil.example", ALLOWED) == {"Vary": "Origin"}
    assert cors.response_headers("", ALLOWED) == {"Vary": "Origin"}


def test_is_preflight_needs_origin_and_requested_method() -> None:
    """OPTIONS alone is not a preflight (RFC 9110 OPTIONS); GET with both headers is not either."""
    assert cors.is_preflight("OPTIONS", "https://spa.example", "POST")
    assert not cors.is_preflight("OPTIONS", "", "POST")
    assert not cors.is_preflight("OPTIONS", "https://spa.example", "")
    assert not cors.is_preflight("GET", "https://spa.example", "POST")
