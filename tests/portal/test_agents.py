"""授权登录 over HTTP on both databases: agents CRUD, limits, grants, audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from portal.app import create_app
from portal.config import Settings
from portal.db.models import Admin, Agent, AuditEntry, InsuranceRelationship
from portal.demo import load_demo
from portal.http.keys import DB, REGISTRIES
from portal.rules import idcard

from .conftest import C1, C2, LI, WANG, ZHANG, Provider, RealOp, csrf_of, error_code, login


def make_id(n: int) -> str:
    first17 = f"2301021990{(n % 12) + 1:02d}{(n % 28) + 1:02d}{n % 1000:03d}"
    return first17 + idcard.check_digit(first17)


async def _add(
    client: TestClient, code: str, id_number: str, name: str, phone: str = "13900000001"
):
    token = await csrf_of(client, f"/uc/{code}/agents")
    return await client.post(
        f"/uc/{code}/agents",
        data={"_csrf": token, "id_number": id_number, "name": name, "phone": phone},
        allow_redirects=False,
    )


async def _agents(client: TestClient, code_company_id: int) -> list[Agent]:
    async with client.app[DB]() as db:
        return list(await db.scalars(select(Agent).where(Agent.company_id == code_company_id)))


async def test_add_modify_delete_agent(client: TestClient, provider: Provider) -> None:
    """The legal rep adds, modifies and deletes an agent; each change is audited."""
    await login(client, provider, WANG, "legal_rep", C2)
    resp = await _add(client, C2, make_id(1), "赵六")
    assert resp.status == 303
    async with client.app[DB]() as db:
        agent = await db.scalar(select(Agent).where(Agent.id_number == make_id(1)))
    assert agent is not None and agent.name == "赵六"
    token = await csrf_of(client, f"/uc/{C2}/agents/{agent.id}")
    resp = await client.post(
        f"/uc/{C2}/agents/{agent.id}",
        data={"_csrf": token, "id_number": make_id(1), "name": "赵七", "phone": "0451-86661234"},
        allow_redirects=False,
    )
    assert resp.status == 303
    resp = await client.post(
        f"/uc/{C2}/agents/{agent.id}/delete", data={"_csrf": token}, allow_redirects=False
    )
    assert resp.status == 303
    async with client.app[DB]() as db:
        assert await db.get(Agent, agent.id) is None
        actions = list(
            await db.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.target == f"agent:{agent.id}")
                .order_by(AuditEntry.id)
            )
        )
        entries = list(await db.scalars(select(AuditEntry).where(AuditEntry.action == "agent.add")))
    assert actions == ["agent.add", "agent.update", "agent.delete"]
    assert all("王*" in e.actor and WANG[0] not in e.actor for e in entries if "王" in e.actor)


async def test_invalid_agent_fields(client: TestClient, provider: Provider) -> None:
    """Wrong ID number, empty name, wrong phone: 400 with the stable code, nothing added."""
    await login(client, provider, WANG, "legal_rep", C2)
    for id_number, name, phone, code in [
        (
            make_id(2)[:-1] + ("1" if make_id(2)[-1] == "0" else "0"),
            "甲",
            "13900000001",
            "invalid_id_number",
        ),
        (make_id(2), "", "13900000001", "invalid_name"),
        (make_id(2), "甲", "12345", "invalid_phone"),
    ]:
        resp = await _add(client, C2, id_number, name, phone)
        assert resp.status == 400 and error_code(await resp.text()) == code
    async with client.app[DB]() as db:
        assert await db.scalar(select(Agent).where(Agent.name == "甲")) is None


async def test_eleventh_agent_refused(client: TestClient, provider: Provider) -> None:
    """Seed 002: at most ten agents; the eleventh gets agent_limit_reached and is not added."""
    await login(client, provider, WANG, "legal_rep", C2)
    for n in range(10):
        resp = await _add(client, C2, make_id(100 + n), f"经办{n}")
        assert resp.status == 303, await resp.text()
    resp = await _add(client, C2, make_id(200), "第十一")
    html = await resp.text()
    assert resp.status == 409 and error_code(html) == "agent_limit_reached"
    assert "最多可添加10名经办人" in html
    async with client.app[DB]() as db:
        assert await db.scalar(select(Agent).where(Agent.name == "第十一")) is None


async def test_duplicate_agent_refused(client: TestClient, provider: Provider) -> None:
    await login(client, provider, WANG, "legal_rep", C1)
    resp = await _add(client, C1, ZHANG[0], ZHANG[1])
    assert resp.status == 409 and error_code(await resp.text()) == "agent_exists"


async def test_second_admin_refused(client: TestClient, provider: Provider) -> None:
    """C1 already has an administrator: a second one is refused with a clear message."""
    await login(client, provider, WANG, "legal_rep", C1)
    token = await csrf_of(client, f"/uc/{C1}/agents")
    resp = await client.post(
        f"/uc/{C1}/admin",
        data={
            "_csrf": token,
            "id_number": make_id(300),
            "name": "第二管理员",
            "phone": "13900000002",
        },
    )
    html = await resp.text()
    assert resp.status == 409 and error_code(html) == "admin_limit_reached"
    assert "最多只能设置1名管理员" in html
    async with client.app[DB]() as db:
        assert len(list(await db.scalars(select(Admin).where(Admin.name == "第二管理员")))) == 0


async def test_admin_set_then_manages_agents(client: TestClient, provider: Provider) -> None:
    """C2 has no admin: the legal rep sets one; the admin (of C1 too) then adds agents to C2."""
    await login(client, provider, WANG, "legal_rep", C2)
    token = await csrf_of(client, f"/uc/{C2}/agents")
    resp = await client.post(
        f"/uc/{C2}/admin",
        data={"_csrf": token, "id_number": LI[0], "name": LI[1], "phone": "13804510002"},
        allow_redirects=False,
    )
    assert resp.status == 303
    await login(client, provider, LI, "admin", C2)
    resp = await _add(client, C2, make_id(5), "王五")
    assert resp.status == 303
    token = await csrf_of(client, f"/uc/{C2}/agents")
    resp = await client.post(f"/uc/{C2}/admin/delete", data={"_csrf": token}, allow_redirects=False)
    assert resp.status == 403  # only the legal representative removes the administrator


async def test_grant_and_revoke(client: TestClient, provider: Provider) -> None:
    """单位授权: the legal rep sees all relationships, grants several, revokes one; audited."""
    await login(client, provider, WANG, "legal_rep", C1)
    async with client.app[DB]() as db:
        agent = await db.scalar(select(Agent).where(Agent.id_number == ZHANG[0]))
        rels = list(
            await db.scalars(
                select(InsuranceRelationship).where(
                    InsuranceRelationship.company_id == agent.company_id
                )
            )
        )
    resp = await client.get(f"/uc/{C1}/agents/{agent.id}")
    html = await resp.text()
    assert all(r.unit_no in html for r in rels) and len({r.unit_no for r in rels}) == 3
    token = await csrf_of(client, f"/uc/{C1}/agents/{agent.id}")
    wanted = [rels[2].id, rels[3].id, rels[4].id]
    resp = await client.post(
        f"/uc/{C1}/agents/{agent.id}/grants",
        data=[("_csrf", token)]
        + [("relationship", str(i)) for i in wanted]
        + [("item", "certificate")],
        allow_redirects=False,
    )
    assert resp.status == 303
    async with client.app[DB]() as db:
        agent = await db.get(Agent, agent.id, populate_existing=True)
        assert {g.relationship_id for g in agent.relationship_grants} == set(wanted)
        assert {g.item_code for g in agent.item_grants} == {"certificate"}
        entry = await db.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == "grant.change")
            .order_by(AuditEntry.id.desc())
        )
    assert entry.detail["relationships_removed"] == sorted([rels[0].id, rels[1].id])
    assert entry.detail["items_removed"] == ["enrol", "stop"]
    assert isinstance(entry.at, dt.datetime)


async def test_grant_of_foreign_relationship_refused(
    client: TestClient, provider: Provider
) -> None:
    """A relationship id of another company is refused and nothing changes."""
    await login(client, provider, WANG, "legal_rep", C2)
    async with client.app[DB]() as db:
        c1_rel = await db.scalar(
            select(InsuranceRelationship.id).where(InsuranceRelationship.unit_no == "23010010001")
        )
    await _add(client, C2, make_id(7), "孙七")
    async with client.app[DB]() as db:
        agent = await db.scalar(select(Agent).where(Agent.id_number == make_id(7)))
    token = await csrf_of(client, f"/uc/{C2}/agents/{agent.id}")
    resp = await client.post(
        f"/uc/{C2}/agents/{agent.id}/grants", data={"_csrf": token, "relationship": str(c1_rel)}
    )
    assert resp.status == 400 and "relationship_not_found" in await resp.text()


async def test_agent_has_no_authorize_module(client: TestClient, provider: Provider) -> None:
    """Seed 000: the agent's user centre has no 修改资料 and no 授权登录; the pages are 403."""
    await login(client, provider, ZHANG, "agent", C1)
    resp = await client.get(f"/uc/{C1}")
    html = await resp.text()
    assert resp.status == 200 and "授权登录" not in html and "修改资料" not in html
    assert "23010010001" in html and "23010020002" not in html  # only granted relationships
    resp = await client.get(f"/uc/{C1}/agents")
    assert resp.status == 403 and "module_forbidden" in await resp.text()


