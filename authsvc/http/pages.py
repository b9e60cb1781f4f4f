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


def language_link(request: web.Request, other: str) -> str:
    """The same page in the other language, as a query-only relative link ("?…&lang=en"): it
    resolves against the current page, so a path like `//evil.example/x` cannot make it an
    off-site link."""
    query = [(k, v) for k, v in request.query.items() if k != "lang"]
    return "?" + urlencode([*query, ("lang", other)])


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
    lang_href = language_link(request, other)
    html = (
        request.app[JINJA].get_template(name).render(lang=language, lang_href=lang_href, **context)
    )
    response = web.Response(text=html, status=status, content_type="text/html")
    response.headers["Content-Security-Policy"] = csp(frame_ancestors)
    response.headers["Cache-Control"] = "no-store"
    return response
