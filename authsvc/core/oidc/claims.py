"""What an ID token and userinfo say (OIDC Core §2, §5.4, §8 pairwise subjects), by scope.

A claim is released only when the request asked for its scope (§5.4) and the client's
registration allows it (least privilege: `id_number` and `phone_number` only to clients
registered for them)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from authsvc.core.crypto import b64u

ACCOUNT_FIELDS = ("relationships", "business_items", "unit_numbers")
#: Each scope and the user claims it stands for (`openid` gives only `sub`), in display order.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": (),
    "profile": ("name",),
    "id_number": ("id_number",),
    "phone": ("phone_number",),
    "account": ("role", "company", *ACCOUNT_FIELDS),
    "ecard": (),  # no claim: lets the access token read and report lost the person's card
}
SCOPES = tuple(SCOPE_CLAIMS)


def claims_of(scope: Iterable[str]) -> frozenset[str]:
    """The user claims these scopes stand for (unknown scope names stand for none)."""
    wanted = set(scope)
    return frozenset(c for s, names in SCOPE_CLAIMS.items() if s in wanted for c in names)


def released(scope: Iterable[str], allowed: Collection[str]) -> list[str]:
    """The names of the claims a login with this scope gives a client allowed `allowed`, in
    display order: what the phone tells the person before they confirm."""
    wanted = claims_of(scope)
    return [c for names in SCOPE_CLAIMS.values() for c in names if c in wanted and c in allowed]


def subject(
    id_number: str, *, client_id: str, redirect_uri: str, subject_type: str, salt: str
) -> str:
    """Pairwise by default: the same person has unrelated `sub`s at different portals (§8.1,
    sector = the redirect URI's host). `public` gives one stable opaque id everywhere."""
    local = hmac.new(salt.encode(), id_number.encode(), hashlib.sha256).hexdigest()
    if subject_type == "public":
        return b64u(bytes.fromhex(local))[:32]
    sector = urlsplit(redirect_uri).hostname or client_id
    return b64u(hashlib.sha256(f"{sector}|{local}|{salt}".encode()).digest())[:32]


def user_claims(
    scope: tuple[str, ...] | list[str],
    person: Mapping[str, Any],
    account: Mapping[str, Any],
    *,
    allowed: Collection[str],
) -> dict[str, Any]:
    """The user claims of the requested scope, only those in `allowed` (the registration)."""
    claims: dict[str, Any] = {}
    if "profile" in scope:
        claims["name"] = person.get("name", "")
    if "id_number" in scope:
        claims["id_number"] = person.get("id_number", "")
    if "phone" in scope:
        claims["phone_number"] = person.get("phone", "")
    if "account" in scope and account:
        claims["role"] = account.get("role", "")
        if account.get("credit_code"):
            claims["company"] = {
                "credit_code": account["credit_code"],
                "name": account.get("company_name", ""),
            }
        for name in ACCOUNT_FIELDS:
            if name in account:
                claims[name] = account[name]
    return {name: value for name, value in claims.items() if name in allowed}


def id_token_claims(
    grant: Mapping[str, Any],
    *,
    issuer: str,
    sub: str,
    now: float,
    ttl: float,
    allowed: Collection[str],
) -> dict[str, Any]:
    request = grant["request"]
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": sub,
        "aud": grant["client_id"],
        "iat": int(now),
        "exp": int(now + ttl),
        "auth_time": grant["auth_time"],
        "acr": grant["acr"],
        "amr": list(grant["amr"]),
        "sid": grant["sid"],
    }
    if request.get("nonce"):
        claims["nonce"] = request["nonce"]
    claims.update(
        user_claims(request.get("scope", ()), grant["subject"], grant["account"], allowed=allowed)
    )
    return claims
