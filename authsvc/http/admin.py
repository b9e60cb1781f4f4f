"""The operator's API behind `AUTHSVC_ADMIN_TOKEN`: e-card status, audit, revoking a login."""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from authsvc import errors
from authsvc.http.common import broker, json_response
from authsvc.services import ecards, tokens

routes = web.RouteTableDef()


def _require_admin(request: web.Request) -> None:
    expected = broker(request).settings.admin_token
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        raise errors.AdminTokenInvalid()


@routes.get("/api/admin/ecards/{card_no}")
async def admin_card(request: web.Request) -> web.Response:
    _require_admin(request)
    return json_response(await ecards.record_of(broker(request), request.match_info["card_no"]))


@routes.post("/api/admin/ecards/{card_no}/{action}")
async def admin_card_action(request: web.Request) -> web.Response:
    _require_admin(request)
    record = await ecards.apply_action(
        broker(request), request.match_info["card_no"], request.match_info["action"]
    )
    return json_response(record)


@routes.get("/api/admin/audit")
async def admin_audit(request: web.Request) -> web.Response:
    _require_admin(request)
    limit = (
        int(request.query.get("limit", "100"))
        if request.query.get("limit", "100").isdigit()
        else 100
    )
    records: list[dict[str, Any]] = await broker(request).store.audit_records(min(limit, 1000))
    return json_response({"records": records})


@routes.post("/api/admin/tickets/{ticket_id}/revoke")
async def admin_revoke(request: web.Request) -> web.Response:
    """Remedy: revoke every token issued from one ticket at once."""
    _require_admin(request)
    count = await tokens.revoke_ticket(
        broker(request), request.match_info["ticket_id"], reason="admin"
    )
    return json_response({"revoked": count})
