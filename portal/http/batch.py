"""批量办理: templates (XLSX, CSV), the upload, and 处理详情 → 结果 (seed 003 三、1(1), 2(1))."""

from __future__ import annotations

from aiohttp import web

from portal.documents import batch
from portal.errors import NotFound, PortalError, UploadRequired, UploadTooLarge
from portal.http.business import common, origin_of, storage_of
from portal.http.forms import int_param
from portal.http.guards import company_for
from portal.http.keys import BUSINESS_CLOCK, DB, SETTINGS, WINDOW
from portal.http.render import redirect, render
from portal.rules import items
from portal.rules.roles import Module
from portal.services import access as access_service
from portal.services import applications, batches

routes = web.RouteTableDef()


@routes.get("/uc/{code}/batch")
async def batch_page(request: web.Request) -> web.Response:
    return await _page(request)


async def _page(
    request: web.Request, *, error: PortalError | None = None, values: dict[str, str] | None = None
) -> web.Response:
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.BATCH)
        access = await access_service.access_for(db, actor, company)
        listed = await batches.for_company(db, company)
    shown = batches.batch_items(access)
    return render(
        request,
        "batch/index.html",
        {
            "company": company,
            "items": shown,
            "relationships": [r for r in company.relationships if access.may_relationship(r.id)],
            "attachments": [a for it in shown for a in it.attachments],
            "batches": listed,
            "error": error,
            "values": values or {"item": request.query.get("item", "")},
            **common(request),
        },
        status=error.status if error else 200,
    )


@routes.get("/uc/{code}/batch/template/{item}.{ext:(xlsx|csv)}")
async def template(request: web.Request) -> web.Response:
    """下载模板: the item's columns, required ones starred."""
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.BATCH)
        access = await access_service.access_for(db, actor, company)
    item = items.get(request.match_info["item"])
    if not item.batch:
        raise NotFound(item.code)
    access.check(item.code, item_only=True)
    spec = batch.spec_for(item)
    if request.match_info["ext"] == "csv":
        body, content_type = batch.template_csv(spec), "text/csv"
    else:
        body, content_type = batch.template_xlsx(spec), batch.XLSX_TYPE
    name = f"{item.code}-template.{request.match_info['ext']}"
    return web.Response(
        body=body,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.post("/uc/{code}/batch")
async def upload(request: web.Request) -> web.Response:
    """Read the whole file first; a malformed one changes nothing and says where it is wrong."""
    values, files = await _multipart(request, request.app[SETTINGS].max_upload_bytes)
    try:
        item = items.get(values.get("item", ""))
        filename, data = files.pop("file", ("", b""))
        if not data:
            raise UploadRequired("no file")
        attachments = tuple(
            applications.Upload(kind[4:], name, body)
            for kind, (name, body) in files.items()
            if kind.startswith("att-") and body
        )
        relationship = values.get("relationship", "")
        upload_ = batches.BatchUpload(
            item, int(relationship) if relationship.isdigit() else None, filename, data, attachments
        )
        async with request.app[DB]() as db:
            actor, company = await company_for(request, db, Module.BATCH)
            access = await access_service.access_for(db, actor, company)
            record, notice = await batches.upload(
                db,
                origin_of(request),
                company,
                access,
                upload_,
                now=request.app[BUSINESS_CLOCK](),
                window=request.app[WINDOW],
                storage=storage_of(request),
            )
    except PortalError as exc:
        if exc.status in (401, 403) or exc.status >= 500:
            raise
        return await _page(request, error=exc, values=values)
    flag = "?outside_window=1" if notice is not None else ""
    return redirect(f"/uc/{company.credit_code}/batch/{record.id}{flag}")


@routes.get("/uc/{code}/batch/{batch_id:\\d+}")
async def result(request: web.Request) -> web.Response:
    """结果: every row of the file, filed or with its error."""
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.BATCH)
        access = await access_service.access_for(db, actor, company)
        record = await batches.get(db, company, int_param(request, "batch_id"))
        if record is None:
            raise NotFound("batch")
        access.check(record.item_code, record.relationship_id)
        app = (
            await applications.get_for_company(db, company, record.application_id)
            if record.application_id
            else None
        )
    return render(
        request,
        "batch/result.html",
        {
            "company": company,
            "record": record,
            "app": app,
            "item": items.get(record.item_code),
            "masked": batches.masked,
            **common(request),
        },
    )


async def _multipart(
    request: web.Request, max_bytes: int
) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """Text fields and files of the upload form (the body is already bounded by the app's
    client_max_size); a file over `max_bytes` is upload_too_large."""
    data = await request.post()
    values = {k: v for k, v in data.items() if isinstance(v, str)}
    files: dict[str, tuple[str, bytes]] = {}
    for name, field in data.items():
        if isinstance(field, web.FileField):
            content = field.file.read(max_bytes + 1)
            if len(content) > max_bytes:
                raise UploadTooLarge(f"{name} over {max_bytes}")
            files[name] = (field.filename or "", content)
    return values, files
