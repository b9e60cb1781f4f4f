"""Signed-cookie sessions: the cookie holds a random id + HMAC; the data lives in SQL.

The id is renewed at login (no fixation) and the row is deleted at logout or when the
provider's back-channel logout names its `sid`.
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
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Session:
    """The request's session; changes are saved after the handler returns."""

    def __init__(self, session_id: str | None, data: dict[str, Any] | None) -> None:
        self.id = session_id
        self.data: dict[str, Any] = data or {}
        self.dirty = False
        self.dropped: list[str] = []
        self.cleared = False

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
        token = self.data.get("csrf")
        if not token:
            token = self["csrf"] = secrets.token_urlsafe(32)
        return str(token)

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
    request[SESSION] = session
    _sticky_lang(request, session)
    response = await handler(request)
    await _persist(request, session, response)
    return response


def _sticky_lang(request: web.Request, session: Session) -> None:
    lang = request.query.get("lang")
    if lang in ("zh", "en") and session.get("lang") != lang:
        session["lang"] = lang


async def _persist(request: web.Request, session: Session, response: web.StreamResponse) -> None:
    settings, clock = request.app[SETTINGS], request.app[CLOCK]
    async with request.app[DB]() as db:
        for old in session.dropped:
            await sessions.drop(db, old)
        if not session.dirty:
            return
        if session.id is None:
            session.id = secrets.token_urlsafe(32)
        await sessions.save(
            db,
            session.id,
            session.data,
            op_sid=session.get("op_sid"),
            now=clock(),
            ttl=dt.timedelta(seconds=settings.session_ttl_seconds),
        )
    response.set_cookie(
        COOKIE,
        sign(settings.session_secret, session.id),
        httponly=True,
        samesite="Lax",
        secure=settings.secure_cookies,
        path="/",
        max_age=settings.session_ttl_seconds,
    )
