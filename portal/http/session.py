"""Signed-cookie sessions: the cookie holds a random id + HMAC; the data lives in SQL.

The id is renewed at login (no fixation) and the row is deleted at logout or when the
provider's back-channel logout names its `sid`. A row is written only when something needs
one (a pending login, an account, a registration to confirm): an anonymous visitor's language
and the CSRF token of an anonymous form live in their own signed cookies (double submit), so
anonymous GETs write nothing. Rows without an account live ANONYMOUS_TTL_SECONDS only.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from portal.http.keys import CLOCK, DB, SETTINGS
from portal.services import sessions

COOKIE = "portal_session"
LANG_COOKIE = "portal_lang"  # the language choice needs no session (no row per anonymous visit)
CSRF_COOKIE = "portal_csrf"  # the CSRF token of a visitor without a session row
ANONYMOUS_TTL_SECONDS = 1800
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Session:
    """The request's session; changes are saved after the handler returns."""

    def __init__(self, session_id: str | None, data: dict[str, Any] | None) -> None:
        self.id = session_id
        self.data: dict[str, Any] = data or {}
        self.dirty = False
        self.dropped: list[str] = []
        self.cleared = False
        self.cookie_csrf: str | None = None  # from / for CSRF_COOKIE while there is no row
        self.cookie_csrf_new = False

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.dirty = True

    def pop(self, key: str, default: Any = None) -> Any:
        self.dirty = self.dirty or key in self.data
        return self.data.pop(key, default)

    @property
    def account(self) -> dict[str, Any] | None:
        return self.data.get("account")

    def csrf_token(self) -> str:
        """The session's token; without a row (and none to be written) a cookie's token."""
        token = self.data.get("csrf")
        if token:
            return str(token)
        if self.id is None and not self.dirty:
            if not self.cookie_csrf:
                self.cookie_csrf, self.cookie_csrf_new = secrets.token_urlsafe(32), True
            return self.cookie_csrf
        token = self["csrf"] = secrets.token_urlsafe(32)
        return str(token)

    def expected_csrf(self) -> str | None:
        """What an unsafe request must carry: the row's token, else the cookie's."""
        return self.data.get("csrf") or self.cookie_csrf

    def renew(self, keep: tuple[str, ...] = ("lang",)) -> None:
        """A fresh id and fresh data (but `keep`): the old id is worthless from now on."""
        if self.id is not None:
            self.dropped.append(self.id)
        self.id = None
        self.data = {k: self.data[k] for k in keep if k in self.data}
        self.dirty = True

    def clear(self) -> None:
        self.renew(keep=("lang",))
        self.cleared = True


SESSION = web.RequestKey("session", Session)


def sign(secret: bytes, session_id: str) -> str:
    mac = hmac.new(secret, session_id.encode(), hashlib.sha256).digest()
    return session_id + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def unsign(secret: bytes, cookie: str | None) -> str | None:
    if not cookie or "." not in cookie:
        return None
    session_id = cookie.rsplit(".", 1)[0]
    return session_id if hmac.compare_digest(sign(secret, session_id), cookie) else None


def get_session(request: web.Request) -> Session:
    return request[SESSION]


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings, clock = request.app[SETTINGS], request.app[CLOCK]
    session_id = unsign(settings.session_secret, request.cookies.get(COOKIE))
    data = None
    if session_id is not None:
        async with request.app[DB]() as db:
            data = await sessions.load(db, session_id, clock())
    session = Session(session_id if data is not None else None, data)
    session.cookie_csrf = unsign(settings.session_secret, request.cookies.get(CSRF_COOKIE))
    request[SESSION] = session
    try:
        response = await handler(request)
    except Exception:
        await _persist(request, session, None)  # a refusal that ended the session ends it
        raise
    await _persist(request, session, response)
    _sticky_lang(request, response)
    if session.cookie_csrf_new and session.cookie_csrf:
        token = sign(settings.session_secret, session.cookie_csrf)
        _cookie(request, response, CSRF_COOKIE, token, max_age=ANONYMOUS_TTL_SECONDS)
    return response


def _cookie(
    request: web.Request,
    response: web.StreamResponse,
    name: str,
    value: str,
    *,
    max_age: int,
    httponly: bool = True,
) -> None:
    """Every cookie of the portal: path /, SameSite=Lax, Secure behind https."""
    if response.prepared:
        return
    response.set_cookie(
        name,
        value,
        httponly=httponly,
        samesite="Lax",
        secure=request.app[SETTINGS].secure_cookies,
        path="/",
        max_age=max_age,
    )


def _sticky_lang(request: web.Request, response: web.StreamResponse) -> None:
    """`?lang=` is remembered in its own cookie (not in a session row)."""
    lang = request.query.get("lang")
    if lang in ("zh", "en") and request.cookies.get(LANG_COOKIE) != lang:
        _cookie(request, response, LANG_COOKIE, lang, max_age=365 * 24 * 3600, httponly=False)


async def _persist(
    request: web.Request, session: Session, response: web.StreamResponse | None
) -> None:
    """Save a changed session. Without a response (the handler raised) only an existing
    session is saved: a refused request never creates one."""
    settings, clock = request.app[SETTINGS], request.app[CLOCK]
    async with request.app[DB]() as db:
        for old in session.dropped:
            await sessions.drop(db, old)
        if not session.dirty or (response is None and session.id is None):
            return
        if session.id is None:
            session.id = secrets.token_urlsafe(32)
        ttl = settings.session_ttl_seconds if session.account else ANONYMOUS_TTL_SECONDS
        await sessions.save(
            db,
            session.id,
            session.data,
            op_sid=session.get("op_sid"),
            now=clock(),
            ttl=dt.timedelta(seconds=ttl),
        )
    if response is not None:
        _cookie(request, response, COOKIE, sign(settings.session_secret, session.id), max_age=ttl)
