"""我的社会保障卡 (seed 004) for relying portals: the login's access token (scope `ecard`)
reads the person's card and reports it lost (卡挂失). Reporting lost ends the person's sessions
everywhere by back-channel logout and refuses the next scan. 卡解挂 needs a fresh face check
of the holder, so it is done on the phone (/api/mobile/ecard/unlock) or by the operator."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from authsvc import errors
from authsvc.core.ecard import CardStatus
from authsvc.http.common import broker, json_response
from authsvc.services import ecards, logout, tokens
from authsvc.services.broker import Broker
from authsvc.store.records import AccessToken

routes = web.RouteTableDef()
SCOPE = "ecard"


async def _grant(request: web.Request) -> AccessToken:
    """The access token's record (RFC 6750 §2.1 bearer header), carrying the `ecard` scope."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    record = await tokens.access_token(broker(request), token)
    if record is None:
        raise errors.InvalidToken()
    if SCOPE not in record.scope:
        raise errors.InsufficientScope()
    return record


async def _current(b: Broker, grant: AccessToken) -> dict[str, Any]:
    record = await b.store.current_card(grant.person)
    if record is None:
        raise errors.EcardNotFound("no card for the token's person")
    return record


async def _view(b: Broker, grant: AccessToken, record: dict[str, Any]) -> dict[str, Any]:
    claims = grant.claims
    holder_state = ""
    id_number = str(claims.get("id_number", ""))
    if id_number:
        state = await b.registry.card_state(id_number)
        holder_state = str(state) if state else ""
    return {
        "name": record.get("name", ""),
        "id_number_masked": record.get("id_number_masked", ""),
        "ssc_no": record.get("ssc_no", ""),
        "issuer_place": record.get("issuer_place", ""),
        "card_state": holder_state,
        "ecard": {
            "card_no": record["card_no"],
            "status": record["status"],
            "reason": record.get("reason", ""),
        },
    }


@routes.get("/api/ecard/me")
async def my_card(request: web.Request) -> web.Response:
    b = broker(request)
    grant = await _grant(request)
    return json_response(await _view(b, grant, await _current(b, grant)))


@routes.post("/api/ecard/me/report-lost")
async def report_lost(request: web.Request) -> web.Response:
    """卡挂失: the e-card stops working at once; every session of the person ends."""
    b = broker(request)
    grant = await _grant(request)
    record = await _current(b, grant)
    if record["status"] != CardStatus.ACTIVE:
        raise errors.TicketStateConflict(
            f"report_lost from {record['status']}",
            zh="电子社保卡当前状态不允许挂失",
            en="The e-card cannot be reported lost in its state",
        )
    changed = await ecards.set_status(b, record["card_no"], "report_lost", actor="holder")
    view = await _view(b, grant, changed)
    view["sessions_ended"] = await logout.end_person_sessions(
        b, grant.person, reason="ecard_reported_lost"
    )
    return json_response(view)
