"""Client authentication at the token endpoint (RFC 6749 §2.3, OIDC Core §9):
client_secret_basic, client_secret_post, private_key_jwt, and none for public clients."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from urllib.parse import unquote

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from authsvc import errors
from authsvc.clients import Client, ClientRegistry
from authsvc.store.base import Store

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ["ES256", "RS256", "PS256", "Ed25519"]


def _invalid(description: str) -> errors.InvalidClient:
    return errors.InvalidClient(description)


def _basic(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _invalid("malformed basic credentials") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise _invalid("malformed basic credentials")
    return unquote(client_id), unquote(secret)


async def authenticate(
    form: Mapping[str, str],
    authorization: str,
    clients: ClientRegistry,
    store: Store,
    *,
    token_endpoint: str,
    issuer: str,
    now: float,
) -> Client:
    basic = _basic(authorization)
    if basic is not None:
        return _by_secret(clients, *basic)
    if form.get("client_assertion_type") == ASSERTION_TYPE:
        return await _by_assertion(
            form.get("client_assertion", ""),
            clients,
            store,
            audiences={token_endpoint, issuer},
            now=now,
        )
    client_id = form.get("client_id", "")
    if "client_secret" in form:
        return _by_secret(clients, client_id, form["client_secret"])
    client = clients.find(client_id)
    if client is None or not client.is_public:
        raise _invalid("client authentication required")
    return client


def _by_secret(clients: ClientRegistry, client_id: str, secret: str) -> Client:
    client = clients.find(client_id)
    expected = client.client_secret if client else ""
    if (
        client is None
        or not expected
        or not hmac.compare_digest(expected.encode(), secret.encode())
    ):
        raise _invalid("unknown client or wrong secret")
    return client


def _claimed_issuer(assertion: str) -> str:
    """Read `iss` before verifying, only to know whose keys to verify with."""
    try:
        payload = json.loads(extract_compact(assertion.encode()).payload)
    except (JoseError, ValueError, TypeError) as exc:
        raise _invalid("malformed client assertion") from exc
    return str(payload.get("iss", "")) if isinstance(payload, dict) else ""


async def _by_assertion(
    assertion: str, clients: ClientRegistry, store: Store, *, audiences: set[str], now: float
) -> Client:
    """private_key_jwt: iss = sub = client_id, aud = token endpoint, short-lived, single-use jti."""
    client = clients.find(_claimed_issuer(assertion))
    if client is None or not client.jwks:
        raise _invalid("assertion issuer is not a client with keys")
    try:
        keys = KeySet.import_key_set(client.jwks)  # type: ignore[arg-type]
        claims = jwt.decode(assertion, keys, algorithms=ASSERTION_ALGORITHMS).claims
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise _invalid("assertion not signed by this client's key") from exc
    audience = claims.get("aud")
    audience_set = set(audience) if isinstance(audience, list) else {audience}
    exp = claims.get("exp")
    if claims.get("sub") != client.client_id or not audience_set & audiences:
        raise _invalid("assertion subject or audience is wrong")
    if not isinstance(exp, int) or not now < exp <= now + 600:
        raise _invalid("assertion lifetime is wrong")
    jti = str(claims.get("jti", ""))
    if not jti or not await store.spend_assertion_jti(client.client_id, jti, ttl=600):
        raise _invalid("assertion replayed")
    return client
