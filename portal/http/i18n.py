"""zh-CN first, English on request: `?lang=en` (sticky in a cookie) or Accept-Language."""

from __future__ import annotations

from aiohttp import web
from babel import negotiate_locale

from portal.http.session import LANG_COOKIE, SESSION

OFFERED = ("zh", "en")


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


def preferred(header: str) -> list[str]:
    """The header's language tags, best first (RFC 9110 §12.5.4); bad q values count as q=0."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        tag, quality = tag.strip(), 1.0
        params = params.strip().replace(" ", "")
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(ranked)]


def _from_accept_language(header: str) -> str:
    """The offered language (zh, en) the header prefers, by Babel's `negotiate_locale`; zh when
    neither is named. The same rule as authsvc/core/language.py (the portal may not import it)."""
    chosen = negotiate_locale(preferred(header)[:16], list(OFFERED), sep="-")
    return chosen.split("-")[0].lower() if chosen else "zh"


def translator(lang: str):
    def t(zh: str, en: str) -> str:
        return en if lang == "en" else zh

    return t