async def test_profile_edit(client: TestClient, provider: Provider) -> None:
    """修改资料: address and phone change and are audited; agents cannot open it."""
    await login(client, provider, WANG, "legal_rep", C1)
    token = await csrf_of(client, f"/uc/{C1}/profile")
    resp = await client.post(
        f"/uc/{C1}/profile",
        data={"_csrf": token, "address": "哈尔滨市松北区1号", "legal_rep_phone": "13900000009"},
        allow_redirects=False,
    )
    assert resp.status == 303
    resp = await client.post(
        f"/uc/{C1}/profile", data={"_csrf": token, "address": "x", "legal_rep_phone": "123"}
    )
    assert resp.status == 400 and error_code(await resp.text()) == "invalid_phone"
    html = await (await client.get(f"/uc/{C1}")).text()
    assert "哈尔滨市松北区1号" in html
    await login(client, provider, ZHANG, "agent", C1)
    assert (await client.get(f"/uc/{C1}/profile")).status == 403


async def test_agent_pages_show_masked_id_numbers_and_phones(
    client: TestClient, provider: Provider
) -> None:
    """Issue 8: 2301**********1235 and 138****0003 on the list, the edit form and the admin
    card; the edit form keeps the stored values when its masked fields are left empty."""
    await login(client, provider, WANG, "legal_rep", C1)
    async with client.app[DB]() as db:
        zhang = await db.scalar(select(Agent).where(Agent.id_number == ZHANG[0]))
    for path in (f"/uc/{C1}/agents", f"/uc/{C1}/agents/{zhang.id}"):
        html = await (await client.get(path)).text()
        assert "2301**********1235" in html and "138****0003" in html, path
        assert ZHANG[0] not in html and "13804510003" not in html, path
        assert LI[0] not in html and "13804510002" not in html, path
    token = await csrf_of(client, f"/uc/{C1}/agents/{zhang.id}")
    resp = await client.post(
        f"/uc/{C1}/agents/{zhang.id}",
        data={"_csrf": token, "id_number": "", "name": "张伟", "phone": "13900000077"},
        allow_redirects=False,
    )
    assert resp.status == 303
    async with client.app[DB]() as db:
        zhang = await db.get(Agent, zhang.id, populate_existing=True)
    assert (zhang.id_number, zhang.phone) == (ZHANG[0], "13900000077")


async def test_services_write_the_injected_clock(
    aiohttp_client: Any, settings: Settings, provider: Provider
) -> None:
    """Agents, grants and audit entries carry the app's clock, not the system's: a frozen clock
    (seconds behind, within the ID token leeway) is what the rows say."""
    frozen = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=17)).replace(
        tzinfo=None, microsecond=0
    )
    app = create_app(settings, clock=lambda: frozen)
    port = provider.port if isinstance(provider, RealOp) else None
    client: TestClient = await aiohttp_client(TestServer(app, host="127.0.0.1", port=port))
    await load_demo(client.app[DB], client.app[REGISTRIES])
    await login(client, provider, WANG, "legal_rep", C2)
    assert (await _add(client, C2, make_id(7), "赵六")).status == 303
    async with client.app[DB]() as db:
        agent = await db.scalar(select(Agent).where(Agent.id_number == make_id(7)))
        assert agent is not None
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.target == f"agent:{agent.id}"))
    assert agent.created_at == frozen and agent.updated_at == frozen
    assert entry is not None and entry.at == frozen
