"""办事中心 and 我的办件 (seed 000 第4章; seed 001 items 3, 5, 9, 28, 41, 47): thin handlers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from portal.clock import china_today
from portal.db.models import Company
from portal.errors import ItemForbidden, NotFound, PortalError
from portal.http.guards import actor_of, company_for, current_actor
from portal.http.i18n import lang_of
from portal.http.keys import BUSINESS_CLOCK, DB, SETTINGS, WINDOW
from portal.http.render import redirect, render
from portal.http.session import SESSION
from portal.rules import fields, items
from portal.rules.access import Access
from portal.rules.applications import STATE_LABELS, State
from portal.rules.roles import Module, Role, is_company_role
from portal.services import access as access_service
from portal.services import application_queries as queries
from portal.services import applications, companies
from portal.services.applications import Filing, Origin, Storage, Upload

routes = web.RouteTableDef()
BATCH_ROWS = 5


def origin_of(request: web.Request) -> Origin:
    return Origin(actor_of(request), applications.login_ref(request[SESSION].id))


def storage_of(request: web.Request) -> Storage:
    settings = request.app[SETTINGS]
    return Storage(settings.upload_dir, settings.max_upload_bytes)


def common(request: web.Request) -> dict[str, Any]:
    return {
        "bj": queries.bj,
        "state_label": lambda s: STATE_LABELS[State(s)][1 if lang_of(request) == "en" else 0],
        "item_of": items.get,
        "field_label": lambda name: _label(name, lang_of(request)),
        "window": request.app[WINDOW],
        "window_open": request.app[WINDOW].is_open(request.app[BUSINESS_CLOCK]()),
    }


@routes.get("/banshi")
async def centre(request: web.Request) -> web.Response:
    """The catalogue; an agent sees only the items granted to them."""
    shown = list(items.ITEMS)
    account = request[SESSION].account
    if account and account["role"] == Role.AGENT:
        async with request.app[DB]() as db:
            actor = await current_actor(request, db)
            company = await _company(db, actor.credit_code)
            access = await access_service.access_for(db, actor, company)
        shown = [i for i in shown if access.may_item(i.code)]
    return render(request, "business/centre.html", {"shown": shown, **common(request)})


@routes.get("/banshi/{item}")
async def guide(request: web.Request) -> web.Response:
    """办理指南, shown before 立即办理."""
    item = _item(request)
    return render(request, "business/guide.html", {"item": item, **common(request)})


@routes.get("/banshi/{item}/apply")
async def apply_entry(request: web.Request) -> web.Response:
    """立即办理: into the logged-in company's form (login first)."""
    item = _item(request)
    async with request.app[DB]() as db:
        actor = await current_actor(request, db)
        if not is_company_role(actor.role):
            raise ItemForbidden(f"{actor.role}")
        company = await _company(db, actor.credit_code)
        (await access_service.access_for(db, actor, company)).check(item.code, item_only=True)
    if item.kind == "print":
        return redirect(f"/uc/{actor.credit_code}/certificate")
    return redirect(f"/uc/{actor.credit_code}/apply/{item.code}")


async def _company(db: AsyncSession, code: str) -> Company:
    company = await companies.by_code(db, code)
    if company is None:
        raise ItemForbidden("no company")
    return company


def _label(name: str, lang: str) -> str:
    field = fields.FIELDS.get(name)
    return name if field is None else field.en if lang == "en" else field.zh


def _item(request: web.Request) -> items.BusinessItem:
    try:
        return items.get(request.match_info["item"])
    except PortalError:
        raise NotFound(request.path) from None


@routes.get("/uc/{code}/apply/{item}")
async def apply_form(request: web.Request) -> web.Response:
    return await _form_page(request)


