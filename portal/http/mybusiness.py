"""我的办件 (list, filters, 导出全部), the detail with its timeline, 提交 / 撤回, 办理进度查询 and
the company's insured persons (seed 001 items 3, 5, 9, 28, 47; seed 002 单位办件)."""

from __future__ import annotations

from aiohttp import web

from portal.coresys import SqlCoreSystem
from portal.errors import NotFound, PortalError
from portal.http.business import common, origin_of, storage_of
from portal.http.forms import int_param
from portal.http.guards import company_for
from portal.http.keys import BUSINESS_CLOCK, DB, WINDOW
from portal.http.render import redirect, render
from portal.rules.applications import STATE_LABELS, UNCLAIMED, State, timeline
from portal.rules.roles import Module
from portal.services import access as access_service
from portal.services import application_queries as queries
from portal.services import applications

routes = web.RouteTableDef()


@routes.get("/uc/{code}/business")
async def my_business(request: web.Request) -> web.Response:
    filters = queries.Filters.of(dict(request.query))
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.MY_BUSINESS)
        access = await access_service.access_for(db, actor, company)
        rows = await queries.search(db, company, access, filters)
        counts = await queries.counts(db, company, access)
    return render(
        request,
        "business/list.html",
        {
            "company": company,
            "rows": rows,
            "filters": filters,
            "counts": counts,
            "states": [(str(s), *STATE_LABELS[s]) for s in State],
            **common(request),
        },
    )


@routes.get("/uc/{code}/business.csv")
async def export(request: web.Request) -> web.Response:
    """导出全部: every application the filters find, as CSV."""
    filters = queries.Filters.of(dict(request.query))
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.MY_BUSINESS)
        access = await access_service.access_for(db, actor, company)
        rows = await queries.search(db, company, access, filters, limit=100_000)
    return web.Response(
        body=queries.to_csv(rows),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="banjian-{company.credit_code}.csv"'
        },
    )


@routes.get("/uc/{code}/progress")
async def progress(request: web.Request) -> web.Response:
    """办理进度查询: 单位业务查询 (by month), 人员业务查询 (by ID number), 受理流水号查询."""
    filters = queries.Filters.of(dict(request.query))
    searched = bool(filters.month or filters.id_number or filters.serial)
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.MY_BUSINESS)
        access = await access_service.access_for(db, actor, company)
        rows = await queries.search(db, company, access, filters) if searched else []
    return render(
        request,
        "business/progress.html",
        {
            "company": company,
            "rows": rows,
            "filters": filters,
            "searched": searched,
            **common(request),
        },
    )


@routes.get("/uc/{code}/business/{app_id}")
async def detail(request: web.Request) -> web.Response:
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.MY_BUSINESS)
        access = await access_service.access_for(db, actor, company)
        app = await applications.get_for_company(db, company, int_param(request, "app_id"))
        access.check(app.item_code, app.relationship_id)
    return render(
        request,
        "business/detail.html",
        {
            "company": company,
            "app": app,
            "nodes": timeline(applications.status_of(app), app.filer_name),
            "may_withdraw": State(app.state) in UNCLAIMED or app.state == State.DRAFT,
            "final": app.state in (State.RETURNED, State.WITHDRAWN),
            **common(request),
        },
    )


@routes.post("/uc/{code}/business/{app_id}/submit")
async def submit(request: web.Request) -> web.Response:
    """提交 a 待提交 application (inside the business window)."""
    return await _act(request, "submit")


@routes.post("/uc/{code}/business/{app_id}/withdraw")
async def withdraw(request: web.Request) -> web.Response:
    """撤回: before a reviewer has picked it up."""
    return await _act(request, "withdraw")


async def _act(request: web.Request, what: str) -> web.Response:
    app_id = int_param(request, "app_id")
    now = request.app[BUSINESS_CLOCK]()
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.MY_BUSINESS)
        access = await access_service.access_for(db, actor, company)
        if what == "submit":
            await applications.submit(
                db, origin_of(request), company, access, app_id, now=now, window=request.app[WINDOW]
            )
        else:
            await applications.withdraw(db, origin_of(request), company, access, app_id, now=now)
    flag = "submitted_ok" if what == "submit" else "withdrawn"
    return redirect(f"/uc/{company.credit_code}/business/{app_id}?{flag}=1")


@routes.get("/uc/{code}/business/{app_id}/attachments/{att_id}")
async def attachment(request: web.Request) -> web.StreamResponse:
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.MY_BUSINESS)
        access = await access_service.access_for(db, actor, company)
        app = await applications.get_for_company(db, company, int_param(request, "app_id"))
        access.check(app.item_code, app.relationship_id)
    return file_response(request, app, int_param(request, "att_id"))


def file_response(
    request: web.Request, app: applications.Application, att_id: int
) -> web.FileResponse:
    found = next((a for a in app.attachments if a.id == att_id), None)
    if found is None:
        raise NotFound(request.path)
    return web.FileResponse(
        applications.attachment_path(storage_of(request), found),
        headers={
            "Content-Type": found.content_type,
            "Content-Disposition": "attachment",
            "X-Content-Type-Options": "nosniff",
        },
    )


@routes.get("/uc/{code}/roster")
async def roster(request: web.Request) -> web.Response:
    """参保人员: the core system's insured persons of the company's (granted) relationships."""
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.MY_BUSINESS)
        access = await access_service.access_for(db, actor, company)
        granted = [r for r in company.relationships if access.may_relationship(r.id)]
        entries = await SqlCoreSystem(db).roster(
            [r.unit_no for r in granted], [(r.unit_no, r.insurance_type) for r in granted]
        )
    return render(
        request, "business/roster.html", {"company": company, "entries": entries, **common(request)}
    )


__all__ = ["PortalError", "routes"]
