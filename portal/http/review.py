"""经办机构 review queue (seed 001 items 5, 20, 25, 28): staff of one agency accept, pick up,
approve or return (with a reason) the applications filed to that agency."""

from __future__ import annotations

from aiohttp import web

from portal.http.business import common, origin_of
from portal.http.forms import form, int_param
from portal.http.guards import staff_of
from portal.http.keys import BUSINESS_CLOCK, DB
from portal.http.mybusiness import file_response
from portal.http.render import redirect, render
from portal.rules.applications import Op, State, timeline
from portal.services import applications, review

routes = web.RouteTableDef()
OPS = {"accept": Op.ACCEPT, "pickup": Op.PICKUP, "approve": Op.APPROVE, "return": Op.RETURN}


@routes.get("/review")
async def queue(request: web.Request) -> web.Response:
    wanted = request.query.get("state", "")
    states = (
        (State(wanted),) if wanted in {str(s) for s in State} - {"draft"} else review.QUEUE_STATES
    )
    async with request.app[DB]() as db:
        await staff_of(request, db)
        agency = await review.agency_of(db, origin_of(request))
        rows = await review.queue(db, agency, states)
    return render(
        request,
        "review/queue.html",
        {"rows": rows, "agency": agency, "wanted": wanted, **common(request)},
    )


@routes.get("/review/{app_id}")
async def detail(request: web.Request) -> web.Response:
    async with request.app[DB]() as db:
        staff = await staff_of(request, db)
        agency = await review.agency_of(db, origin_of(request))
        app = await review.get(db, agency, int_param(request, "app_id"))
    return render(
        request,
        "review/detail.html",
        {
            "app": app,
            "agency": agency,
            "staff": staff,
            "nodes": timeline(applications.status_of(app), app.filer_name),
            **common(request),
        },
    )


@routes.post("/review/{app_id}/{op}")
async def act(request: web.Request) -> web.Response:
    op = OPS.get(request.match_info["op"])
    if op is None:
        raise web.HTTPNotFound()
    values = await form(request)
    app_id = int_param(request, "app_id")
    async with request.app[DB]() as db:
        await staff_of(request, db)
        await review.act(
            db,
            origin_of(request),
            app_id,
            op,
            now=request.app[BUSINESS_CLOCK](),
            reason=values.get("reason", ""),
        )
    return redirect(f"/review/{app_id}?done={op}")


@routes.get("/review/{app_id}/attachments/{att_id}")
async def attachment(request: web.Request) -> web.StreamResponse:
    async with request.app[DB]() as db:
        await staff_of(request, db)
        agency = await review.agency_of(db, origin_of(request))
        app = await review.get(db, agency, int_param(request, "app_id"))
    return file_response(request, app, int_param(request, "att_id"))
