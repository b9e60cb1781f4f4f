"""Small request helpers shared by the handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from authsvc import errors
from authsvc.core import fastjson, forwarded, language
from authsvc.http.appkeys import BROKER
from authsvc.services.broker import Broker
from authsvc.store.base import GuardedHit


def broker(request: web.Request) -> Broker:
    return request.app[BROKER]


async def read_body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise errors.BodyTooLarge() from exc


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        value = fastjson.loads(body or b"{}")
    except ValueError as exc:  # orjson's JSONDecodeError, invalid UTF-8 and deep nesting too
        raise errors.MalformedJson() from exc
    if not isinstance(value, dict):
        raise errors.MalformedJson("not an object")
    return value


async def read_json(request: web.Request) -> dict[str, Any]:
    return parse_json(await read_body(request))


def field(body: dict[str, Any], name: str, *, max_len: int = 512) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise errors.InvalidRequest(f"{name} missing or invalid")
    return value


def client_ip(request: web.Request) -> str:
    """The browser's address: the socket's peer, or behind proxies listed in
    AUTHSVC_TRUSTED_PROXIES the rightmost X-Forwarded-For entry that is not one of them."""
    trusted = broker(request).settings.trusted_proxies
    remote = request.remote or ""
    if not trusted:
        return remote
    headers = request.headers.getall("X-Forwarded-For", [])
    return forwarded.browser_ip(remote, headers, trusted)[:64]


def lang(request: web.Request) -> str:
    """zh first; English by ?lang=en / ui_locales=en (OIDC Core §3.1.2.1) or an Accept-Language
    that prefers it (negotiated by Babel, authsvc/core/language.py)."""
    chosen = language.explicit(request.query.get("lang") or request.query.get("ui_locales", ""))
    return chosen or language.negotiate(request.headers.get("Accept-Language", ""))


def state_message(event: dict[str, Any]) -> dict[str, Any]:
    """A published ticket event as the browser gets it: without the publish time."""
    return {"type": "state", **{k: v for k, v in event.items() if k != "published_at"}}


def json_response(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        body=fastjson.dumps_bytes(body),
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `limit` hits per fixed `window` (seconds) on `bucket` for `subject` (an IP, a
    device); the next one is refused 429 with `Retry-After` = the window (an upper bound)."""

    bucket: str
    subject: str
    limit: int
    window: float = 60.0

    @property
    def key(self) -> str:
        """The counter's name for `Store.hit` (or a Store read that hits it on the way)."""
        return f"rl:{self.bucket}:{self.subject}"

    def as_hit(self) -> GuardedHit:
        """The hit for a store step that counts it on the way (`GuardedHit`)."""
        return GuardedHit(self.key, self.window, self.limit, f"{self.bucket} {self.subject}")

    def check(self, count: int) -> None:
        """Refuse the hit that brought the counter to `count`, if that is past the limit."""
        self.as_hit().check(count)


async def count_hit(request: web.Request, limit: RateLimit) -> None:
    """One hit on `limit`'s counter, refused past it."""
    limit.check(await broker(request).store.hit(limit.key, window=limit.window))


async def rate_limit(
    request: web.Request, bucket: str, subject: str, limit: int, *, window: float = 60.0
) -> None:
    """`count_hit` on `RateLimit(bucket, subject, limit, window)`."""
    await count_hit(request, RateLimit(bucket, subject, limit, window))
