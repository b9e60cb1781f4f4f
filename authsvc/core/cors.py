"""CORS for browser-based relying parties (Fetch Standard §3.2, the CORS protocol), no I/O.

Only the four endpoints a single-page app calls across origins answer CORS — discovery, the
JWKS, the token endpoint and userinfo (OpenID Connect Discovery §4, OAuth 2.0 for Browser-Based
Apps §6.3) — and only for origins registered by some client (its redirect URIs' origins or its
explicit `allowed_origins`). authsvc's own pages and APIs stay same-origin. No credentials
(cookies) are ever allowed: these endpoints authenticate with the request's own parameters.
"""

from __future__ import annotations

from collections.abc import Collection

from authsvc import errors

ENDPOINTS: dict[str, tuple[str, ...]] = {
    "/.well-known/openid-configuration": ("GET",),
    "/jwks.json": ("GET",),
    "/token": ("POST",),
    "/userinfo": ("GET", "POST"),
}
ALLOWED_HEADERS = ("Authorization", "Content-Type")
EXPOSED_HEADERS = ("WWW-Authenticate", "X-Request-Id")
MAX_AGE_SECONDS = 600
VARY = "Origin"
PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


def methods_for(path: str) -> tuple[str, ...] | None:
    """The methods a cross-origin caller may use on this path, or None: not a CORS endpoint."""
    return ENDPOINTS.get(path)


def is_preflight(method: str, origin: str, requested_method: str) -> bool:
    """An OPTIONS request with Origin and Access-Control-Request-Method (Fetch §3.2.2)."""
    return method == "OPTIONS" and bool(origin) and bool(requested_method)


def preflight(
    path: str, *, origin: str, requested_method: str, allowed: Collection[str]
) -> dict[str, str]:
    """The headers of a successful preflight (answered 204), or a refusal: an unregistered
    origin is `forbidden_origin`, a method the endpoint does not take is `invalid_request`."""
    methods = ENDPOINTS[path]
    if origin not in allowed:
        raise errors.ForbiddenOrigin(f"CORS preflight from {origin[:100]}")
    if requested_method not in methods:
        raise errors.InvalidRequest(
            f"CORS preflight for {requested_method[:16]}",
            zh="请求方法不允许",
            en="Method not allowed",
        )
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": ", ".join(methods),
        "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
        "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
        "Vary": PREFLIGHT_VARY,
    }


def response_headers(origin: str, allowed: Collection[str]) -> dict[str, str]:
    """Headers for an actual response of a CORS endpoint: the origin echoed only when it is
    registered; `Vary: Origin` always, so a cache never serves one origin's answer to another."""
    if not origin or origin not in allowed:
        return {"Vary": VARY}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": ", ".join(EXPOSED_HEADERS),
        "Vary": VARY,
    }
