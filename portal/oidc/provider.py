"""authsvc as seen by the portal: discovery, JWKS (cached, refetched on unknown kid), token."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import aiohttp
from joserfc.jwk import KeySet

from portal.errors import ProviderUnavailable
from portal.oidc import tokens

log = logging.getLogger(__name__)
JWKS_MIN_REFETCH_SECONDS = 10.0
JWKS_MAX_AGE_SECONDS = 300.0  # refetch at least this often, unknown kid or not
DISCOVERY_TTL_SECONDS = 3600.0


@dataclass(frozen=True)
class TokenResponse:
    id_token: str
    access_token: str
    raw: dict[str, Any]


class Provider:
    """One authsvc issuer. Create once per app; `close()` on cleanup."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        timeout: float,
        jwks_min_refetch: float = JWKS_MIN_REFETCH_SECONDS,
        jwks_max_age: float = JWKS_MAX_AGE_SECONDS,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self._secret = client_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._http: aiohttp.ClientSession | None = None
        self._meta: dict[str, Any] | None = None
        self._meta_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0
        self._lock = asyncio.Lock()
        self._min_refetch = jwks_min_refetch
        self._max_age = jwks_max_age

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self._session().get(url) as resp:
                if resp.status != 200:
                    raise ProviderUnavailable(f"GET {url}: {resp.status}")
                return dict(await resp.json(content_type=None))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ProviderUnavailable(f"GET {url}: {type(exc).__name__}") from None

    async def metadata(self) -> dict[str, Any]:
        """OIDC Discovery §4; the issuer in the document must be ours (§4.3)."""
        if self._meta is None or time.monotonic() - self._meta_at > DISCOVERY_TTL_SECONDS:
            meta = await self._get_json(self.issuer + "/.well-known/openid-configuration")
            if meta.get("issuer", "").rstrip("/") != self.issuer:
                raise ProviderUnavailable("discovery issuer mismatch")
            self._meta, self._meta_at = meta, time.monotonic()
        return self._meta

    async def endpoint(self, name: str) -> str:
        value = (await self.metadata()).get(name)
        if not isinstance(value, str):
            raise ProviderUnavailable(f"no {name}")
        return value

    async def keys(self, *, refresh: bool = False) -> KeySet:
        async with self._lock:
            age = time.monotonic() - self._keys_at
            stale = age >= self._min_refetch
            # A key authsvc publishes before signing with it (`keys add`) is learnt within
            # max_age, so its first signature is never an unknown kid (docs/operations.md).
            if self._keys is None or (refresh and stale) or age >= self._max_age:
                jwks = await self._get_json(await self.endpoint("jwks_uri"))
                try:
                    self._keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
                except Exception as exc:
                    raise ProviderUnavailable(f"bad JWKS: {type(exc).__name__}") from None
                self._keys_at = time.monotonic()
            return self._keys

    async def verify(self, token: str, expect: tokens.Expect) -> dict[str, Any]:
        """Verify against the cached JWKS; on an unknown kid refetch once (key rotation)."""
        try:
            return tokens.verify(token, await self.keys(), expect)
        except tokens.UnknownKey:
            return tokens.verify(token, await self.keys(refresh=True), expect)

    async def redeem(self, code: str, code_verifier: str, redirect_uri: str) -> TokenResponse:
        """RFC 6749 §4.1.3 with client_secret_basic and the PKCE verifier."""
        url = await self.endpoint("token_endpoint")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        pair = f"{_form_encode(self.client_id)}:{_form_encode(self._secret)}"
        auth = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}
        try:
            async with self._session().post(url, data=form, headers=auth) as resp:
                body = await resp.json(content_type=None)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ProviderUnavailable(f"token: {type(exc).__name__}") from None
        if status != 200 or not isinstance(body, dict) or "id_token" not in body:
            error = body.get("error") if isinstance(body, dict) else None
            raise tokens.TokenInvalid(f"token endpoint {status} {error}")
        return TokenResponse(body["id_token"], str(body.get("access_token", "")), body)

    async def bearer(self, method: str, path: str, access_token: str) -> tuple[int, dict[str, Any]]:
        """One of the issuer's bearer-token APIs (RFC 6750 §2.1), e.g. /api/ecard/me: the
        status and the JSON body (our own APIs answer errors as JSON too)."""
        headers = {"Authorization": f"Bearer {access_token}"}
        try:
            async with self._session().request(method, self.issuer + path, headers=headers) as resp:
                body = await resp.json(content_type=None)
                return resp.status, body if isinstance(body, dict) else {}
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ProviderUnavailable(f"{path}: {type(exc).__name__}") from None


def _form_encode(value: str) -> str:
    """RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding."""
    return quote_plus(value)
