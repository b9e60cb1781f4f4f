"""Issue 12: races through the HTTP API on PostgreSQL (and SQLite): concurrent 添加经办人 stop at
exactly ten agents (seed 002), concurrent 单位注册 of one credit code create one company."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from portal.db.models import Agent, AuditEntry, Company, LegalRep
from portal.http.keys import DB
from portal.rules.idcard import check_digit
from portal.rules.roles import MAX_AGENTS_PER_COMPANY

from .conftest import C1, C4, WANG, Provider, csrf_of, error_code, login


def _id_number(n: int) -> str:
    first17 = f"2301021990{n // 28 + 1:02d}{n % 28 + 1:02d}{n:03d}"
    return first17 + check_digit(first17)


async def _agents_of_c1(client: TestClient) -> int:
    async with client.app[DB]() as db:
        company = await db.scalar(select(Company).where(Company.credit_code == C1))
        return int(await db.scalar(select(func.count()).where(Agent.company_id == company.id)) or 0)


async def test_twenty_concurrent_adds_to_nine_agents_end_with_ten(
    client: TestClient, provider: Provider
) -> None:
    """C1 has 9 agents; 20 browsers' 添加经办人 at once: one 303, nineteen 409
    agent_limit_reached, exactly ten agents and one agent.add audit entry more."""
    await login(client, provider, WANG, "legal_rep", C1)
    token = await csrf_of(client, f"/uc/{C1}/agents")
    for n in range(MAX_AGENTS_PER_COMPANY - 1 - await _agents_of_c1(client)):
        form = {
            "_csrf": token,
            "id_number": _id_number(n),
            "name": "预置员",
            "phone": "13900000001",
        }
        assert (
            await client.post(f"/uc/{C1}/agents", data=form, allow_redirects=False)
        ).status == 303
    assert await _agents_of_c1(client) == MAX_AGENTS_PER_COMPANY - 1
    async with client.app[DB]() as db:
        audits = await db.scalar(select(func.count()).select_from(AuditEntry))

    async def add(n: int) -> tuple[int, str | None]:
        form = {
            "_csrf": token,
            "id_number": _id_number(100 + n),
            "name": "并发员",
            "phone": "13900000002",
        }
        resp = await client.post(f"/uc/{C1}/agents", data=form, allow_redirects=False)
        return resp.status, error_code(await resp.text())

    results = await asyncio.gather(*(add(n) for n in range(20)))
    assert sorted(results, key=str) == sorted(
        [(303, None)] + [(409, "agent_limit_reached")] * 19, key=str
    ), results
    assert await _agents_of_c1(client) == MAX_AGENTS_PER_COMPANY
    async with client.app[DB]() as db:
        assert await db.scalar(select(func.count()).select_from(AuditEntry)) == audits + 1


async def test_concurrent_registrations_of_one_credit_code_create_one(
    client: TestClient, aiohttp_client: Any
) -> None:
    """Two browsers submit 单位注册 for C4 at the same moment: one company, one legal
    representative; the other browser hears 当前法人账号已经存在."""
    browsers: list[TestClient] = [client, await aiohttp_client(client.server)]
    tokens = [await csrf_of(b, "/register") for b in browsers]
    form = {
        "agree": "on",
        "id_type": "居民身份证",
        "credit_code": C4,
        "company_name": "哈尔滨冰城数码科技有限公司",
        "id_number": "230106197802031895",
        "legal_rep_name": "吴海涛",
    }

    async def register(browser: TestClient, token: str) -> tuple[int, str | None]:
        resp = await browser.post("/register", data={**form, "_csrf": token}, allow_redirects=False)
        return resp.status, error_code(await resp.text()) if resp.status != 303 else None

    results = await asyncio.gather(*(register(b, t) for b, t in zip(browsers, tokens, strict=True)))
    assert sorted(results, key=str) == sorted(
        [(303, None), (409, "legal_rep_account_exists")], key=str
    )
    async with client.app[DB]() as db:
        companies = list(await db.scalars(select(Company).where(Company.credit_code == C4)))
        reps = await db.scalar(
            select(func.count()).select_from(LegalRep).where(LegalRep.company_id == companies[0].id)
        )
    assert len(companies) == 1 and reps == 1
