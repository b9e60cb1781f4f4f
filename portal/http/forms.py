"""Reading form fields."""

from __future__ import annotations

from aiohttp import web

from portal.clock import china_today
from portal.errors import BodyTooLarge, InvalidRequest
from portal.http.keys import CLOCK
from portal.rules import people


async def read_bounded(request: web.Request, limit: int) -> bytes:
    """The portal's one reader of a raw request body: at most `limit` bytes, else BodyTooLarge
    (before reading when Content-Length already says so). Forms go through `form` instead,
    bounded by the app's client_max_size."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(str(request.content_length))
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise BodyTooLarge()
    return body


async def form(request: web.Request) -> dict[str, str]:
    """Text fields of a urlencoded or multipart form (files left out)."""
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


def int_list(values: list[str]) -> list[int]:
    try:
        return [int(v) for v in values]
    except ValueError:
        raise InvalidRequest("not an integer") from None


def int_param(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except (KeyError, ValueError):
        raise InvalidRequest(name) from None


def person_input(request: web.Request, values: dict[str, str]) -> people.PersonInput:
    """证件号码、姓名、联系电话 from a form, validated (today in Beijing time)."""
    today = china_today(request.app[CLOCK]())
    return people.validate(
        values.get("id_number", ""), values.get("name", ""), values.get("phone", ""), today=today
    )
