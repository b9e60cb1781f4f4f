"""Security headers, the one error middleware, and CSRF protection."""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.exc import DBAPIError, OperationalError

from portal.errors import (
    BodyTooLarge,
    CsrfFailed,
    DatabaseUnavailable,
    MethodNotAllowed,
    NotFound,
    PortalError,
    UploadTooLarge,
)
from portal.http.i18n import lang_of
from portal.http.keys import METRICS, REQUEST_ID, SETTINGS
from portal.http.render import render
from portal.http.session import SESSION

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: Server-to-server endpoints: authenticated by signed JWTs, not by cookies.
CSRF_EXEMPT = frozenset({"/api/accounts", "/auth/backchannel-logout"})
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path in CSRF_EXEMPT


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[REQUEST_ID] = secrets.token_hex(8)
    response = await handler(request)
    issuer = request.app[SETTINGS].issuer_origin
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; frame-src 'self' {issuer}; frame-ancestors 'self'; "
        f"form-action 'self' {issuer}; base-uri 'none'; object-src 'none'",
    )
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except PortalError as exc:
        return _respond(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _respond(request, _from_http(request, exc))
    except (OperationalError, DBAPIError, ConnectionError) as exc:
        request.app[METRICS].database_errors.inc()
        return _respond(request, DatabaseUnavailable(f"{type(exc).__name__}: {exc}"))
    except Exception:
        log.exception("unhandled error", extra={"request_id": request.get(REQUEST_ID)})
        return _respond(request, PortalError("unhandled"))


def _from_http(request: web.Request, exc: web.HTTPException) -> PortalError:
    if exc.status == 404:
        return NotFound(request.path)
    if exc.status == 405:
        return MethodNotAllowed(request.method)
    if exc.status == 413:
        multipart = request.content_type.startswith("multipart/")
        return UploadTooLarge() if multipart else BodyTooLarge()
    return PortalError(f"http {exc.status}")


def _respond(request: web.Request, exc: PortalError) -> web.Response:
    request_id = request.get(REQUEST_ID, "")
    if exc.status >= 500:
        log.error("%s: %s", exc.code, exc.detail, extra={"request_id": request_id})
    elif exc.detail:
        log.info("%s: %s", exc.code, exc.detail, extra={"request_id": request_id})
    if wants_json(request):
        response = web.json_response(exc.body(request_id), status=exc.status)
    else:
        lang = lang_of(request)
        response = render(
            request,
            "error.html",
            {"error": exc, "message": exc.message(lang), "request_id": request_id},
            status=exc.status,
        )
    response.headers.update(exc.headers())
    return response


@web.middleware
async def csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every unsafe request from a browser carries the session's token (form or header)."""
    if request.method in UNSAFE and request.path not in CSRF_EXEMPT:
        expected = request[SESSION].expected_csrf()
        sent = request.headers.get("X-CSRF-Token")
        if sent is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            sent = (await request.post()).get("_csrf")
        if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
            raise CsrfFailed(request.path)
    return await handler(request)
