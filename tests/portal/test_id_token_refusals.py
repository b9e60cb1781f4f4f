"""Issue 12: each check the portal makes on the provider's answer, refused one at a time.

OIDC Core §3.1.3.7 (ID token: iss, aud, exp, alg, kid and signature, nonce), RFC 9207 (the
`iss` authorization response parameter), replay of the callback; Back-Channel Logout §2.6
(typ, jti replay) and the accounts request's jti (docs/api.md). The tokens come from the
provider double (op_double.py): the real authsvc cannot be made to sign them. Each refusal
answers the stable code, leaves the browser logged out and every table unchanged.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from aiohttp.test_utils import TestClient
from joserfc.jwk import ECKey

from tests.support.snapshot import snapshot

from .conftest import C1, WANG, error_code
from .op_double import OpDouble

OP_DOUBLE = True  # tokens and accounts the real authsvc cannot be made to produce

ACCOUNT = {
    "role": "legal_rep",
    "id_number": WANG[0],
    "name": WANG[1],
    "company": {"credit_code": C1},
}
EVENT = {"http://schemas.openid.net/event/backchannel-logout": {}}


async def _start(client: TestClient, provider: OpDouble) -> tuple[str, dict[str, str]]:
    """/auth/login, then what authsvc would send back: a code for this request, and its state."""
    resp = await client.get("/auth/login?identity=legal_rep", allow_redirects=False)
    params = dict(parse_qsl(urlsplit(resp.headers["Location"]).query))
    return provider.authorize(params, ACCOUNT), params


def _foreign_key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "alg": "ES256"})


BAD_TOKENS: list[Any] = [
    pytest.param({"iss": "http://127.0.0.1:9/other"}, {}, None, id="foreign-iss"),
    pytest.param({"aud": "another-client"}, {}, None, id="foreign-aud"),
    pytest.param({"aud": ["portal", "another"]}, {}, None, id="two-aud-no-azp"),
    pytest.param({"exp": int(time.time()) - 3600}, {}, None, id="expired"),
    pytest.param({"exp": None}, {}, None, id="no-exp"),
    pytest.param({"iat": int(time.time()) + 3600}, {}, None, id="issued-in-future"),
    pytest.param({"nonce": "not-the-request-nonce"}, {}, None, id="wrong-nonce"),
    pytest.param({"nonce": None}, {}, None, id="missing-nonce"),
    pytest.param({}, {"alg": "HS256"}, "hmac", id="alg-HS256"),
    pytest.param({}, {"alg": "none"}, None, id="alg-none"),
    pytest.param({}, {"kid": "unknown-kid"}, "foreign-unknown-kid", id="unknown-kid"),
    pytest.param({}, {"kid": None}, None, id="no-kid"),
    pytest.param({}, {}, "foreign-same-kid", id="wrong-signature"),
]


@pytest.mark.parametrize(("claims", "header", "key"), BAD_TOKENS)
async def test_bad_id_token_is_refused(
    client: TestClient,
    provider: OpDouble,
    claims: dict[str, Any],
    header: dict[str, Any],
    key: str | None,
) -> None:
    """An ID token failing one check: 400 login_failed, not logged in, nothing written."""
    code, params = await _start(client, provider)
    provider.misbehave = claims
    provider.misbehave_header = {k: v for k, v in header.items() if v is not None}
    if key == "hmac":  # the classic confusion: the public key's bytes as an HMAC secret
        provider.signing_key = provider.key.as_pem(private=False)
    elif key == "foreign-unknown-kid":
        provider.signing_key = _foreign_key("unknown-kid")
    elif key == "foreign-same-kid":
        provider.signing_key = _foreign_key(provider.key.kid)
    if "kid" in header and header["kid"] is None:
        provider.misbehave_header = {"kid": ""}
    before = await snapshot(client.app, leave_out=("web_sessions",))
    resp = await client.get(
        f"/auth/callback?code={code}&state={params['state']}&iss={provider.issuer}",
        allow_redirects=False,
    )
    assert (resp.status, error_code(await resp.text())) == (400, "login_failed")
    assert (await client.get("/usercenter")).status == 401
    assert await snapshot(client.app, leave_out=("web_sessions",)) == before
    assert provider.token_requests == 1


@pytest.mark.parametrize(
    "iss", [None, "http://127.0.0.1:9/mix-up", "{issuer}/"], ids=["missing", "foreign", "slash"]
)
async def test_rfc9207_iss_parameter_is_checked(
    client: TestClient, provider: OpDouble, iss: str | None
) -> None:
    """RFC 9207 §2.4: the provider advertises `iss`; missing or not exactly ours is refused
    before the code is redeemed (a mix-up attacker never sees our code redeemed)."""
    code, params = await _start(client, provider)
    query = f"code={code}&state={params['state']}"
    if iss is not None:
        query += "&iss=" + iss.format(issuer=provider.issuer)
    before = await snapshot(client.app, leave_out=("web_sessions",))
    resp = await client.get(f"/auth/callback?{query}", allow_redirects=False)
    assert (resp.status, error_code(await resp.text())) == (400, "login_failed")
    assert provider.token_requests == 0
    assert (await client.get("/usercenter")).status == 401
    assert await snapshot(client.app, leave_out=("web_sessions",)) == before


async def test_callback_replay_is_refused(client: TestClient, provider: OpDouble) -> None:
    """The callback URL used twice — by the same browser or by one that stole it — logs in at
    most once: the state is spent at the first use."""
    code, params = await _start(client, provider)
    url = f"/auth/callback?code={code}&state={params['state']}&iss={provider.issuer}"
    assert (await client.get(url, allow_redirects=False)).status == 303
    before = await snapshot(client.app, leave_out=("web_sessions",))
    resp = await client.get(url, allow_redirects=False)
    assert (resp.status, error_code(await resp.text())) == (400, "login_failed")
    client.session.cookie_jar.clear()
    resp = await client.get(url, allow_redirects=False)
    assert (resp.status, error_code(await resp.text())) == (400, "login_failed")
    assert (await client.get("/usercenter")).status == 401
    assert provider.token_requests == 1
    assert await snapshot(client.app, leave_out=("web_sessions",)) == before


async def _logged_in(client: TestClient, provider: OpDouble, sid: str) -> None:
    resp = await client.get("/auth/login?identity=legal_rep", allow_redirects=False)
    params = dict(parse_qsl(urlsplit(resp.headers["Location"]).query))
    code = provider.authorize(params, ACCOUNT, sid=sid)
    await client.get(f"/auth/callback?code={code}&state={params['state']}&iss={provider.issuer}")
    assert (await client.get(f"/uc/{C1}")).status == 200


async def test_logout_token_needs_its_typ(client: TestClient, provider: OpDouble) -> None:
    """Back-Channel Logout §2.4: without `typ: logout+jwt` (or with another) it is refused."""
    await _logged_in(client, provider, "sid-typ")
    for typ in (None, "JWT", "at+jwt"):
        claims = provider.claims(sid="sid-typ", events=EVENT, jti=secrets.token_hex(8))
        resp = await client.post(
            "/auth/backchannel-logout", data={"logout_token": provider.sign(claims, typ=typ)}
        )
        assert (resp.status, (await resp.json())["error"]) == (400, "invalid_request"), typ
    assert (await client.get(f"/uc/{C1}")).status == 200


async def test_logout_token_replay_is_refused(client: TestClient, provider: OpDouble) -> None:
    """A logout token is acted on once: replayed (jti remembered until it expires) it ends no
    session — not even a new one with the same sid — and a token without jti is refused."""
    await _logged_in(client, provider, "sid-1")
    token = provider.sign(provider.claims(sid="sid-1", events=EVENT, jti="j-1"), typ="logout+jwt")
    resp = await client.post("/auth/backchannel-logout", data={"logout_token": token})
    assert resp.status == 200 and (await client.get(f"/uc/{C1}")).status == 401
    await _logged_in(client, provider, "sid-1")
    before = await snapshot(client.app)
    resp = await client.post("/auth/backchannel-logout", data={"logout_token": token})
    assert (resp.status, (await resp.json())["error"]) == (400, "invalid_request")
    no_jti = provider.sign(provider.claims(sid="sid-1", events=EVENT), typ="logout+jwt")
    resp = await client.post("/auth/backchannel-logout", data={"logout_token": no_jti})
    assert resp.status == 400
    assert await snapshot(client.app) == before
    assert (await client.get(f"/uc/{C1}")).status == 200


async def test_accounts_request_replay_is_refused(client: TestClient, provider: OpDouble) -> None:
    """An accounts request is answered once per jti; the replay gets 401 and no accounts."""
    token = provider.accounts_request(*WANG, "legal_rep")
    headers = {"Content-Type": "application/jwt"}
    first = await client.post("/api/accounts", data=token, headers=headers)
    assert first.status == 200 and (await first.json())["accounts"]
    before = await snapshot(client.app)
    again = await client.post("/api/accounts", data=token, headers=headers)
    body = await again.json()
    assert (again.status, body["error"]) == (401, "invalid_accounts_request")
    assert "accounts" not in body
    no_jti = provider.accounts_request(*WANG, "legal_rep", jti=None)
    resp = await client.post("/api/accounts", data=no_jti, headers=headers)
    assert resp.status == 401
    assert await snapshot(client.app) == before
