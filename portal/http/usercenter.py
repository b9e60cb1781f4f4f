"""用户中心: company details, 授权登录 (agents, administrator, grants), audit (seed 000 §3.1.1)."""

from __future__ import annotations

from aiohttp import web

from portal.errors import Forbidden, FormError, PortalError
from portal.http.forms import form, int_list, int_param, person_input
from portal.http.guards import actor_of, company_for, current_actor
from portal.http.keys import DB, PROVIDER
from portal.http.render import redirect, render
from portal.http.session import SESSION
from portal.rules import items, phone, text
from portal.rules.roles import Module, Role, is_company_role
from portal.services import agents, audit, companies, mycard
from portal.services.actor import Actor

routes = web.RouteTableDef()
ACTION_LABELS = {
    "company.register": ("单位注册", "Company registered"),
    "company.profile": ("修改资料", "Details changed"),
    "agent.add": ("添加经办人", "Agent added"),
    "agent.update": ("修改经办人", "Agent changed"),
    "agent.delete": ("删除经办人", "Agent deleted"),
    "grant.change": ("单位授权", "Grants changed"),
    "admin.add": ("设置管理员", "Administrator set"),
    "admin.delete": ("删除管理员", "Administrator removed"),
    "counter.upload": ("窗口上传授权书", "Counter upload"),
    "counter.upload_delete": ("删除授权书", "Counter upload deleted"),
    "login": ("扫码登录", "Logged in"),
    "application.save": ("保存办件", "Application saved"),
    "application.submit": ("提交办件", "Application submitted"),
    "application.withdraw": ("撤回办件", "Application withdrawn"),
    "application.accept": ("受理办件", "Application accepted"),
    "application.pickup": ("领取审核", "Picked up for review"),
    "application.approve": ("审核通过", "Application approved"),
    "application.return": ("退回办件", "Application returned"),
}


@routes.get("/usercenter")
async def usercenter(request: web.Request) -> web.Response:
    claimed = actor_of(request)
    if is_company_role(claimed.role):
        return redirect(f"/uc/{claimed.credit_code}")
    async with request.app[DB]() as db:
        actor = await current_actor(request, db)
    return await _personal(request, actor)


async def _personal(
    request: web.Request, actor: Actor, answer: mycard.CardAnswer | None = None
) -> web.Response:
    """个人用户主页面 with 我的社会保障卡 (seed 004), read live from authsvc."""
    token = str(request[SESSION].get("access_token") or "")
    card = await mycard.my_card(request.app[PROVIDER], token)
    return render(
        request,
        "usercenter/personal.html",
        {"actor": actor, "card": card.card, "card_states": mycard.STATES, "refusal": answer},
    )


@routes.post("/usercenter/card/report-lost")
async def card_report_lost(request: web.Request) -> web.Response:
    """卡挂失: on success every session of the person ends (this one too) — say so and go."""
    async with request.app[DB]() as db:
        actor = await current_actor(request, db)
    answer = await mycard.report_lost(
        request.app[PROVIDER], str(request[SESSION].get("access_token") or "")
    )
    if answer.card is None:
        return await _personal(request, actor, answer)
    request[SESSION].clear()
    return render(request, "usercenter/card_lost.html", {"card": answer.card})


@routes.get("/uc/{code}")
async def company_home(request: web.Request) -> web.Response:
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.BASIC_INFO)
        relationships = list(company.relationships)
        granted_items: list[str] = []
        if actor.role is Role.AGENT:  # what the tables grant now, not what the login said
            granted = {(r.unit_no, r.insurance_type) for r in actor.relationships}
            relationships = [r for r in relationships if (r.unit_no, r.insurance_type) in granted]
            granted_items = list(actor.business_items)
        admin = await agents.admin_of(db, company)
    return render(
        request,
        "usercenter/company.html",
        {
            "company": company,
            "relationships": relationships,
            "admin": admin,
            "actor": actor,
            "granted_items": [items.get(code) for code in granted_items],
        },
    )


@routes.get("/uc/{code}/agents")
async def agent_list(request: web.Request) -> web.Response:
    return await _agents_page(request)


async def _agents_page(
    request: web.Request,
    *,
    error: PortalError | None = None,
    values: dict[str, str] | None = None,
) -> web.Response:
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.AUTHORIZE)
        rows = await agents.list_for(db, company)
        admin = await agents.admin_of(db, company)
        log = await audit.for_company(db, company.id, limit=20)
    return render(
        request,
        "usercenter/agents.html",
        {
            "company": company,
            "agents": rows,
            "admin": admin,
            "audit": log,
            "actor": actor,
            "error": error,
            "values": values or {},
            "items": items.ITEMS,
            "action_labels": ACTION_LABELS,
        },
        status=error.status if error else 200,
    )


@routes.post("/uc/{code}/agents")
async def agent_add(request: web.Request) -> web.Response:
    values = await form(request)
    try:
        async with request.app[DB]() as db:
            actor, company = await company_for(request, db, Module.AUTHORIZE)
            await agents.add(db, actor, company, person_input(request, values))
    except FormError as exc:
        return await _agents_page(request, error=exc, values=values)
    return redirect(f"/uc/{company.credit_code}/agents?added=1")


