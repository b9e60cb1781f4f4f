"""首页, 办事中心 (later), 单位注册 (seed 000 §5.1, seed 002 法定代表人注册)."""

from __future__ import annotations

from aiohttp import web

from portal.clock import china_today
from portal.errors import AgreementRequired, FormError, NotFound, TooManyAttempts
from portal.http.forms import form
from portal.http.keys import CLOCK, DB, REGISTRIES
from portal.http.render import redirect, render
from portal.http.session import get_session
from portal.rules import creditcode, idcard, limits
from portal.rules.people import ID_TYPES, clean_name
from portal.rules.registration import Application
from portal.services import companies, throttle

routes = web.RouteTableDef()


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    return render(request, "home.html")


@routes.get("/register")
async def register_form(request: web.Request) -> web.Response:
    return render(request, "register.html", {"values": {}, "id_types": ID_TYPES})


@routes.post("/register")
async def register(request: web.Request) -> web.Response:
    """单位注册, bounded per client address and per credit code (rules.limits): 429 beyond."""
    values = await form(request)
    try:
        async with request.app[DB]() as db:
            now = request.app[CLOCK]()
            await throttle.hit(db, limits.REGISTER_PER_ADDRESS, request.remote or "", now)
            application = _application(values, request)
            await throttle.hit(db, limits.REGISTER_PER_CREDIT_CODE, application.credit_code, now)
            company = await companies.register(db, request.app[REGISTRIES], application)
    except (FormError, TooManyAttempts) as exc:
        response = render(
            request,
            "register.html",
            {"values": values, "id_types": ID_TYPES, "error": exc},
            status=exc.status,
        )
        response.headers.update(exc.headers())
        return response
    get_session(request)["registered"] = company.credit_code
    return redirect(f"/register/done?code={company.credit_code}")


def _application(values: dict[str, str], request: web.Request) -> Application:
    if values.get("agree") != "on":
        raise AgreementRequired()
    today = china_today(request.app[CLOCK]())
    return Application(
        credit_code=creditcode.validate(values.get("credit_code", "")),
        company_name=values.get("company_name", "").strip(),
        legal_rep_id_type=values.get("id_type", ID_TYPES[0]),
        legal_rep_id_number=idcard.validate(values.get("id_number", ""), today=today),
        legal_rep_name=clean_name(values.get("legal_rep_name", "")),
    )


@routes.get("/register/done")
async def register_done(request: web.Request) -> web.Response:
    """注册成功, for the session that registered only: to anyone else the page does not say
    whether a company is registered, nor its name (issue 12)."""
    code = request.query.get("code", "")
    if not code or get_session(request).get("registered") != code:
        raise NotFound(request.path)
    async with request.app[DB]() as db:
        company = await companies.by_code(db, code) if creditcode.is_valid(code) else None
    return render(request, "register_done.html", {"company": company})
