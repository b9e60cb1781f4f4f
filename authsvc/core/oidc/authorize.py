"""Validating an authorization request (OIDC Core §3.1.2.1, RFC 7636, OAuth 2.0 Security BCP).

Errors before the redirect URI is verified are shown to the user; after, they go back to the
client as RFC 6749 §4.1.2.1 error redirects."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from authsvc import errors
from authsvc.clients import Client, ClientRegistry
from authsvc.core.oidc.claims import SCOPES
from authsvc.core.tickets import Identity

_PKCE_CHALLENGE_LEN = range(43, 129)
DISPLAYS = {"page", "popup", "embedded"}


class AuthorizeRedirectError(Exception):
    """An error to send back to the (verified) redirect URI."""

    def __init__(
        self, error: str, description: str, redirect_uri: str, state: str, issuer: str
    ) -> None:
        super().__init__(error)
        params = {"error": error, "error_description": description, "iss": issuer}
        if state:
            params["state"] = state
        sep = "&" if "?" in redirect_uri else "?"
        self.location = f"{redirect_uri}{sep}{urlencode(params)}"


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
        }


def _identity(params: Mapping[str, str], client: Client) -> Identity:
    hint = params.get("identity") or params.get("login_hint") or client.identities[0].value
    try:
        identity = Identity(hint)
    except ValueError:
        identity = client.identities[0]
    return identity if identity in client.identities else client.identities[0]


def _scope(
    text: str, client: Client, fail: Callable[[str, str], AuthorizeRedirectError]
) -> tuple[str, ...]:
    """RFC 6749 §3.3: the requested scopes, each known (claims.SCOPES) and registered for this
    client, else `invalid_scope` (§4.1.2.1) — checked before anything is stored."""
    scope = tuple(dict.fromkeys(text.split()))
    if "openid" not in scope:
        raise fail("invalid_scope", "scope must include openid")
    unknown = [s for s in scope if s not in SCOPES]
    if unknown:
        raise fail("invalid_scope", "unknown scope")
    refused = [s for s in scope if s not in client.scopes]
    if refused:
        raise fail("invalid_scope", f"scope {refused[0]!r} is not registered for this client")
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

    def fail(error: str, description: str) -> AuthorizeRedirectError:
        return AuthorizeRedirectError(error, description, redirect_uri, state, issuer)

    if params.get("response_type") != "code":
        raise fail("unsupported_response_type", "only response_type=code")
    scope = _scope(params.get("scope", ""), client, fail)
    challenge = params.get("code_challenge", "")
    if params.get("code_challenge_method") != "S256" or len(challenge) not in _PKCE_CHALLENGE_LEN:
        raise fail("invalid_request", "PKCE with code_challenge_method=S256 is required")
    if "request" in params or "request_uri" in params:
        raise fail("request_not_supported", "request objects are not supported")
    display = params.get("display", "page")
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        state=state,
        nonce=params.get("nonce", "")[:512],
        code_challenge=challenge,
        identity=_identity(params, client),
        display=display if display in DISPLAYS else "page",
    )
