"""Who may see what: the logged-in account, its company, its modules."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from portal.db.models import Company
from portal.errors import Forbidden, LoginRequired
from portal.http.session import SESSION
from portal.rules.roles import Module, Role, is_company_role, require_module
from portal.services import companies
from portal.services.actor import Actor


def actor_of(request: web.Request) -> Actor:
    account = request[SESSION].account
    if not account:
        raise LoginRequired(request.path)
    return Actor.from_session(account)


async def company_for(
    request: web.Request, db: AsyncSession, module: Module
) -> tuple[Actor, Company]:
    """The company in the URL, if and only if it is the logged-in account's company.

    An agent of company A asking for B's pages gets 403 and nothing happens.
    """
    actor = actor_of(request)
    code = request.match_info["code"]
    if not is_company_role(actor.role) or actor.credit_code != code:
        raise Forbidden(f"{actor.role} of {actor.credit_code} asked for {code}")
    require_module(actor.role, module)
    company = await companies.by_code(db, code)
    if company is None:
        raise Forbidden(f"company {code} is gone")
    return actor, company


def staff_of(request: web.Request) -> Actor:
    actor = actor_of(request)
    require_module(actor.role, Module.COUNTER)
    if actor.role is not Role.STAFF:
        raise Forbidden("not staff")
    return actor
