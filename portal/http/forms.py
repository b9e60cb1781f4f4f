"""Reading form fields."""

from __future__ import annotations

from aiohttp import web

from portal.clock import china_today
from portal.errors import InvalidRequest
from portal.http.keys import CLOCK
from portal.rules import people


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
