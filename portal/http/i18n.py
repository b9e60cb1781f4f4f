"""zh-CN first, English on request: `?lang=en` (sticky in a cookie) or Accept-Language."""

from __future__ import annotations

from aiohttp import web

from portal.http.session import LANG_COOKIE, SESSION


def lang_of(request: web.Request) -> str:
    session = request.get(SESSION)
    chosen = (
        request.query.get("lang")
        or request.cookies.get(LANG_COOKIE)
        or (session.get("lang") if session is not None else None)
    )
    if chosen in ("zh", "en"):
        return str(chosen)
    return _from_accept_language(request.headers.get("Accept-Language", ""))


def _from_accept_language(header: str) -> str:
    """The first of zh / en by quality; zh when neither is named."""
    best, best_q = "zh", -1.0
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        base = tag.strip().lower().split("-")[0]
        if base in ("zh", "en") and q > best_q:
            best, best_q = base, q
    return best


def translator(lang: str):
    def t(zh: str, en: str) -> str:
        return en if lang == "en" else zh

    return t
