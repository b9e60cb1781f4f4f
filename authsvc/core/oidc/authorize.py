"""Validating an authorization request (OIDC Core §3.1.2.1, RFC 7636, OAuth 2.0 Security BCP).

Errors before the redirect URI is verified are shown to the user; after, they go back to the
client as RFC 6749 §4.1.2.1 error redirects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authsvc import errors
from authsvc.clients import Client, ClientRegistry
from authsvc.core import acr
from authsvc.core.oidc.claims import SCOPES
from authsvc.core.tickets import Identity

_PKCE_CHALLENGE_LEN = range(43, 129)
DISPLAYS = {"page", "popup", "embedded"}


AuthorizeRedirectError = errors.AuthorizeRedirect
"""Every error that goes back to the verified redirect URI (the registry's classes)."""


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    state: str
    nonce: str
    code_challenge: str
    identity: Identity
    display: str
    acr_values: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": list(self.scope),
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": self.code_challenge,
            "code_challenge_method": "S256",
            "identity": str(self.identity),
            "display": self.display,
            "acr_values": list(self.acr_values),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuthorizationRequest:
        return cls(
            client_id=str(data["client_id"]),
            redirect_uri=str(data["redirect_uri"]),
            scope=tuple(data["scope"]),
            state=str(data["state"]),
            nonce=str(data["nonce"]),
            code_challenge=str(data["code_challenge"]),
            identity=Identity(data["identity"]),
            display=str(data["display"]),
            acr_values=tuple(data.get("acr_values", ())),
        )


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A validated request, remembered from /authorize until the page asks for a ticket. It
    expires logically (`require_live`); a store's TTL only collects it."""

    id: str
    request: AuthorizationRequest
    expires_at: float


def pending(
    request: AuthorizationRequest, *, request_id: str, now: float, ttl: float
) -> PendingRequest:
    return PendingRequest(id=request_id, request=request, expires_at=now + ttl)


def require_live(stored: PendingRequest | None, now: float) -> AuthorizationRequest:
    """The remembered request, unless it is unknown or its time is up."""
    if stored is None or now >= stored.expires_at:
        raise errors.InvalidRequest(
            "unknown or expired authorization request",
            zh="登录请求已过期，请重新打开登录页面",
            en="The login request expired; start again",
        )
    return stored.request


def _identity(params: Mapping[str, str], client: Client) -> Identity:
    hint = params.get("identity") or params.get("login_hint") or client.identities[0].value
    try:
        identity = Identity(hint)
    except ValueError:
        identity = client.identities[0]
    return identity if identity in client.identities else client.identities[0]


def _scope(text: str, client: Client, back: dict[str, str]) -> tuple[str, ...]:
    """RFC 6749 §3.3: the requested scopes, each known (claims.SCOPES) and registered for this
    client, else `invalid_scope` (§4.1.2.1) — checked before anything is stored."""
    scope = tuple(dict.fromkeys(text.split()))
    if "openid" not in scope:
        raise errors.InvalidScope("scope must include openid", **back)
    unknown = [s for s in scope if s not in SCOPES]
    if unknown:
        raise errors.InvalidScope("unknown scope", **back)
    refused = [s for s in scope if s not in client.scopes]
    if refused:
        raise errors.InvalidScope(f"scope {refused[0]!r} is not registered for this client", **back)
    return scope


def validate(
    params: Mapping[str, str], clients: ClientRegistry, issuer: str
) -> AuthorizationRequest:
    client = clients.get(params.get("client_id", ""))
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        raise errors.InvalidRequest(
            "redirect_uri not registered",
            zh="回调地址未登记，无法登录",
            en="The redirect URI is not registered",
        )
    state = params.get("state", "")[:512]

    back = {"redirect_uri": redirect_uri, "state": state, "issuer": issuer}
    if params.get("response_type") != "code":
        raise errors.UnsupportedResponseType("only response_type=code", **back)
    scope = _scope(params.get("scope", ""), client, back)
    challenge = params.get("code_challenge", "")
    if params.get("code_challenge_method") != "S256" or len(challenge) not in _PKCE_CHALLENGE_LEN:
        raise errors.AuthorizeRequestInvalid(
            "PKCE with code_challenge_method=S256 is required", **back
        )
    if "request" in params or "request_uri" in params:
        raise errors.RequestNotSupported("request objects are not supported", **back)
    display = params.get("display", "page")
    acr_values = acr.requested(params.get("acr_values", ""))
    if params.get("acr_values") and not acr_values:
        # OIDC Core §3.1.2.6 / OpenID "unmet_authentication_requirements": none can be met.
        raise errors.UnmetAuthenticationRequirements("no requested acr value is supported", **back)
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        state=state,
        nonce=params.get("nonce", "")[:512],
        code_challenge=challenge,
        identity=_identity(params, client),
        display=display if display in DISPLAYS else "page",
        acr_values=acr_values,
    )
