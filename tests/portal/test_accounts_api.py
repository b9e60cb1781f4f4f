"""POST /api/accounts (docs/api.md) against the provider double's JWKS (op_double.py), both DBs."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from .conftest import C1, C2, C3, CHEN, LI, LIU, SUN, WANG, ZHANG, ZHAO
from .op_double import OpDouble

OP_DOUBLE = True  # tokens and accounts the real authsvc cannot be made to produce

JWT = {"Content-Type": "application/jwt"}


async def _ask(client: TestClient, token: str):
    resp = await client.post("/api/accounts", data=token, headers=JWT)
    return resp.status, await resp.json()


async def test_legal_rep_gets_legal_rep_accounts(client: TestClient, provider: OpDouble) -> None:
    """A legal rep of two companies gets two legal_rep accounts with their relationships."""
    status, body = await _ask(client, provider.accounts_request(*WANG, "legal_rep"))
    assert status == 200
    keys = [a["key"] for a in body["accounts"]]
    assert keys == [f"legal_rep:{C1}", f"legal_rep:{C2}"]
    c1 = body["accounts"][0]
    assert c1["unit_numbers"] == ["23010010001", "23010020002", "23010230003"]
    assert len(c1["relationships"]) == 5 and c1["company_name"] == "哈尔滨龙江机械制造有限公司"


async def test_admin_accounts_under_legal_rep_identity(
    client: TestClient, provider: OpDouble
) -> None:
    """The administrator of two companies gets two admin accounts."""
    status, body = await _ask(client, provider.accounts_request(*LI, "legal_rep"))
    assert status == 200
    assert [a["key"] for a in body["accounts"]] == [f"admin:{C1}", f"admin:{C3}"]


async def test_agent_accounts_with_grants(client: TestClient, provider: OpDouble) -> None:
    """An agent of two companies gets each with only the granted relationships and items."""
    status, body = await _ask(client, provider.accounts_request(*LIU, "agent"))
    assert status == 200
    by_key = {a["key"]: a for a in body["accounts"]}
    assert set(by_key) == {f"agent:{C1}", f"agent:{C3}"}
    assert by_key[f"agent:{C1}"]["relationships"] == [
        {
            "unit_no": "23010020002",
            "insurance_type": "企业职工基本养老保险",
            "agency": "黑龙江省社会保险事业中心",
        }
    ]
    assert by_key[f"agent:{C1}"]["business_items"] == ["certificate"]
    status, body = await _ask(client, provider.accounts_request(*ZHANG, "agent"))
    assert [a["key"] for a in body["accounts"]] == [f"agent:{C1}"]
    assert body["accounts"][0]["business_items"] == ["enrol", "stop"]


async def test_personal_and_staff(client: TestClient, provider: OpDouble) -> None:
    """Personal identity: personal account; agency staff also get a staff account."""
    status, body = await _ask(client, provider.accounts_request(*CHEN, "personal"))
    assert status == 200 and [a["key"] for a in body["accounts"]] == ["personal:"]
    status, body = await _ask(client, provider.accounts_request(*SUN, "personal"))
    assert [a["role"] for a in body["accounts"]] == ["personal", "staff"]


@pytest.mark.parametrize(
    ("who", "identity", "code", "zh"),
    [
        (CHEN, "legal_rep", "no_legal_rep_account", "未找到当前法人账号信息，请先注册法人账号！"),
        (
            CHEN,
            "agent",
            "no_agent_account",
            "未找到当前办事员账号信息，请联系法人授权或者去窗口授权！",
        ),
        (
            (WANG[0], "王建"),
            "legal_rep",
            "no_legal_rep_account",
            "未找到当前法人账号信息，请先注册法人账号！",
        ),
        (
            (ZHANG[0], "张伟伟"),
            "agent",
            "no_agent_account",
            "未找到当前办事员账号信息，请联系法人授权或者去窗口授权！",
        ),
        (
            ZHAO,
            "agent",
            "no_agent_account",
            "未找到当前办事员账号信息，请联系法人授权或者去窗口授权！",
        ),
        (("230102199001011239", "无名"), "personal", "no_account", "未查询到登录人信息，请注册！"),
    ],
)
async def test_no_account_errors(
    client: TestClient,
    provider: OpDouble,
    who: tuple[str, str],
    identity: str,
    code: str,
    zh: str,
) -> None:
    """Matched by ID number AND name; otherwise 404 with the seed's message."""
    status, body = await _ask(client, provider.accounts_request(*who, identity))
    assert (status, body["error"], body["message"]["zh"]) == (404, code, zh)


async def test_rejects_bad_tokens(client: TestClient, provider: OpDouble) -> None:
    """Wrong aud/iss/typ, expired, unsigned, foreign key, garbage: 401 invalid_accounts_request."""
    good = provider.accounts_request(*WANG, "legal_rep")
    bad = [
        provider.accounts_request(*WANG, "legal_rep", aud="other-portal"),
        provider.accounts_request(*WANG, "legal_rep", iss="http://evil.example"),
        provider.accounts_request(*WANG, "legal_rep", exp=1_000_000),
        provider.accounts_request(*WANG, "root"),
        provider.sign(provider.claims(id_number=WANG[0], name=WANG[1], identity="legal_rep")),
        good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "not a jwt",
    ]
    for token in bad:
        status, body = await _ask(client, token)
        assert (status, body["error"]) == (401, "invalid_accounts_request"), token[:40]


async def test_key_rotation_refetches_jwks(client: TestClient, provider: OpDouble) -> None:
    """A token signed with a new kid makes the portal refetch the JWKS once and accept it."""
    assert (await _ask(client, provider.accounts_request(*WANG, "legal_rep")))[0] == 200
    provider.rotate()
    assert (await _ask(client, provider.accounts_request(*WANG, "legal_rep")))[0] == 200


async def test_no_kid_refused(client: TestClient, provider: OpDouble) -> None:
    """Tokens without a kid are refused (house style: require kid)."""
    from joserfc import jwt

    claims = provider.claims(id_number=WANG[0], name=WANG[1], identity="legal_rep")
    token = jwt.encode({"alg": "ES256", "typ": "accounts-request+jwt"}, claims, provider.key)
    status, _ = await _ask(client, token)
    assert status == 401


async def test_an_oversized_request_is_body_too_large(client: TestClient) -> None:
    """More than 16 KiB, announced or streamed without a length: 413 body_too_large."""
    big = b"x" * (16 * 1024 + 1)

    async def chunks():
        yield big[:8000]
        yield big[8000:]

    for data in (big, chunks()):
        resp = await client.post("/api/accounts", data=data, headers=JWT)
        assert resp.status == 413 and (await resp.json())["error"] == "body_too_large"
