"""窗口授权 for agency staff (seed 000 §3.1.2): search, details, upload, agents, grants."""

from __future__ import annotations

from aiohttp import web

from portal.errors import FormError, PortalError, UploadRequired
from portal.http.forms import int_list, person_input
from portal.http.guards import staff_of
from portal.http.keys import DB, SETTINGS
from portal.http.render import redirect, render
from portal.services import agents, companies, counter

routes = web.RouteTableDef()


@routes.get("/counter")
async def search(request: web.Request) -> web.Response:
    """Search by 统一社会信用代码 or 单位编号."""
    staff_of(request)
    query = request.query.get("q", "").strip()
    if not query:
        return render(request, "counter/search.html")
    try:
        async with request.app[DB]() as db:
            company = await companies.search(db, query)
    except FormError as exc:
        return render(request, "counter/search.html", {"error": exc}, status=404)
    return redirect(f"/counter/{company.credit_code}")


@routes.get("/counter/{code}")
async def detail(request: web.Request) -> web.Response:
    return await _detail(request)


async def _detail(
    request: web.Request, *, error: PortalError | None = None, notice: str = ""
) -> web.Response:
    staff = staff_of(request)
    selected = request.query.get("agent", "")
    async with request.app[DB]() as db:
        company = await companies.require(db, request.match_info["code"])
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
    staff = staff_of(request)
    settings = request.app[SETTINGS]
    data = await request.post()
    field = data.get("file")
    try:
        if not isinstance(field, web.FileField):
            raise UploadRequired()
        content = field.file.read(settings.max_upload_bytes + 1)
        async with request.app[DB]() as db:
            company = await companies.require(db, request.match_info["code"])
            await counter.save_upload(
                db,
                staff,
                company,
                field.filename or "",
                content,
                upload_dir=settings.upload_dir,
                max_bytes=settings.max_upload_bytes,
            )
    except FormError as exc:
        return await _detail(request, error=exc)
    return redirect(f"/counter/{request.match_info['code']}?uploaded=1")


@routes.post("/counter/{code}/upload/{upload_id}/delete")
async def upload_delete(request: web.Request) -> web.Response:
    staff = staff_of(request)
    async with request.app[DB]() as db:
        company = await companies.require(db, request.match_info["code"])
        await counter.delete_upload(db, staff, company, int(request.match_info["upload_id"]))
    return redirect(f"/counter/{company.credit_code}")


@routes.post("/counter/{code}/agents")
async def agent_add(request: web.Request) -> web.Response:
    staff = staff_of(request)
    values = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    try:
        async with request.app[DB]() as db:
            company = await companies.require(db, request.match_info["code"])
            agent = await agents.add(db, staff, company, person_input(request, values))
    except FormError as exc:
        return await _detail(request, error=exc)
    return redirect(f"/counter/{company.credit_code}?agent={agent.id}")


@routes.post("/counter/{code}/submit")
async def submit(request: web.Request) -> web.Response:
    """提交办理: grant the ticked relationships to the chosen agent (added, never removed)."""
    staff = staff_of(request)
    data = await request.post()
    relationship_ids = int_list([str(v) for v in data.getall("relationship", [])])
    try:
        agent_id = int(str(data.get("agent", "")))
    except ValueError:
        agent_id = 0
    try:
        async with request.app[DB]() as db:
            company = await companies.require(db, request.match_info["code"])
            agent = await agents.get(db, company, agent_id)
            await counter.submit(db, staff, company, agent, relationship_ids)
    except FormError as exc:
        return await _detail(request, error=exc)
    return redirect(f"/counter/{company.credit_code}?agent={agent.id}&submitted=1")
