"""单位注册 over HTTP on both databases: every registry outcome (seed 000 §5.1)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from portal.db.models import Company
from portal.http.keys import DB

from .conftest import C1, C4, C5, C6, C_UNKNOWN, WANG, csrf_of, error_code


async def _register(client: TestClient, **fields: str) -> tuple[int, str]:
    token = await csrf_of(client, "/register")
    form = {"_csrf": token, "agree": "on", "id_type": "居民身份证", **fields}
    resp = await client.post("/register", data=form, allow_redirects=False)
    return resp.status, await resp.text()


async def _companies(client: TestClient) -> int:
    async with client.app[DB]() as db:
        return int(await db.scalar(select(func.count()).select_from(Company)) or 0)


@pytest.mark.parametrize(
    ("fields", "status", "code", "text"),
    [
        (
            {
                "credit_code": C_UNKNOWN,
                "company_name": "某某公司",
                "id_number": WANG[0],
                "legal_rep_name": WANG[1],
            },
            400,
            "registry_verification_failed",
            "企业信息在组织机构相关信息库验证失败，无法注册！",
        ),
        (
            {
                "credit_code": C4,
                "company_name": "哈尔滨冰城数码有限公司",
                "id_number": "230106197802031895",
                "legal_rep_name": "吴海涛",
            },
            400,
            "registry_verification_failed",  # one answer for every registry failure (seed §5.1.1)
            "企业信息在组织机构相关信息库验证失败，无法注册！",
        ),
        (
            {
                "credit_code": C4,
                "company_name": "哈尔滨冰城数码科技有限公司",
                "id_number": WANG[0],
                "legal_rep_name": WANG[1],
            },
            400,
            "registry_verification_failed",
            "企业信息在组织机构相关信息库验证失败，无法注册！",
        ),
        (
            {
                "credit_code": C4,
                "company_name": "哈尔滨冰城数码科技有限公司",
                "id_number": "230106197802031895",
                "legal_rep_name": "吴海",
            },
            400,
            "registry_verification_failed",
            "企业信息在组织机构相关信息库验证失败，无法注册！",
        ),
        (
            {
                "credit_code": C1,
                "company_name": "哈尔滨龙江机械制造有限公司",
                "id_number": WANG[0],
                "legal_rep_name": WANG[1],
            },
            409,
            "legal_rep_account_exists",
            "根据统一社会信用代码发现，当前法人账号已经存在，可以直接扫码登录！",
        ),
        (
            {
                "credit_code": "91230100MA1BX2K307",
                "company_name": "x",
                "id_number": WANG[0],
                "legal_rep_name": WANG[1],
            },
            400,
            "invalid_credit_code",
            "统一社会信用代码格式不正确",
        ),
        (
            {
                "credit_code": C4,
                "company_name": "哈尔滨冰城数码科技有限公司",
                "id_number": "230106197802031894",
                "legal_rep_name": "吴海涛",
            },
            400,
            "invalid_id_number",
            "证件号码格式不正确",
        ),
    ],
)
async def test_refused_registrations(
    client: TestClient, fields: dict[str, str], status: int, code: str, text: str
) -> None:
    """Each refusal has its status, stable code and the seed's wording; nothing is created."""
    before = await _companies(client)
    got_status, html = await _register(client, **fields)
    assert (got_status, error_code(html)) == (status, code)
    assert text in html
    assert await _companies(client) == before


async def test_agreement_required(client: TestClient) -> None:
    """Without the agreement tick nothing is checked or created."""
    token = await csrf_of(client, "/register")
    resp = await client.post("/register", data={"_csrf": token, "credit_code": C4})
    assert resp.status == 400 and error_code(await resp.text()) == "agreement_required"


@pytest.mark.parametrize(
    ("code", "name", "rep", "relationships"),
    [
        (C4, "哈尔滨冰城数码科技有限公司", ("230106197802031895", "吴海涛"), 2),
        (C5, "哈尔滨市群众艺术馆", ("230124198311112006", "郑晓燕"), 1),
        (C6, "哈尔滨松花江文化传媒有限公司", ("230105197905052115", "钱文博"), 0),
    ],
)
async def test_successful_registration(
    client: TestClient, code: str, name: str, rep: tuple[str, str], relationships: int
) -> None:
    """A company known to any one registry registers; then the legal rep logs in by scanning."""
    status, _ = await _register(
        client,
        credit_code=code.lower(),
        company_name=name,
        id_number=rep[0],
        legal_rep_name=rep[1],
    )
    assert status == 303
    resp = await client.get(f"/register/done?code={code}")
    html = await resp.text()
    assert "注册成功" in html and "扫码登录" in html
    async with client.app[DB]() as db:
        company = await db.scalar(select(Company).where(Company.credit_code == code))
        assert company is not None and len(company.relationships) == relationships
        assert company.legal_rep is not None and company.legal_rep.name == rep[1]
    status, html = await _register(
        client, credit_code=code, company_name=name, id_number=rep[0], legal_rep_name=rep[1]
    )
    assert status == 409 and error_code(html) == "legal_rep_account_exists"


@pytest.mark.parametrize(
    "id_number",
    ["²30106197802031895", "23010619780203189⁵", "２30106197802031895", "23010619780203१895"],
    ids=["superscript-lead", "superscript-check", "fullwidth", "devanagari"],
)
async def test_non_ascii_digits_are_an_invalid_id_number_not_a_500(
    client: TestClient, id_number: str
) -> None:
    """Digits `str.isdigit` accepts (², full-width, other scripts) are not an ID number: 400
    invalid_id_number on the form, and nothing is created."""
    before = await _companies(client)
    status, html = await _register(
        client,
        credit_code=C4,
        company_name="哈尔滨冰城数码科技有限公司",
        id_number=id_number,
        legal_rep_name="吴海涛",
    )
    assert (status, error_code(html)) == (400, "invalid_id_number")
    assert await _companies(client) == before
