"""Token-endpoint rules: PKCE (RFC 7636 §4.6) and matching a code's grant (RFC 6749 §4.1.3)."""

from __future__ import annotations

import hashlib
import hmac
import re

from authsvc import errors
from authsvc.core.crypto import b64u
from authsvc.core.oidc.grant import Grant

_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def s256(verifier: str) -> str:
    return b64u(hashlib.sha256(verifier.encode("ascii")).digest())


def check_grant(
    grant: Grant, *, client_id: str, redirect_uri: str, verifier: str, now: float
) -> None:
    """The code is unexpired (RFC 6749 §4.1.2: short-lived), was issued to this client, for
    this redirect URI, and this verifier proves PKCE."""
    if grant.expired(now):
        raise errors.InvalidGrant("the code expired")
    request = grant.request
    if grant.client_id != client_id:
        raise errors.InvalidGrant("the code was issued to another client")
    if request["redirect_uri"] != redirect_uri:
        raise errors.InvalidGrant("redirect_uri does not match the authorization request")
    if not _VERIFIER.match(verifier) or not hmac.compare_digest(
        s256(verifier), request["code_challenge"]
    ):
        raise errors.InvalidGrant("PKCE verification failed")
