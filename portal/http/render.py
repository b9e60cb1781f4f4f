"""Rendering pages with the context every page needs (lang, account, CSRF token, nav)."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from portal.http.accessibility import elder_mode
from portal.http.i18n import lang_of, translator
from portal.http.keys import SETTINGS
from portal.http.session import SESSION, Session
from portal.rules import idcard, phone
from portal.rules.roles import MODULES, ROLE_LABELS, Role, modules_for


def base_context(request: web.Request) -> dict[str, Any]:
    lang = lang_of(request)
    session: Session | None = request.get(SESSION)
    account = session.account if session is not None else None
    settings = request.app[SETTINGS]
    modules = []
    if account:
        modules = [MODULES[m] for m in modules_for(Role(account["role"]))]
    return {
        "lang": lang,
        "t": translator(lang),
        "role_label": lambda role: ROLE_LABELS[Role(role)][1 if lang == "en" else 0],
        "account": account,
        "modules": modules,
        "csrf_token": _LazyToken(session),
        "issuer_origin": settings.issuer_origin,
        "path": request.path,
        "query": request.query,
        "request_path_qs": request.path_qs,
        # Issue 8: pages show 2301**********1236 and 138****0001, not the full values.
        "mask_id": idcard.mask,
        "mask_phone": phone.mask,
        "elder": elder_mode(request),
    }


def render(
    request: web.Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    ctx = base_context(request)
    ctx.update(context or {})
    return aiohttp_jinja2.render_template(template, request, ctx, status=status)


def redirect(location: str) -> web.Response:
    """Return (never raise) redirects so that the session middleware saves the session."""
    return web.Response(status=303, headers={"Location": location})


class _LazyToken:
    """The CSRF token, created (and the session with it) only when a form renders it."""

    def __init__(self, session: Session | None) -> None:
        self._session = session

    def __str__(self) -> str:
        return self._session.csrf_token() if self._session is not None else ""

    def __html__(self) -> str:
        return str(self)
