"""长辈模式 (the 适老化 mode of government sites: larger text, higher contrast), switched on and
off from the top bar of every page and kept in a cookie, so it works without JavaScript and the
server renders the page in that mode from the first byte (no flash of small text)."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
COOKIE = "elder"
ONE_YEAR = 365 * 24 * 3600


def elder_mode(request: web.Request) -> bool:
    return request.cookies.get(COOKIE) == "1"


def _local(target: str) -> str:
    """Only a path on this site (never `//host` or a scheme): the switch is no open redirect."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@routes.get("/elder-mode")
async def switch(request: web.Request) -> web.Response:
    """?on=1 switches 长辈模式 on, ?on=0 off; then back to `next`. A preference, not account
    state: it changes nothing on the server, so it needs no CSRF token."""
    target = _local(request.query.get("next", "/"))
    response = web.Response(status=303, headers={"Location": target})
    if request.query.get("on") == "1":
        response.set_cookie(COOKIE, "1", max_age=ONE_YEAR, path="/", samesite="Lax", httponly=True)
    else:
        response.del_cookie(COOKIE, path="/")
    return response
