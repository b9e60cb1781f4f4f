"""OpenID Connect relying-party login, logout and back-channel logout against authsvc.

Authorization code flow with PKCE S256, `state`, `nonce` (OIDC Core §3.1; OAuth 2.0 Security
BCP). After the ID token is validated the account it names is checked again in our tables.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from yarl import URL

from portal.clock import epoch, from_epoch
from portal.errors import InvalidRequest, LoginFailed, PortalError
from portal.http.i18n import lang_of
from portal.http.keys import CLOCK, DB, PROVIDER, SETTINGS
from portal.http.render import redirect
from portal.http.session import Session, get_session
from portal.oidc import pkce, tokens
from portal.rules.roles import Identity, Role
from portal.services import audit, companies, replay, sessions
from portal.services.accounts import still_valid
from portal.services.actor import Actor

routes = web.RouteTableDef()
SCOPE = "openid profile id_number account ecard"
MAX_PENDING_LOGINS = 5


@routes.get("/auth/login")
async def login(request: web.Request) -> web.Response:
    """Send the browser (or the modal's iframe) to authsvc's authorization endpoint."""
    try:
        identity = Identity(request.query.get("identity", Identity.LEGAL_REP))
    except ValueError:
        raise InvalidRequest("identity") from None
    settings, session = request.app[SETTINGS], get_session(request)
    endpoint = await request.app[PROVIDER].endpoint("authorization_endpoint")
    state, nonce, verifier = pkce.random_token(), pkce.random_token(), pkce.verifier()
    _remember(session, state, {"nonce": nonce, "verifier": verifier, "identity": identity})
    params = {
        "response_type": "code",
        "client_id": settings.client_id,
        "redirect_uri": settings.callback_url,
        "scope": SCOPE,
        "state": state,
        "nonce": nonce,
        "code_challenge": pkce.challenge(verifier),
        "code_challenge_method": "S256",
        "login_hint": str(identity),
    }
    if request.query.get("display") == "embedded":
        params["display"] = "embedded"
    if lang_of(request) == "en":
        params["ui_locales"] = "en"
    return redirect(str(URL(endpoint).update_query(params)))


def _remember(session: Session, state: str, login: dict[str, Any]) -> None:
    """Keep the last few pending logins (a modal may be opened more than once)."""
    pending = dict(session.get("logins") or {})
    pending[state] = login
    session["logins"] = dict(list(pending.items())[-MAX_PENDING_LOGINS:])


@routes.get("/auth/callback")
async def callback(request: web.Request) -> web.Response:
    session = get_session(request)
    pending = dict(session.get("logins") or {})
    login = pending.pop(request.query.get("state", ""), None)
    session["logins"] = pending
    if login is None:
        raise LoginFailed("unknown state")
    if "error" in request.query:
        raise LoginFailed(f"provider error {request.query.get('error')}")
    await _check_iss(request, request.query.get("iss"))
    id_token, claims, access_token = await _redeem(request, login)
    account = await _account(request, claims)
    session.renew()
    session["account"] = account
    session["id_token"] = id_token
    session["access_token"] = access_token  # 我的社会保障卡 (scope ecard) at authsvc
    session["op_sid"] = claims.get("sid")
    session.csrf_token()
    return redirect("/usercenter")


async def _check_iss(request: web.Request, iss: str | None) -> None:
    """RFC 9207 §2.4: the `iss` parameter must name our issuer, and must be present when the
    provider's metadata says it sends one (a mix-up attack answers without it)."""
    settings, provider = request.app[SETTINGS], request.app[PROVIDER]
    if iss is None:
        if (await provider.metadata()).get("authorization_response_iss_parameter_supported"):
            raise LoginFailed("iss parameter missing (RFC 9207)")
        return
    if iss != settings.authsvc_issuer:
        raise LoginFailed("iss parameter (RFC 9207)")


async def _redeem(request: web.Request, login: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    settings, provider = request.app[SETTINGS], request.app[PROVIDER]
    code = request.query.get("code", "")
    if not code:
        raise LoginFailed("no code")
    try:
        answer = await provider.redeem(code, login["verifier"], settings.callback_url)
        expect = tokens.Expect(
            issuer=settings.authsvc_issuer,
            audience=settings.client_id,
            now=epoch(request.app[CLOCK]()),
        )
        claims = await provider.verify(answer.id_token, expect)
        tokens.check_id_token(claims, login["nonce"])
    except tokens.TokenInvalid as exc:
        raise LoginFailed(str(exc)) from None
    return answer.id_token, claims, answer.access_token


async def _account(request: web.Request, claims: dict[str, Any]) -> dict[str, str]:
    """The account of the token, re-checked in our tables (it may have been revoked).

    The identity asked for at /auth/login is only the QR page's starting tab: the user may
    switch 法人/办事员/个人 below the QR, so any role the tables still confirm is accepted."""
    try:
        role = Role(str(claims.get("role", "")))
    except ValueError:
        raise LoginFailed("role claim") from None
    company = claims.get("company") if isinstance(claims.get("company"), dict) else {}
    id_number, name = str(claims.get("id_number", "")), str(claims.get("name", ""))
    async with request.app[DB]() as db:
        account = await still_valid(db, role, id_number, name, str(company.get("credit_code", "")))
        actor = Actor(role, id_number, name, account.credit_code, account.company_name)
        row = await companies.by_code(db, account.credit_code) if account.credit_code else None
        audit.record(db, actor, "login", company_id=row.id if row else None, target=account.key)
        await db.commit()
    return account.session_view()


@routes.post("/auth/logout")
async def logout(request: web.Request) -> web.Response:
    """RP-initiated logout: forget the session, then let authsvc end its own."""
    session, settings = get_session(request), request.app[SETTINGS]
    id_token = session.get("id_token")
    session.clear()
    if not id_token:
        return redirect("/")
    try:
        endpoint = await request.app[PROVIDER].endpoint("end_session_endpoint")
    except PortalError:
        return redirect("/")
    params = {
        "id_token_hint": id_token,
        "post_logout_redirect_uri": settings.public_url + "/",
        "client_id": settings.client_id,
    }
    return redirect(str(URL(endpoint).update_query(params)))


@routes.post("/auth/backchannel-logout")
async def backchannel_logout(request: web.Request) -> web.Response:
    """OIDC Back-Channel Logout §2.5-2.8: verify the logout token, end sessions of its sid."""
    settings = request.app[SETTINGS]
    token = (await request.post()).get("logout_token")
    if not isinstance(token, str):
        raise InvalidRequest("logout_token missing")
    expect = tokens.Expect(
        issuer=settings.authsvc_issuer,
        audience=settings.client_id,
        now=epoch(request.app[CLOCK]()),
        typ="logout+jwt",  # §2.4 recommends it; authsvc sends it, so we require it
    )
    try:
        claims = await request.app[PROVIDER].verify(token, expect)
        sid = tokens.check_logout_token(claims)
        jti, exp = tokens.replay_id(claims)
    except tokens.TokenInvalid as exc:
        raise InvalidRequest(str(exc)) from None
    async with request.app[DB]() as db:
        if not await replay.first_use(db, "logout", jti, from_epoch(exp + tokens.LEEWAY_SECONDS)):
            raise InvalidRequest("logout token replayed")  # §2.6 step 8
        await sessions.drop_by_op_sid(db, sid)
    return web.Response(status=200, headers={"Cache-Control": "no-store"})
