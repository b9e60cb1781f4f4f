"""单位权益单 (the certificate form and its PDF) and 受理单 (an application's receipt PDF).

Seed 003 三、5: 单位中心 → 单位权益单 → 选择险种、时间段 → 预览权益单 → 下载. Seed 001 items 11,
27, 39, 42, 63: 【受理单】 opens the receipt as an ordinary PDF (seal drawn in the page), or
says 暂无单据 when the agency has produced none yet.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from urllib.parse import quote

from aiohttp import web

from portal.clock import china_today
from portal.documents import pdf
from portal.errors import PortalError
from portal.http.certificates import CERT_KEYS
from portal.http.forms import form, int_param
from portal.http.guards import company_for
from portal.http.keys import BUSINESS_CLOCK, DB, SETTINGS
from portal.http.render import render
from portal.rules.roles import Module
from portal.services import access as access_service
from portal.services import applications, documents

routes = web.RouteTableDef()


def signer_of(request: web.Request) -> documents.Signer:
    return documents.Signer(
        keyring=request.app[CERT_KEYS],
        issuer=request.app[SETTINGS].public_url,
        now=request.app[BUSINESS_CLOCK](),
    )


async def pdf_response(request: web.Request, document: pdf.Document, name: str) -> web.Response:
    """Rendered off the event loop; inline, so the browser previews it (下载 saves it)."""
    data = await asyncio.to_thread(pdf.render, document, font_path=request.app[SETTINGS].cjk_font)
    disposition = "attachment" if request.query.get("download") else "inline"
    return web.Response(
        body=data,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
            "X-Document-Number": document.number,
        },
    )


def default_period(now: dt.datetime) -> tuple[str, str]:
    today = china_today(now)
    index = today.year * 12 + today.month - 1 - 5
    return f"{index // 12:04d}-{index % 12 + 1:02d}", f"{today:%Y-%m}"


@routes.get("/uc/{code}/certificate")
async def certificate_form(request: web.Request) -> web.Response:
    return await _certificate_page(request)


async def _certificate_page(
    request: web.Request, *, error: PortalError | None = None, values: dict[str, str] | None = None
) -> web.Response:
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.CERTIFICATE)
        access = await access_service.access_for(db, actor, company)
    relationships = [r for r in company.relationships if access.may("certificate", r.id)]
    start, end = default_period(request.app[BUSINESS_CLOCK]())
    return render(
        request,
        "documents/certificate.html",
        {
            "company": company,
            "relationships": relationships,
            "values": values or {"start": start, "end": end},
            "error": error,
            "may_print": access.may_item("certificate"),
        },
        status=error.status if error else 200,
    )


@routes.post("/uc/{code}/certificate")
async def certificate_pdf(request: web.Request) -> web.Response:
    """预览权益单: a new certificate (number, QR) for the chosen insurance type and period."""
    values = await form(request)
    signer = signer_of(request)
    try:
        async with request.app[DB]() as db:
            actor, company = await company_for(request, db, Module.CERTIFICATE)
            access = await access_service.access_for(db, actor, company)
            relationship = documents.relationship_for(
                company, access, _int(values.get("relationship", ""))
            )
            span = documents.period(values.get("start", ""), values.get("end", ""), now=signer.now)
            document = await documents.unit_certificate(
                db, actor, company, relationship, span, signer
            )
            response = await pdf_response(request, document, f"单位参保证明-{document.number}.pdf")
            await db.commit()
    except PortalError as exc:
        if exc.status != 400:
            raise
        return await _certificate_page(request, error=exc, values=values)
    return response


@routes.get("/uc/{code}/business/{app_id}/receipt.pdf")
async def receipt_pdf(request: web.Request) -> web.Response:
    """【受理单】: the receipt of an accepted application, or 暂无单据."""
    signer = signer_of(request)
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.MY_BUSINESS)
        access = await access_service.access_for(db, actor, company)
        app = await applications.get_for_company(db, company, int_param(request, "app_id"))
        access.check(app.item_code, app.relationship_id)
        document = documents.receipt(db, actor, company, app, signer)
        response = await pdf_response(request, document, f"受理单-{document.number}.pdf")
        await db.commit()
    return response


def _int(value: str) -> int:
    return int(value) if value.isdigit() else 0
