"""The accounts endpoint authsvc calls during a scan (docs/api.md, last section)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from portal.clock import epoch, from_epoch
from portal.errors import InvalidAccountsRequest
from portal.http.forms import read_bounded
from portal.http.keys import CLOCK, DB, PROVIDER, SETTINGS
from portal.oidc import tokens
from portal.rules.roles import Identity
from portal.services import replay
from portal.services.accounts import accounts_for

routes = web.RouteTableDef()
MAX_BODY = 16 * 1024
TYP = "accounts-request+jwt"


@routes.post("/api/accounts")
async def accounts(request: web.Request) -> web.Response:
    """Verify the broker's signed request, then answer this person's accounts or 404."""
    body = await read_bounded(request, MAX_BODY)
    settings = request.app[SETTINGS]
    expect = tokens.Expect(
        issuer=settings.authsvc_issuer,
        audience=settings.client_id,
        now=epoch(request.app[CLOCK]()),
        typ=TYP,
    )
    try:
        claims = await request.app[PROVIDER].verify(body.decode("ascii").strip(), expect)
        id_number, name, identity = tokens.check_accounts_request(claims)
        jti, exp = tokens.replay_id(claims)
        wanted = Identity(identity)
    except (tokens.TokenInvalid, UnicodeError, ValueError) as exc:
        raise InvalidAccountsRequest(str(exc)) from None
    async with request.app[DB]() as db:
        if not await replay.first_use(db, "accounts", jti, from_epoch(exp + tokens.LEEWAY_SECONDS)):
            raise InvalidAccountsRequest("accounts request replayed")
        found = await accounts_for(db, id_number, name, wanted)
    return web.json_response({"accounts": [a.wire() for a in found]})


@functools.cache
def description() -> dict[str, Any]:
    """portal/http/openapi.yaml, read once: the machine endpoints, in OpenAPI 3.1."""
    loaded: dict[str, Any] = yaml.safe_load(
        Path(__file__).with_name("openapi.yaml").read_text(encoding="utf-8")
    )
    return loaded


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    public = request.app[SETTINGS].public_url
    return web.json_response({**description(), "servers": [{"url": public}]})
