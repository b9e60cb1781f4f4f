"""The CORS middleware: preflights and response headers for the endpoints core.cors names.

It sits outside the error middleware, so the token and userinfo errors a browser app must read
carry the headers too."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from aiohttp import web

from authsvc import errors
from authsvc.core import cors
from authsvc.http.appkeys import BROKER
from authsvc.http.common import json_response
from authsvc.http.middleware import SECURITY_HEADERS, Handler, given_or_new_request_id

log = logging.getLogger(__name__)


@web.middleware
def cors_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """Most paths are not CORS endpoints: their handler is returned as it is, with no frame of
    this middleware around it (an idle WebSocket's handler waits for minutes)."""
    methods = cors.methods_for(request.path)
    if methods is None:
        return handler(request)
    return _cors(request, handler, methods)


async def _cors(
    request: web.Request, handler: Handler, methods: tuple[str, ...]
) -> web.StreamResponse:
    allowed = request.app[BROKER].clients.cors_origins()
    origin = request.headers.get("Origin", "")
    if request.method == "OPTIONS":
        return _options(request, origin, methods, allowed)
    response = await handler(request)
    if not response.prepared:
        for name, value in cors.response_headers(origin, allowed).items():
            _add(response, name, value)
    return response


def _options(
    request: web.Request, origin: str, methods: tuple[str, ...], allowed: frozenset[str]
) -> web.StreamResponse:
    requested = request.headers.get("Access-Control-Request-Method", "")
    if not cors.is_preflight(request.method, origin, requested):
        headers = {"Allow": ", ".join((*methods, "OPTIONS"))}  # RFC 9110 §9.3.7
        return web.Response(status=204, headers={**headers, **SECURITY_HEADERS})
    try:
        headers = cors.preflight(
            request.path, origin=origin, requested_method=requested, allowed=allowed
        )
    except errors.QrAuthError as exc:
        return _refusal(request, exc)
    return web.Response(status=204, headers={**headers, **SECURITY_HEADERS})


def _refusal(request: web.Request, exc: errors.QrAuthError) -> web.Response:
    """A refused preflight in the API error shape, without any CORS header."""
    request_id = given_or_new_request_id(request)
    log.info("refused CORS preflight %s code=%s detail=%s", request.path, exc.code, exc.detail)
    request.app[BROKER].metrics.refusals.labels(code=exc.code).inc()
    response = json_response(exc.body(request_id), status=exc.status)
    response.headers.update({**SECURITY_HEADERS, "X-Request-Id": request_id, "Vary": cors.VARY})
    return response


def _add(response: web.StreamResponse, name: str, value: str) -> None:
    if name == "Vary" and response.headers.get("Vary"):
        response.headers["Vary"] = f"{response.headers['Vary']}, {value}"
    else:
        response.headers[name] = value