@routes.get("/uc/{code}/agents/{agent_id}")
async def agent_edit_form(request: web.Request) -> web.Response:
    return await _agent_page(request)


async def _agent_page(
    request: web.Request,
    *,
    error: PortalError | None = None,
    values: dict[str, str] | None = None,
) -> web.Response:
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.AUTHORIZE)
        agent = await agents.get(db, company, int_param(request, "agent_id"))
    held = {g.relationship_id for g in agent.relationship_grants}
    held_items = {g.item_code for g in agent.item_grants}
    return render(
        request,
        "usercenter/agent.html",
        {
            "company": company,
            "agent": agent,
            "held": held,
            "held_items": held_items,
            "items": items.ITEMS,
            "error": error,
            "values": values or {},
            "actor": actor,
        },
        status=error.status if error else 200,
    )


@routes.post("/uc/{code}/agents/{agent_id}")
async def agent_update(request: web.Request) -> web.Response:
    values = await form(request)
    try:
        async with request.app[DB]() as db:
            actor, company = await company_for(request, db, Module.AUTHORIZE)
            agent = await agents.get(db, company, int_param(request, "agent_id"))
            # The form shows the ID number and phone masked: an empty field keeps the value.
            kept = {"id_number": agent.id_number, "phone": agent.phone}
            entered = {k: v for k, v in values.items() if v.strip() or k not in kept}
            person = person_input(request, {**kept, **entered})
            await agents.update(db, actor, company, agent, person)
    except FormError as exc:
        return await _agent_page(request, error=exc, values=values)
    return redirect(f"/uc/{company.credit_code}/agents/{agent.id}?saved=1")


@routes.post("/uc/{code}/agents/{agent_id}/delete")
async def agent_delete(request: web.Request) -> web.Response:
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.AUTHORIZE)
        agent = await agents.get(db, company, int_param(request, "agent_id"))
        await agents.delete(db, actor, company, agent)
    return redirect(f"/uc/{company.credit_code}/agents?deleted=1")


@routes.post("/uc/{code}/agents/{agent_id}/grants")
async def agent_grants(request: web.Request) -> web.Response:
    """单位授权: the ticked relationships and items are exactly what the agent holds."""
    data = await request.post()
    relationship_ids = int_list([str(v) for v in data.getall("relationship", [])])
    item_codes = [str(v) for v in data.getall("item", [])]
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.AUTHORIZE)
        agent = await agents.get(db, company, int_param(request, "agent_id"))
        await agents.set_grants(db, actor, company, agent, relationship_ids, item_codes)
    return redirect(f"/uc/{company.credit_code}/agents/{agent.id}?granted=1")


@routes.post("/uc/{code}/admin")
async def admin_set(request: web.Request) -> web.Response:
    """管理员: only the legal representative adds or removes the one administrator."""
    values = await form(request)
    try:
        async with request.app[DB]() as db:
            actor, company = await company_for(request, db, Module.AUTHORIZE)
            if actor.role is not Role.LEGAL_REP:
                raise Forbidden("only the legal representative sets the administrator")
            await agents.set_admin(db, actor, company, person_input(request, values))
    except FormError as exc:
        return await _agents_page(request, error=exc, values={})
    return redirect(f"/uc/{company.credit_code}/agents?admin=1")


@routes.post("/uc/{code}/admin/delete")
async def admin_delete(request: web.Request) -> web.Response:
    async with request.app[DB]() as db:
        actor, company = await company_for(request, db, Module.AUTHORIZE)
        if actor.role is not Role.LEGAL_REP:
            raise Forbidden("only the legal representative removes the administrator")
        await agents.remove_admin(db, actor, company)
    return redirect(f"/uc/{company.credit_code}/agents")


@routes.get("/uc/{code}/profile")
async def profile_form(request: web.Request) -> web.Response:
    return await _profile_page(request)


async def _profile_page(
    request: web.Request, *, error: PortalError | None = None, saved: bool = False
) -> web.Response:
    async with request.app[DB]() as db:
        _, company = await company_for(request, db, Module.EDIT_PROFILE)
    return render(
        request,
        "usercenter/profile.html",
        {"company": company, "error": error},
        status=error.status if error else 200,
    )


@routes.post("/uc/{code}/profile")
async def profile_save(request: web.Request) -> web.Response:
    values = await form(request)
    try:
        address = text.clean_text(values.get("address", ""), max_len=256)
        phone_no = phone.validate(values.get("legal_rep_phone", ""))
        async with request.app[DB]() as db:
            actor, company = await company_for(request, db, Module.EDIT_PROFILE)
            await companies.update_profile(
                db, actor, company, address=address, legal_rep_phone=phone_no
            )
    except FormError as exc:
        return await _profile_page(request, error=exc)
    return redirect(f"/uc/{company.credit_code}/profile?saved=1")