async def _form_page(
    request: web.Request,
    *,
    error: PortalError | None = None,
    values: dict[str, str] | None = None,
) -> web.Response:
    item = _item(request)
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.MY_BUSINESS)
        access = await access_service.access_for(db, actor, company)
        access.check(item.code, item_only=True)
        if item.kind != "apply":
            raise NotFound(request.path)
        relationships = [
            r
            for r in company.relationships
            if access.may_relationship(r.id) and item.allows(r.insurance_type)
        ]
        if not relationships:
            raise ItemForbidden("no relationship for this item")
        values = values if values is not None else await _prefill(request, db, company, access)
    return render(
        request,
        "business/apply.html",
        {
            "company": company,
            "item": item,
            "relationships": relationships,
            "values": values,
            "rows": range(BATCH_ROWS if item.batch else 1) if item.has_persons else range(0),
            "person_fields": [fields.FIELDS[f] for f in item.person_fields],
            "form_fields": [fields.FIELDS[f] for f in item.form_fields],
            "error": error,
            "row_errors": dict(getattr(error, "rows", []) or []),
            **common(request),
        },
        status=error.status if error else 200,
    )


async def _prefill(
    request: web.Request, db: AsyncSession, company: Company, access: Access
) -> dict[str, str]:
    """重新申报: a new application prefilled from a returned or withdrawn one."""
    source = request.query.get("from", "")
    if not source.isdigit():
        return {}
    old = await applications.get_for_company(db, company, int(source))
    access.check(old.item_code, old.relationship_id)
    values = {"relationship": str(old.relationship_id or ""), "refiled_from": str(old.id)}
    values |= {k: str(v) for k, v in old.form.items() if k in fields.FIELDS}
    for index, person in enumerate(old.persons):
        values[f"p-{index}-id_number"], values[f"p-{index}-name"] = person.id_number, person.name
        values |= {f"p-{index}-{k}": str(v) for k, v in person.data.items()}
    return values


@routes.post("/uc/{code}/apply/{item}")
async def apply_submit(request: web.Request) -> web.Response:
    item = _item(request)
    data = await request.post()
    values = {k: v for k, v in data.items() if isinstance(v, str)}
    now = request.app[BUSINESS_CLOCK]()
    try:
        async with request.app[DB]() as db:
            actor, company = await company_for(request, db, Module.MY_BUSINESS)
            access = await access_service.access_for(db, actor, company)
            access.check(item.code, item_only=True)
            filing = _filing(item, values, data, now)
            app, notice = await applications.file(
                db,
                origin_of(request),
                company,
                access,
                filing,
                now=now,
                window=request.app[WINDOW],
                storage=storage_of(request),
                submit=values.get("action") != "save",
            )
    except PortalError as exc:
        if exc.status in (401, 403, 404) or exc.status >= 500:
            raise
        return await _form_page(request, error=exc, values=values)
    flag = "outside_window" if notice else ("submitted" if app.serial_no else "saved")
    return redirect(f"/uc/{company.credit_code}/business/{app.id}?{flag}=1")


def _filing(
    item: items.BusinessItem, values: dict[str, str], data: Any, now: dt.datetime
) -> Filing:
    today = china_today(now)
    rows = [
        {k[len(f"p-{i}-") :]: v for k, v in values.items() if k.startswith(f"p-{i}-")}
        for i in range(fields.MAX_PERSONS)
        if f"p-{i}-id_number" in values
    ]
    uploads = []
    for attachment in item.attachments:
        upload = data.get(f"att-{attachment.kind}")
        if isinstance(upload, web.FileField):
            content = upload.file.read()
            if content:
                uploads.append(Upload(attachment.kind, upload.filename or "", content))
    relationship = values.get("relationship", "")
    refiled = values.get("refiled_from", "")
    return Filing(
        item=item,
        relationship_id=int(relationship) if relationship.isdigit() else None,
        form=fields.clean_form(item.form_fields, values),
        persons=tuple(fields.clean_rows(item.person_fields, rows, today=today))
        if item.has_persons
        else (),
        uploads=tuple(uploads),
        refiled_from=int(refiled) if refiled.isdigit() else None,
    )
