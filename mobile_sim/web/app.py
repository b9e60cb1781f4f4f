"""create_app(home, broker_url): the phone page, its static files and its JSON endpoints.

Strict CSP (no inline script: the page's config travels as a JSON data block), a Host
allow-list, and same-origin + per-page token checks on every state-changing request."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import jinja2
from aiohttp import web

from mobile_sim.errors import PhoneError, Unreachable
from mobile_sim.phone import PhoneApp
from mobile_sim.source import MAX_IMAGE_BYTES
from mobile_sim.web import api
from mobile_sim.web.guard import HEADER, LOOPBACK_HOSTS, Guard
from mobile_sim.web.i18n import texts
from mobile_sim.web.keys import GUARD, JINJA, SESSION
from mobile_sim.web.session import PhoneSession

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(exc: PhoneError, status: int) -> web.Response:
    return web.json_response(
        {"error": exc.code, "message": {"zh": exc.zh, "en": exc.en}}, status=status
    )


def _status(exc: PhoneError) -> int:
    if exc.status >= 400:
        return exc.status
    return 502 if isinstance(exc, Unreachable) else 400


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    if isinstance(response, web.HTTPException):
        raise response
    return response


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refusals answer {"error", "message": {"zh", "en"}}; nothing else leaks."""
    try:
        return await handler(request)
    except PhoneError as exc:
        if exc.detail:
            log.info("refused %s: %s (%s)", request.path, exc.code, exc.detail)
        return _error(exc, _status(exc))
    except web.HTTPException:
        raise
    except Exception:
        log.exception("phone page failed on %s", request.path)
        failure = PhoneError("internal_error", "系统繁忙，请稍后再试", "Something went wrong")
        return _error(failure, 500)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    checks = request.app[GUARD]
    if not checks.host_allowed(request.host):
        raise PhoneError("forbidden_host", "不允许的访问地址", "This host name is not allowed", 403)
    if request.method not in SAFE_METHODS:
        if not checks.same_origin(request.headers.get("Origin", ""), request.scheme, request.host):
            raise PhoneError(
                "forbidden_origin", "请求来源不被允许", "This origin is not allowed", 403
            )
        if not checks.token_valid(request.headers.get(HEADER, "")):
            raise PhoneError(
                "csrf_token_invalid", "页面已过期，请刷新页面", "The page expired; reload it", 403
            )
    return await handler(request)


async def page(request: web.Request) -> web.Response:
    lang = api.lang_of(request)
    config = {
        "lang": lang,
        "csrf": request.app[GUARD].new_token(),
        "t": texts(lang),
        "max_image_bytes": MAX_IMAGE_BYTES,
    }
    html = (
        request.app[JINJA]
        .get_template("phone.html")
        .render(
            lang=lang,
            t=texts(lang),
            config=config,
            other_lang="zh" if lang == "en" else "en",
        )
    )
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


async def _close_phone(app: web.Application) -> None:
    await app[SESSION].phone.close()


def create_app(
    home: str | Path,
    broker_url: str,
    *,
    place: str | None = None,
    host: str = "127.0.0.1",
    faces_dir: str | Path | None = None,
) -> web.Application:
    """The phone page for the phone whose home folder is `home`, talking to `broker_url`;
    the people's faces are in `faces_dir` (default $MOBILE_SIM_FACES)."""
    app = web.Application(
        middlewares=[security_headers, errors, guard], client_max_size=MAX_IMAGE_BYTES + 64 * 1024
    )
    app[SESSION] = PhoneSession(PhoneApp.open(home, broker_url, place=place, faces_dir=faces_dir))
    app[GUARD] = Guard(LOOPBACK_HOSTS | {host})
    app[JINJA] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, auto_reload=False
    )
    app.router.add_get("/", page)
    app.router.add_routes(api.routes)
    app.router.add_static("/static/", HERE / "static")
    app.on_cleanup.append(_close_phone)
    return app
