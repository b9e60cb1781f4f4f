"""Server-rendered pages (Jinja2), with a strict Content-Security-Policy: no inline scripts."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from authsvc.http.appkeys import JINJA

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, auto_reload=False
    )


def csp(frame_ancestors: str = "'none'") -> str:
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; "
        f"frame-ancestors {frame_ancestors}"
    )


def query_link(request: web.Request, **changes: str) -> str:
    """The same page with some query parameters changed (`lang`, `elder`), as a query-only
    relative link ("?…&lang=en"): it resolves against the current page, so a path like
    `//evil.example/x` cannot make it an off-site link (issue 12)."""
    query = [(k, v) for k, v in request.query.items() if k not in changes]
    return "?" + urlencode([*query, *changes.items()])


ELDER_COOKIE = "elder"


def elder_mode(request: web.Request) -> bool:
    """长辈模式 (适老化: larger text, higher contrast): `?elder=1|0` switches it and a cookie keeps
    it — the same cookie the portal sets, so in one site the QR page follows the portal's mode."""
    chosen = request.query.get("elder")
    if chosen in ("0", "1"):
        return chosen == "1"
    return request.cookies.get(ELDER_COOKIE) == "1"


def _keep_elder_mode(response: web.Response, on: bool) -> None:
    if on:
        response.set_cookie(
            ELDER_COOKIE, "1", max_age=365 * 24 * 3600, path="/", samesite="Lax", httponly=True
        )
    else:
        response.del_cookie(ELDER_COOKIE, path="/")


def render(
    request: web.Request,
    name: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    frame_ancestors: str = "'none'",
) -> web.Response:
    from authsvc.http.common import lang

    language = lang(request)
    other = "zh" if language == "en" else "en"
    lang_href = query_link(request, lang=other)
    elder = elder_mode(request)
    elder_href = query_link(request, elder="0" if elder else "1")
    html = (
        request.app[JINJA]
        .get_template(name)
        .render(lang=language, lang_href=lang_href, elder=elder, elder_href=elder_href, **context)
    )
    response = web.Response(text=html, status=status, content_type="text/html")
    if "elder" in request.query:
        _keep_elder_mode(response, elder)
    response.headers["Content-Security-Policy"] = csp(frame_ancestors)
    response.headers["Cache-Control"] = "no-store"
    return response
