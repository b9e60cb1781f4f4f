"""窗口授权 for agency staff (seed 000 §3.1.2): search, details, upload, agents, grants.

Every request re-reads the staff member from the tables (guards.staff_of) and sees only the
companies their own agency serves (rules.agency); another agency's company is the same 404 as
an unknown one.
"""

from __future__ import annotations

from aiohttp import web

from portal.errors import FormError, PortalError, UploadRequired
from portal.http.forms import int_list, int_param, person_input
from portal.http.guards import staff_of
from portal.http.keys import DB, SETTINGS
from portal.http.render import redirect, render
from portal.rules import agency
from portal.services import agents, companies, counter

routes = web.RouteTableDef()


@routes.get("/counter")
async def search(request: web.Request) -> web.Response:
    """Search by 统一社会信用代码 or 单位编号."""
    query = request.query.get("q", "").strip()
    try:
        async with request.app[DB]() as db:
            staff = await staff_of(request, db)
            if not query:
                return render(request, "counter/search.html")
            company = await companies.search(db, query, staff.agency)
    except FormError as exc:
        return render(request, "counter/search.html", {"error": exc}, status=404)
    return redirect(f"/counter/{company.credit_code}")


@routes.get("/counter/{code}")
async def detail(request: web.Request) -> web.Response:
    return await _detail(request)


async def _detail(
    request: web.Request, *, error: PortalError | None = None, notice: str = ""
) -> web.Response:
    selected = request.query.get("agent", "")
    async with request.app[DB]() as db:
        staff = await staff_of(request, db)
        company = await companies.served_by(db, request.match_info["code"], staff.agency)
        rows = await agents.list_for(db, company)
        admin = await agents.admin_of(db, company)
        pending = await counter.pending_uploads(db, company, staff)
    chosen = next((a for a in rows if str(a.id) == selected), None)
    held = {g.relationship_id for g in chosen.relationship_grants} if chosen else set()
    return render(
        request,
        "counter/detail.html",
        {
            "company": company,
            "relationships": agency.at_agency(staff.agency, company.relationships),
            "agents": rows,
            "admin": admin,
            "uploads": pending,
            "chosen": chosen,
            "held": held,
            "error": error,
            "notice": notice,
            "max_mb": request.app[SETTINGS].max_upload_bytes // (1024 * 1024),
        },
        status=error.status if error else 200,
    )


@routes.post("/counter/{code}/upload")
async def upload(request: web.Request) -> web.Response:
    """上传材料: PNG, JPEG or PDF by magic bytes, at most PORTAL_MAX_UPLOAD_BYTES."""
    settings = request.app[SETTINGS]
    data = await request.post()
    field = data.get("file")
    try:
        async with request.app[DB]() as db:
            staff = await staff_of(request, db)
            company = await companies.served_by(db, request.match_info["code"], staff.agency)
            if not isinstance(field, web.FileField):
                raise UploadRequired()
            await counter.save_upload(
                db,
                staff,
                company,
                field.filename or "",
                field.file.read(settings.max_upload_bytes + 1),
                upload_dir=settings.upload_dir,
                max_bytes=settings.max_upload_bytes,
            )
    except FormError as exc:
        return await _detail(request, error=exc)
    return redirect(f"/counter/{company.credit_code}?uploaded=1")


@routes.post("/counter/{code}/upload/{upload_id}/delete")
async def upload_delete(request: web.Request) -> web.Response:
    """删除: the row and the signed form's file on disk."""
    async with request.app[DB]() as db:
        staff = await staff_of(request, db)
        company = await companies.served_by(db, request.match_info["code"], staff.agency)
        await counter.delete_upload(
            db,
            staff,
            company,
            int_param(request, "upload_id"),
            upload_dir=request.app[SETTINGS].upload_dir,
        )
    return redirect(f"/counter/{company.credit_code}")


@routes.post("/counter/{code}/agents")
async def agent_add(request: web.Request) -> web.Response:
    values = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    try:
        async with request.app[DB]() as db:
            staff = await staff_of(request, db)
            company = await companies.served_by(db, request.match_info["code"], staff.agency)
            agent = await agents.add(db, staff, company, person_input(request, values))
    except FormError as exc:
        return await _detail(request, error=exc)
    return redirect(f"/counter/{company.credit_code}?agent={agent.id}")


@routes.post("/counter/{code}/submit")
async def submit(request: web.Request) -> web.Response:
    """提交办理: grant the ticked relationships (of this agency) to the chosen agent."""
    data = await request.post()
    try:
        agent_id = int(str(data.get("agent", "")))
    except ValueError:
        agent_id = 0
    try:
        relationship_ids = int_list([str(v) for v in data.getall("relationship", [])])
        async with request.app[DB]() as db:
            staff = await staff_of(request, db)
            company = await companies.served_by(db, request.match_info["code"], staff.agency)
            agent = await agents.get(db, company, agent_id)
            own = {r.id: r for r in company.relationships}
            agency.check_grantable(staff.agency, relationship_ids, own)
            await counter.submit(db, staff, company, agent, relationship_ids)
    except FormError as exc:
        return await _detail(request, error=exc)
    return redirect(f"/counter/{company.credit_code}?agent={agent.id}&submitted=1")
