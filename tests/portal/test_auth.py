"""OIDC relying-party login through the real callback path, logout, back-channel logout.

The provider is the test double of op_double.py: these tests need tokens and accounts the real
authsvc would never issue. The refusals of each ID-token check are in test_id_token_refusals.py.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from portal.db.models import Agent
from portal.http.keys import DB
from portal.oidc import pkce

from .conftest import C1, C3, CHEN, LIU, SUN, WANG, ZHANG, csrf_of, login
from .op_double import OpDouble

OP_DOUBLE = True  # tokens and accounts the real authsvc cannot be made to produce


async def test_login_redirect_carries_pkce_state_nonce(client: TestClient) -> None:
    """The authorization request: code flow, S256 challenge, state, nonce, login_hint."""
    resp = await client.get("/auth/login?identity=agent&display=embedded", allow_redirects=False)
    assert resp.status == 303
    url = urlsplit(resp.headers["Location"])
    params = dict(parse_qsl(url.query))
    assert url.path == "/authorize"
    assert params["response_type"] == "code" and params["code_challenge_method"] == "S256"
    assert params["login_hint"] == "agent" and params["display"] == "embedded"
    assert params["redirect_uri"] == "http://127.0.0.1:8701/auth/callback"
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    assert len(params["code_challenge"]) == 43


async def test_login_lands_in_user_centre_with_new_session(
    client: TestClient, provider: OpDouble
) -> None:
    """After the callback the session id is new (no fixation) and the user centre opens."""
    await client.get("/auth/login?identity=legal_rep", allow_redirects=False)  # a pending login
    before = client.session.cookie_jar.filter_cookies(client.make_url("/"))["portal_session"].value
    resp = await login(client, provider, WANG, "legal_rep", C1)
    assert resp.status == 303 and resp.headers["Location"] == "/usercenter"
    after = client.session.cookie_jar.filter_cookies(client.make_url("/"))["portal_session"].value
    assert after != before
    resp = await client.get("/usercenter")
    html = await resp.text()
    assert resp.status == 200 and "哈尔滨龙江机械制造有限公司" in html and "授权登录" in html


async def test_old_session_id_is_dead_after_login(client: TestClient, provider: OpDouble) -> None:
    """A cookie planted before login (fixation) is not logged in afterwards."""
    await client.get("/auth/login?identity=legal_rep", allow_redirects=False)
    planted = client.session.cookie_jar.filter_cookies(client.make_url("/"))["portal_session"].value
    await login(client, provider, WANG, "legal_rep", C1)
    assert (await client.get("/usercenter")).status == 200
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"portal_session": planted})
    resp = await client.get("/usercenter")
    assert resp.status == 401


async def test_callback_with_unknown_state_fails(client: TestClient, provider: OpDouble) -> None:
    resp = await client.get("/auth/callback?code=x&state=forged")
    assert resp.status == 400 and "login_failed" in await resp.text()


async def test_wrong_nonce_fails(client: TestClient, provider: OpDouble) -> None:
    """An ID token whose nonce is not ours is refused."""
    resp = await client.get("/auth/login?identity=personal", allow_redirects=False)
    params = dict(parse_qsl(urlsplit(resp.headers["Location"]).query))
    code = provider.authorize(
        {**params, "nonce": "other"}, {"role": "personal", "id_number": CHEN[0], "name": CHEN[1]}
    )
    resp = await client.get(
        f"/auth/callback?code={code}&state={params['state']}&iss={provider.issuer}"
    )
    assert resp.status == 400 and "login_failed" in await resp.text()
    assert (await client.get("/usercenter")).status == 401


async def test_identity_switched_below_the_qr_is_accepted(
    client: TestClient, provider: OpDouble
) -> None:
    """Opened as 法人扫码登录, switched to 办事员 below the QR: the agent role the tables
    confirm is the account, whatever tab the modal opened on."""
    resp = await login(client, provider, ZHANG, "agent", C1, identity="legal_rep")
    assert resp.status == 303 and resp.headers["Location"] == "/usercenter"


async def test_role_the_tables_do_not_confirm_is_refused(
    client: TestClient, provider: OpDouble
) -> None:
    """A token naming a role this person does not hold here is refused."""
    resp = await login(client, provider, ZHANG, "legal_rep", C1)
    assert resp.status == 403


async def test_revoked_account_is_refused_at_callback(
    client: TestClient, provider: OpDouble
) -> None:
    """An agent deleted after authsvc offered the account cannot log in with the token."""
    async with client.app[DB]() as db:
        agent = await db.scalar(select(Agent).where(Agent.id_number == ZHANG[0]))
        await db.delete(agent)
        await db.commit()
    resp = await login(client, provider, ZHANG, "agent", C1)
    assert resp.status == 403 and "account_revoked" in await resp.text()


async def test_wrong_company_in_token_refused(client: TestClient, provider: OpDouble) -> None:
    """Zhang is an agent of C1 only: a token naming C3 is refused."""
    resp = await login(client, provider, ZHANG, "agent", C3)
    assert resp.status == 403


async def test_agent_of_two_companies_sees_chosen_one(
    client: TestClient, provider: OpDouble
) -> None:
    """The company chosen on the phone is the one the portal shows."""
    await login(client, provider, LIU, "agent", C3)
    resp = await client.get("/usercenter", allow_redirects=False)
    assert resp.headers["Location"] == f"/uc/{C3}"
    html = await (await client.get(f"/uc/{C3}")).text()
    assert "黑龙江省农业技术推广中心" in html and "23000050001" in html


async def test_staff_login(client: TestClient, provider: OpDouble) -> None:
    resp = await login(client, provider, SUN, "staff")
    assert resp.status == 303
    html = await (await client.get("/usercenter")).text()
    assert "窗口授权" in html


async def test_logout_goes_to_end_session(client: TestClient, provider: OpDouble) -> None:
    """Logout clears the session and sends the browser to end_session with id_token_hint."""
    await login(client, provider, WANG, "legal_rep", C1)
    token = await csrf_of(client, f"/uc/{C1}/agents")
    resp = await client.post("/auth/logout", data={"_csrf": token}, allow_redirects=False)
    url = urlsplit(resp.headers["Location"])
    params = dict(parse_qsl(url.query))
    assert url.path == "/end-session" and params["id_token_hint"].count(".") == 2
    assert params["post_logout_redirect_uri"] == "http://127.0.0.1:8701/"
    assert (await client.get("/usercenter")).status == 401


async def test_backchannel_logout_ends_sessions_of_sid(
    client: TestClient, provider: OpDouble
) -> None:
    """A valid logout token ends the session with that sid; a forged one is refused."""
    resp = await client.get("/auth/login?identity=legal_rep", allow_redirects=False)
    params = dict(parse_qsl(urlsplit(resp.headers["Location"]).query))
    code = provider.authorize(
        params,
        {
            "role": "legal_rep",
            "id_number": WANG[0],
            "name": WANG[1],
            "company": {"credit_code": C1},
        },
        sid="sid-123",
    )
    await client.get(f"/auth/callback?code={code}&state={params['state']}&iss={provider.issuer}")
    assert (await client.get(f"/uc/{C1}")).status == 200
    event = {"http://schemas.openid.net/event/backchannel-logout": {}}
    forged = provider.claims(sid="sid-123", events=event, jti="j1")
    resp = await client.post(
        "/auth/backchannel-logout",
        data={"logout_token": provider.sign(forged, typ="JWT")[:-3] + "abc"},
    )
    assert resp.status == 400
    with_nonce = provider.sign({**forged, "nonce": "n"}, typ="logout+jwt")
    resp = await client.post("/auth/backchannel-logout", data={"logout_token": with_nonce})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"
    assert (await client.get(f"/uc/{C1}")).status == 200
    token = provider.sign(provider.claims(sid="sid-123", events=event, jti="j2"), typ="logout+jwt")
    resp = await client.post("/auth/backchannel-logout", data={"logout_token": token})
    assert resp.status == 200
    assert (await client.get(f"/uc/{C1}")).status == 401


def test_pkce_s256_vector() -> None:
    """RFC 7636 Appendix B."""
    assert pkce.challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
