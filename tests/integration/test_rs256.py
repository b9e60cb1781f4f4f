"""ID tokens signed by each client's registered algorithm (OpenID Connect Dynamic Client
Registration §2 `id_token_signed_response_alg`): RS256 for a relying party registered for it,
ES256 for everyone else; discovery and the JWKS offer both."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from joserfc import jwt
from joserfc.errors import BadSignatureError, UnsupportedAlgorithmError
from joserfc.jwk import KeySet

from tests.conftest import PhoneFactory
from tests.integration.test_oidc import code_of, confirmed_redirect
from tests.support.browser import BrowserLogin
from tests.support.servers import Broker, running_authsvc

RS_CLIENT = {
    "client_id": "legacy",
    "client_secret": "legacy-secret",
    "name": {"zh": "旧系统", "en": "Legacy portal"},
    "redirect_uris": ["http://127.0.0.1:9/legacy"],
    "identities": ["personal"],
    "scopes": ["openid", "profile"],
    "id_token_signed_response_alg": "RS256",
}


@pytest.fixture
async def broker(tmp_path: Path, store_kind: str, redis_prefix: str) -> AsyncIterator[Broker]:
    async with running_authsvc(
        tmp_path, store_kind=store_kind, prefix=redis_prefix, extra_clients=[RS_CLIENT]
    ) as running:
        yield running


def b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64_int(text: str) -> int:
    return int.from_bytes(b64(text), "big")


def header_of(token: str) -> dict[str, Any]:
    return dict(json.loads(b64(token.split(".")[0])))


async def id_token_for(
    broker: Broker,
    http: aiohttp.ClientSession,
    phones: PhoneFactory,
    client_id: str,
    secret: str,
    redirect_uri: str,
) -> str:
    browser = BrowserLogin(
        broker.url, http, client_id=client_id, redirect_uri=redirect_uri, scope="openid profile"
    )
    code = code_of(await confirmed_redirect(broker, http, phones, browser))
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": browser.verifier,
    }
    auth = {"Authorization": aiohttp.encode_basic_auth(client_id, secret)}
    async with http.post(broker.url + "/token", data=form, headers=auth) as response:
        body = await response.json()
        assert response.status == 200, body
    return str(body["id_token"])


async def jwks_of(broker: Broker, http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.get(broker.url + "/jwks.json") as response:
        return dict(await response.json())


async def test_discovery_and_jwks_offer_es256_and_rs256(
    broker: Broker, http: aiohttp.ClientSession
) -> None:
    """Discovery lists ES256 first and RS256 (required by Discovery §3); the JWKS holds an EC
    P-256 key and an RSA key of at least 2048 bits, each with its alg and no private part."""
    async with http.get(broker.url + "/.well-known/openid-configuration") as response:
        meta = await response.json()
    assert meta["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
    keys = {k["alg"]: k for k in (await jwks_of(broker, http))["keys"]}
    assert set(keys) == {"ES256", "RS256"}
    assert keys["ES256"]["kty"] == "EC" and keys["ES256"]["crv"] == "P-256"
    rsa_jwk = keys["RS256"]
    assert rsa_jwk["kty"] == "RSA" and rsa_jwk["use"] == "sig" and rsa_jwk["e"] == "AQAB"
    assert b64_int(rsa_jwk["n"]).bit_length() >= 2048
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(rsa_jwk)


async def test_rs256_client_gets_an_rs256_id_token_the_hall_still_es256(
    broker: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The RS256-registered client's ID token verifies from the JWKS with joserfc and with bare
    RSASSA-PKCS1-v1_5 (pyca/cryptography, as any RS256 library does) as RS256 only; the hall's
    is ES256 by default; neither verifies as the other alg."""
    legacy = await id_token_for(
        broker, http, phones, "legacy", "legacy-secret", "http://127.0.0.1:9/legacy"
    )
    hall = await id_token_for(broker, http, phones, "hall", "hall-secret", "http://127.0.0.1:9/cb")
    document = await jwks_of(broker, http)
    kids = {k["alg"]: k["kid"] for k in document["keys"]}
    assert header_of(legacy) == {"alg": "RS256", "kid": kids["RS256"], "typ": "JWT"}
    assert header_of(hall)["alg"] == "ES256" and header_of(hall)["kid"] == kids["ES256"]
    keys = KeySet.import_key_set(document)
    claims = jwt.decode(legacy, keys, algorithms=["RS256"]).claims
    assert claims["aud"] == "legacy" and claims["iss"] == broker.url and claims["name"] == "张三"
    assert jwt.decode(hall, keys, algorithms=["ES256"]).claims["aud"] == "hall"
    with pytest.raises(UnsupportedAlgorithmError):
        jwt.decode(legacy, keys, algorithms=["ES256"])
    with pytest.raises(UnsupportedAlgorithmError):
        jwt.decode(hall, keys, algorithms=["RS256"])
    rsa_jwk = next(k for k in document["keys"] if k["alg"] == "RS256")
    public = rsa.RSAPublicNumbers(b64_int(rsa_jwk["e"]), b64_int(rsa_jwk["n"])).public_key()
    signed, _, signature = legacy.rpartition(".")
    public.verify(b64(signature), signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    forged = legacy.rsplit(".", 1)[0] + "." + hall.rsplit(".", 1)[1]
    with pytest.raises(BadSignatureError):
        jwt.decode(forged, keys, algorithms=["RS256"])


def test_a_registration_with_an_unsupported_alg_is_refused(tmp_path: Path) -> None:
    """`id_token_signed_response_alg = "HS256"` (or `none`) stops the registry from loading."""
    from authsvc.clients import ClientRegistry

    for alg in ("HS256", "none", "rs256"):
        path = tmp_path / f"{alg}.json"
        path.write_text(
            json.dumps({"clients": [{**RS_CLIENT, "id_token_signed_response_alg": alg}]})
        )
        with pytest.raises(ValueError, match="id_token_signed_response_alg"):
            ClientRegistry.load(path)
