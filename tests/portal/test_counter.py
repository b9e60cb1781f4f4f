"""窗口授权 by agency staff over HTTP on both databases (seed 000 §3.1.2)."""

from __future__ import annotations

from aiohttp import FormData
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from portal.db.models import Agent, CounterUpload, InsuranceRelationship
from portal.http.keys import DB

from .conftest import C1, C3, SUN, WANG, ZHANG, Provider, csrf_of, error_code, login

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
PDF = b"%PDF-1.4\n" + b"0" * 200


async def _upload(client: TestClient, token: str, content: bytes, name: str):
    form = FormData()
    form.add_field("_csrf", token)
    form.add_field("file", content, filename=name, content_type="application/octet-stream")
    return await client.post(f"/counter/{C1}/upload", data=form, allow_redirects=False)


async def test_search_by_code_and_unit_number(client: TestClient, provider: Provider) -> None:
    """Staff find the company by credit code or unit number and see its details, with the
    phone masked and only the relationships kept at their own agency."""
    await login(client, provider, SUN, "staff")
    for q in (C1, "23010230003"):
        resp = await client.get(f"/counter?q={q}", allow_redirects=False)
        assert resp.headers["Location"] == f"/counter/{C1}"
    html = await (await client.get(f"/counter/{C1}")).text()
    for text in ("哈尔滨龙江机械制造有限公司", "友谊路158号", "王建国", "138****0001", "失业保险"):
        assert text in html
    for text in ("13804510001", "23010020002", "黑龙江省社会保险事业中心", "230104199001051235"):
        assert text not in html  # full phone / ID number; another agency's relationship
    assert "2301**********1235" in html
    resp = await client.get("/counter?q=99999999")
    assert resp.status == 404 and error_code(await resp.text()) == "company_not_found"


async def test_another_agencys_company_is_not_found(client: TestClient, provider: Provider) -> None:
    """C3 is served only by 黑龙江省社会保险事业中心: to 孙丽 (哈尔滨市…中心) it is the same 404 as
    an unknown company, on search, the details page and every counter action."""
    await login(client, provider, SUN, "staff")
    token = await csrf_of(client, f"/counter/{C1}")
    resp = await client.get(f"/counter?q={C3}")
    assert resp.status == 404 and error_code(await resp.text()) == "company_not_found"
    resp = await client.get(f"/counter/{C3}")
    assert resp.status == 404 and error_code(await resp.text()) == "company_not_found"
    person = {"_csrf": token, "id_number": "230102199504021561", "name": "陈静"}
    resp = await client.post(f"/counter/{C3}/agents", data={**person, "phone": "13804510006"})
    assert resp.status == 404
    async with client.app[DB]() as db:
        assert await db.scalar(select(Agent).where(Agent.id_number == person["id_number"])) is None


async def test_non_staff_refused(client: TestClient, provider: Provider) -> None:
    await login(client, provider, WANG, "legal_rep", C1)
    assert (await client.get(f"/counter/{C1}")).status == 403


async def test_uploads(client: TestClient, provider: Provider, tmp_path) -> None:
    """Good PNG/PDF stored; too large → 413; wrong type (by magic bytes) → 415; nothing stored."""
    await login(client, provider, SUN, "staff")
    token = await csrf_of(client, f"/counter/{C1}")
    assert (await _upload(client, token, PNG, "form.png")).status == 303
    assert (await _upload(client, token, PDF, "form.pdf")).status == 303
    too_big = b"%PDF-" + b"0" * (64 * 1024)
    resp = await _upload(client, token, too_big, "big.pdf")
    assert resp.status == 413 and error_code(await resp.text()) == "upload_too_large"
    resp = await _upload(client, token, b"MZ\x90\x00" + b"0" * 100, "form.png")
    assert resp.status == 415 and error_code(await resp.text()) == "upload_bad_type"
    async with client.app[DB]() as db:
        rows = list(await db.scalars(select(CounterUpload)))
    assert sorted(r.content_type for r in rows) == ["application/pdf", "image/png"]
    assert len(list((tmp_path / "uploads").iterdir())) == 2


