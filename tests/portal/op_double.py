"""A TEST DOUBLE of authsvc's OpenID provider, for what the real authsvc cannot be made to do.

The real authsvc (tests/integration, tests/security) never signs an ID token with a foreign
key, an unknown `kid`, a forbidden `alg`, another `iss` or `aud`, a past `exp` or a nonce that
is not the request's; nor does it issue a token for an account the portal's tables do not hold.
The portal must refuse all of these, so the tests of those refusals (test_id_token_refusals.py,
test_auth.py, test_accounts_api.py) need a provider that misbehaves on request: `misbehave`
changes the next ID token's claims or header, `signing_key` signs with a key the JWKS does not
serve. Everything else is the protocol as authsvc speaks it: discovery (with RFC 9207's
`authorization_response_iss_parameter_supported`), a JWKS, a token endpoint checking
client_secret_basic and PKCE S256, and real JWTs signed with joserfc.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

CLIENT_ID = "portal"
CLIENT_SECRET = "portal-test-secret"


@dataclass
class OpDouble:
    issuer: str = ""
    key: ECKey = field(
        default_factory=lambda: ECKey.generate_key(
            "P-256", parameters={"kid": "test-1", "alg": "ES256", "use": "sig"}
        )
    )
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: int = 0
    auto_account: dict[str, Any] | None = None  # /authorize approves at once as this account
    misbehave: dict[str, Any] = field(default_factory=dict)  # next ID token: claims to change
    misbehave_header: dict[str, Any] = field(default_factory=dict)  # …and header fields
    signing_key: Any = None  # sign the next ID token with this key instead (wrong signature)

    def rotate(self) -> ECKey:
        """A new signing key with a new kid (the JWKS then serves only the new one)."""
        self.key = ECKey.generate_key(
            "P-256", parameters={"kid": "test-" + secrets.token_hex(3), "alg": "ES256"}
        )
        return self.key

    def sign(self, claims: dict[str, Any], *, typ: str | None = "JWT", **header: Any) -> str:
        head = {"alg": "ES256", "kid": self.key.kid, **header}
        if typ is not None:
            head["typ"] = typ
        return jwt.encode(head, claims, self.key, default_type=None)

    def claims(self, **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 60, **extra}

    def accounts_request(self, id_number: str, name: str, identity: str, **over: Any) -> str:
        claims = self.claims(
            jti=secrets.token_hex(8), id_number=id_number, name=name, identity=identity
        )
        claims.update(over)
        return self.sign(claims, typ="accounts-request+jwt")

    def authorize(self, params: dict[str, str], account: dict[str, Any], sid: str = "") -> str:
        """What authsvc does after the phone confirms: a one-time code bound to the request."""
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "params": params,
            "account": account,
            "sid": sid or secrets.token_hex(8),
        }
        return code

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/jwks.json", self._jwks)
        app.router.add_post("/token", self._token)
        app.router.add_get("/authorize", self._authorize)
        return app

    async def _discovery(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks.json",
                "end_session_endpoint": self.issuer + "/end-session",
                "id_token_signing_alg_values_supported": ["ES256"],
                "authorization_response_iss_parameter_supported": True,
            }
        )

    async def _authorize(self, request: web.Request) -> web.Response:
        """Stand-in for the QR page: approve at once as `auto_account` (screenshots, demos)."""
        if self.auto_account is None:
            return web.Response(status=400, text="no auto account")
        params = dict(request.query)
        code = self.authorize(params, self.auto_account)
        target = f"{params['redirect_uri']}?code={code}&state={params['state']}&iss={self.issuer}"
        return web.Response(status=303, headers={"Location": target})

    async def _jwks(self, request: web.Request) -> web.Response:
        return web.json_response(KeySet([self.key]).as_dict(private=False))

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"error": "invalid_client"}, status=401)
        form = await request.post()
        grant = self.codes.pop(str(form.get("code")), None)
        if grant is None:
            return web.json_response({"error": "invalid_grant"}, status=400)
        params = grant["params"]
        digest = hashlib.sha256(str(form.get("code_verifier")).encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if (
            challenge != params["code_challenge"]
            or form.get("redirect_uri") != params["redirect_uri"]
        ):
            return web.json_response({"error": "invalid_grant"}, status=400)
        account = grant["account"]
        claims = self.claims(
            sub="sub-" + hashlib.sha256(account["id_number"].encode()).hexdigest()[:16],
            nonce=params["nonce"],
            sid=grant["sid"],
            auth_time=int(time.time()),
            acr="urn:qrauth:acr:ecard-qr-face",
            amr=["qr", "ecard", "face"],
            **account,
        )
        claims.update(self.misbehave)
        claims = {k: v for k, v in claims.items() if v is not None}  # None: leave the claim out
        return web.json_response(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self._id_token(claims),
            }
        )

    def _id_token(self, claims: dict[str, Any]) -> str:
        key = self.signing_key or self.key
        head = {"alg": "ES256", "kid": self.key.kid, "typ": "JWT", **self.misbehave_header}
        if head["alg"] == "HS256":  # by hand: joserfc (rightly) refuses a public key as secret
            return _hs256(head, claims, key)
        if head["alg"] == "none":  # RFC 7519 §6: an unsecured JWT
            return _b64(json.dumps(head).encode()) + "." + _b64(json.dumps(claims).encode()) + "."
        return jwt.encode(head, claims, key, default_type=None)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(head: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """An HS256 JWT keyed with `secret` (the attack: the provider's public key as the secret)."""
    signing_input = _b64(json.dumps(head).encode()) + "." + _b64(json.dumps(claims).encode())
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(mac)
