"""RFC 7636 PKCE with S256, plus the random values of an authorization request."""

from __future__ import annotations

import base64
import hashlib
import secrets


def verifier() -> str:
    """43+ characters of the unreserved alphabet (RFC 7636 §4.1)."""
    return secrets.token_urlsafe(48)


def challenge(code_verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier)))."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def random_token() -> str:
    return secrets.token_urlsafe(32)