async def test_counter_grant_marks_and_submits(client: TestClient, provider: Provider) -> None:
    """Held relationships are marked yellow; submit needs the signed form and only adds."""
    await login(client, provider, SUN, "staff")
    async with client.app[DB]() as db:
        liu = await db.scalar(select(Agent).where(Agent.id_number == ZHANG[0]).order_by(Agent.id))
        rels = {
            r.unit_no + r.insurance_type: r.id
            for r in await db.scalars(
                select(InsuranceRelationship).where(
                    InsuranceRelationship.company_id == liu.company_id
                )
            )
        }
    html = await (await client.get(f"/counter/{C1}?agent={liu.id}")).text()
    assert html.count('class="held"') == 2 and "已授权" in html
    token = await csrf_of(client, f"/counter/{C1}")
    new = rels["23010010001工伤保险"]
    foreign = rels["23010020002企业职工基本养老保险"]  # kept at another agency
    await _upload(client, token, PNG, "form.png")
    resp = await client.post(
        f"/counter/{C1}/submit",
        data={"_csrf": token, "agent": str(liu.id), "relationship": str(foreign)},
    )
    assert resp.status == 400 and error_code(await resp.text()) == "relationship_not_found"
    async with client.app[DB]() as db:
        pending = list(await db.scalars(select(CounterUpload)))
        assert [u.submitted_at for u in pending] == [None]
        await db.delete(pending[0])
        await db.commit()
    resp = await client.post(
        f"/counter/{C1}/submit",
        data={"_csrf": token, "agent": str(liu.id), "relationship": str(new)},
    )
    assert resp.status == 400 and error_code(await resp.text()) == "upload_required"
    await _upload(client, token, PNG, "form.png")
    resp = await client.post(
        f"/counter/{C1}/submit",
        data={"_csrf": token, "agent": str(liu.id), "relationship": str(new)},
        allow_redirects=False,
    )
    assert resp.status == 303
    async with client.app[DB]() as db:
        liu = await db.get(Agent, liu.id, populate_existing=True)
        held = {g.relationship_id for g in liu.relationship_grants}
        uploads = list(await db.scalars(select(CounterUpload)))
    assert held == {rels["23010010001企业职工基本养老保险"], rels["23010010001失业保险"], new}
    assert all(u.submitted_at is not None for u in uploads)


async def test_counter_adds_agent(client: TestClient, provider: Provider) -> None:
    await login(client, provider, SUN, "staff")
    token = await csrf_of(client, f"/counter/{C1}")
    resp = await client.post(
        f"/counter/{C1}/agents",
        data={
            "_csrf": token,
            "id_number": "230102199504021561",
            "name": "陈静",
            "phone": "13804510006",
        },
        allow_redirects=False,
    )
    assert resp.status == 303 and "?agent=" in resp.headers["Location"]


async def test_deleting_an_upload_removes_its_file(
    client: TestClient, provider: Provider, tmp_path
) -> None:
    """删除 a pending upload: the row and the signed form on disk both go."""
    await login(client, provider, SUN, "staff")
    token = await csrf_of(client, f"/counter/{C1}")
    assert (await _upload(client, token, PNG, "form.png")).status == 303
    async with client.app[DB]() as db:
        upload = await db.scalar(select(CounterUpload))
    stored = tmp_path / "uploads" / upload.stored_name
    assert stored.read_bytes() == PNG
    resp = await client.post(
        f"/counter/{C1}/upload/{upload.id}/delete", data={"_csrf": token}, allow_redirects=False
    )
    assert resp.status == 303
    async with client.app[DB]() as db:
        assert await db.scalar(select(CounterUpload)) is None
    assert not stored.exists() and list((tmp_path / "uploads").iterdir()) == []
