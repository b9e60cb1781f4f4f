"""One middleware turns errors into responses: JSON for APIs, the RFC 6749 §5.2 shape at the
OAuth endpoints, RFC 6749 §4.1.2.1 redirects for authorization errors, a page for browsers."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from authsvc import errors
from authsvc.http.appkeys import BROKER
from authsvc.http.common import json_response, lang
from authsvc.http.pages import render

log = structlog.get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = web.RequestKey("request_id", str)
# A request id correlates log lines; it is no secret. A random prefix per process and a counter
# (no os.urandom per request: it was ~1 % of a login's server CPU).
_ID_PREFIX = secrets.token_hex(4)
_ID_SEQUENCE = itertools.count()
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


OAUTH_PATHS = frozenset({"/token", "/userinfo"})
"""Endpoints a client (not a person) calls: every error there is JSON in the RFC 6749 shape."""


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith(("/api/", "/ws/")) or "application/json" in request.headers.get(
        "Accept", ""
    )


def _as_error(exc: web.HTTPException) -> errors.QrAuthError:
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return errors.BodyTooLarge()
    if isinstance(exc, web.HTTPNotFound):
        return errors.NotFound()
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return errors.InvalidRequest(
            "method not allowed", zh="请求方法不允许", en="Method not allowed"
        )
    return errors.InvalidRequest(exc.reason)


_GUARDS_ITSELF: set[Handler] = set()


def guards_itself(handler: Handler) -> Handler:
    """Mark a route handler that calls `answer_errors` itself: the middleware then puts no frame
    around it. For a WebSocket's handler, whose request lives as long as the socket."""
    _GUARDS_ITSELF.add(handler)
    return handler


def given_or_new_request_id(request: web.Request) -> str:
    given = request.headers.get("X-Request-Id", "")[:64]
    return given or f"{_ID_PREFIX}{next(_ID_SEQUENCE) & 0xFFFFFFFF:08x}"


@web.middleware
def error_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    request_id = given_or_new_request_id(request)
    request[REQUEST_ID] = request_id
    structlog.contextvars.bind_contextvars(request_id=request_id)
    if request.match_info.handler in _GUARDS_ITSELF:
        return handler(request)
    return answer_errors(request, handler)


async def answer_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """`handler`'s response, or its error's (the request id is already bound)."""
    request_id = request[REQUEST_ID]
    try:
        response = await handler(request)
    except errors.QrAuthError as exc:
        response = _error_response(request, exc, request_id)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _error_response(request, _as_error(exc), request_id)
    except Exception:
        log_unhandled(request)
        response = _error_response(request, errors.QrAuthError(), request_id)
    if not response.prepared:
        response.headers.update(SECURITY_HEADERS)
        response.headers["X-Request-Id"] = request_id
    return response


def log_unhandled(request: web.Request) -> None:
    """Log the exception being handled as the middleware logs one (with its traceback)."""
    log.exception("unhandled error", method=request.method, path=request.path)


def _error_response(
    request: web.Request, exc: errors.QrAuthError, request_id: str
) -> web.StreamResponse:
    if exc.status >= 500 and exc.code not in errors.PUBLIC_SERVER_ERRORS:
        public = errors.QrAuthError()
    else:
        public = exc
    log.info("refused", method=request.method, path=request.path, code=exc.code, detail=exc.detail)
    request.app[BROKER].metrics.refusals.labels(code=exc.code).inc()
    response = _render(request, exc, public, request_id)
    response.headers.update(public.headers())
    return response


def _render(
    request: web.Request, exc: errors.QrAuthError, public: errors.QrAuthError, request_id: str
) -> web.Response:
    if isinstance(exc, errors.AuthorizeRedirect):
        return web.Response(status=302, headers={"Location": exc.location})
    if request.path in OAUTH_PATHS:
        return _oauth_response(public, request_id)
    if _wants_json(request):
        response = json_response(public.body(request_id), status=public.status)
        if exc.retry_after:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    language = lang(request)
    message = public.message_en if language == "en" else public.message_zh
    return render(
        request,
        "error.html",
        {"message": message, "code": public.code, "request_id": request_id},
        status=public.status,
    )


def _oauth_response(exc: errors.QrAuthError, request_id: str) -> web.Response:
    """RFC 6749 §5.2: `error` and `error_description`; our own errors (a store outage, a body
    too large) keep their registry code and give their English message as the description."""
    if isinstance(exc, errors.OAuthError):
        body: dict[str, object] = dict(exc.oauth_body())
    else:
        body = {"error": exc.code, "error_description": exc.message_en}
    body["request_id"] = request_id
    return json_response(body, status=exc.status)
