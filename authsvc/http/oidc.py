"""OpenID Connect endpoints beyond /authorize: discovery, JWKS, token, userinfo, end-session."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from authsvc import errors
from authsvc.clients import Client
from authsvc.core import acr
from authsvc.core.oidc.claims import SCOPES
from authsvc.http.common import RateLimit, broker, client_ip, count_hit, json_response
from authsvc.http.pages import render
from authsvc.keyring import Purpose
from authsvc.services import logout, tokens
from authsvc.services.client_auth import authenticate

routes = web.RouteTableDef()
CLAIMS = [
    "sub",
    "name",
    "id_number",
    "phone_number",
    "role",
    "company",
    "relationships",
    "business_items",
    "unit_numbers",
    "acr",
    "amr",
    "auth_time",
    "nonce",
    "sid",
]


@routes.get("/.well-known/openid-configuration")
async def discovery(request: web.Request) -> web.Response:
    b = broker(request)
    issuer = b.settings.issuer
    return json_response(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "jwks_uri": f"{issuer}/jwks.json",
            "end_session_endpoint": f"{issuer}/end-session",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["pairwise", "public"],
            "id_token_signing_alg_values_supported": [
                str(alg) for alg in b.keyring.current_algorithms(Purpose.TOKEN)
            ],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none",
            ],
            "token_endpoint_auth_signing_alg_values_supported": [
                "ES256",
                "RS256",
                "PS256",
                "Ed25519",
            ],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": list(SCOPES),
            "claims_supported": CLAIMS,
            "acr_values_supported": list(acr.SUPPORTED),
            "display_values_supported": ["page", "popup", "embedded"],
            "ui_locales_supported": ["zh-CN", "en"],
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
            "authorization_response_iss_parameter_supported": True,
            "request_parameter_supported": False,
            "claims_parameter_supported": False,
        }
    )


@routes.get("/jwks.json")
async def jwks(request: web.Request) -> web.Response:
    b = broker(request)
    return json_response(b.keyring.jwks(Purpose.TOKEN, now=b.now()))


@routes.post("/token")
async def token(request: web.Request) -> web.Response:
    """RFC 6749 §4.1.3 with PKCE; errors (the registry's OAuthError) in the §5.2 shape, rendered
    by the middleware like every other error."""
    b = broker(request)
    limit = RateLimit("token-ip", client_ip(request), b.settings.limits.token_per_ip_per_minute)
    try:
        fields, client = await _token_client(request)
    except Exception:
        await count_hit(request, limit)  # 429 + Retry-After past the limit, instead
        raise
    body = await tokens.redeem(
        b,
        client,
        code=fields.get("code", ""),
        redirect_uri=fields.get("redirect_uri", ""),
        verifier=fields.get("code_verifier", ""),
        hit=limit.as_hit(),  # counted with the code's redemption: one round trip
    )
    return json_response(body)


async def _token_client(request: web.Request) -> tuple[dict[str, str], Client]:
    """The form and the client it authenticates. Every /token request counts against the
    per-IP limit: one refused here is counted on its own, then refused."""
    b = broker(request)
    try:
        form = dict(await request.post())
    except web.HTTPRequestEntityTooLarge as exc:
        raise errors.TokenRequestTooLarge("request too large") from exc
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    client = await authenticate(
        fields,
        request.headers.get("Authorization", ""),
        b.clients,
        b.store,
        token_endpoint=f"{b.settings.issuer}/token",
        issuer=b.settings.issuer,
        now=b.now(),
    )
    if fields.get("grant_type") != "authorization_code":
        raise errors.UnsupportedGrantType("only authorization_code")
    return fields, client


@routes.route("*", "/userinfo")
async def userinfo(request: web.Request) -> web.Response:
    """OIDC Core §5.3 with an RFC 6750 §2.1 bearer token; a bad token: RFC 6750 §3.1 challenge."""
    if request.method not in ("GET", "POST"):
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST"])
    header = request.headers.get("Authorization", "")
    claims = (
        await tokens.userinfo(broker(request), header[7:]) if header.startswith("Bearer ") else None
    )
    if claims is None:
        raise errors.InvalidToken("unknown or revoked token")
    return json_response(claims)


@routes.get("/end-session")
async def end_session(request: web.Request) -> web.StreamResponse:
    """RP-initiated logout: redirect only to a post-logout URI registered for the hinted client."""
    b = broker(request)
    claims = logout.read_id_token_hint(b, request.query.get("id_token_hint", ""))
    client_id = request.query.get("client_id") or (str(claims["aud"]) if claims else "")
    client = b.clients.find(client_id)
    if claims is not None and client is not None and claims.get("aud") == client.client_id:
        await logout.end_session(b, claims, client)
    target = request.query.get("post_logout_redirect_uri", "")
    if client is not None and target in client.post_logout_redirect_uris:
        state = request.query.get("state")
        raise web.HTTPFound(
            target
            + (("&" if "?" in target else "?") + urlencode({"state": state}) if state else "")
        )
    return render(request, "logged_out.html", {})
