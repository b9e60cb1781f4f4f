"""Who may see what, re-checked on every request against the portal's tables (DESIGN.md).

The session says only who logged in as what; `company_for` and `staff_of` read the account
again (services.actor.current), so a removal or a revoked grant refuses the very next request.
A session whose account is gone is ended: the person logs in again to get any other account.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from portal.db.models import Company
from portal.errors import AccountRevoked, Forbidden, LoginRequired
from portal.http.session import SESSION
from portal.rules.roles import Module, Role, is_company_role, require_module
from portal.services import actor as actors
from portal.services import companies
from portal.services.actor import Actor


def actor_of(request: web.Request) -> Actor:
    """Who the session says is logged in (LoginRequired when nobody). Not an authorization:
    anything that acts for a company or at the counter goes through `current_actor`."""
    account = request[SESSION].account
    if not account:
        raise LoginRequired(request.path)
    return Actor.from_session(account)


async def current_actor(request: web.Request, db: AsyncSession) -> Actor:
    """The session's account as the tables hold it now; a revoked one ends the session."""
    claimed = actor_of(request)
    try:
        return await actors.current(db, claimed)
    except AccountRevoked:
        request[SESSION].clear()
        raise


async def company_for(
    request: web.Request, db: AsyncSession, module: Module
) -> tuple[Actor, Company]:
    """The company in the URL, if and only if the account still holds a role there.

    An agent of company A asking for B's pages gets 403 and nothing happens.
    """
    claimed = actor_of(request)
    code = request.match_info["code"]
    if not is_company_role(claimed.role) or claimed.credit_code != code:
        raise Forbidden(f"{claimed.role} of {claimed.credit_code} asked for {code}")
    require_module(claimed.role, module)
    actor = await current_actor(request, db)
    company = await companies.by_code(db, code)
    if company is None:
        raise Forbidden(f"company {code} is gone")
    return actor, company


async def staff_of(request: web.Request, db: AsyncSession) -> Actor:
    """Agency staff (经办机构工作人员) as the tables hold them now, with their agency."""
    claimed = actor_of(request)
    require_module(claimed.role, Module.COUNTER)
    if claimed.role is not Role.STAFF:
        raise Forbidden("not staff")
    return await current_actor(request, db)
