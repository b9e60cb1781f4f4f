"""A second relying portal built only from off-the-shelf libraries (Authlib's OAuth 2.0 client
with PKCE, joserfc for the ID token) completes a login: federation needs none of our code."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from pathlib import Path
from typing import Any

import aiohttp
import requests
from aiohttp import web
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import PhoneFactory
from tests.support.browser import wait_for_state
from tests.support.servers import free_socket, running_authsvc


class SecondPortal:
    """The whole relying party: discovery, authorize redirect, callback, ID-token checks."""

    def __init__(self, issuer: str, base: str) -> None:
        self.issuer, self.base = issuer, base
        self.pending: dict[str, dict[str, str]] = {}

    def _oauth(self) -> OAuth2Session:
        return OAuth2Session(
            "second",
            "second-secret",
            scope="openid profile",
            redirect_uri=self.base + "/callback",
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",
        )

    def _metadata(self) -> dict[str, Any]:
        return dict(
            requests.get(self.issuer + "/.well-known/openid-configuration", timeout=5).json()
        )

    def start(self) -> str:
        meta = self._metadata()
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(12)
        url, state = self._oauth().create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        self.pending[state] = {"verifier": verifier, "nonce": nonce}
        return str(url)

    def finish(self, url: str, state: str) -> dict[str, Any]:
        meta = self._metadata()
        saved = self.pending.pop(state)
        token = self._oauth().fetch_token(
            meta["token_endpoint"], authorization_response=url, code_verifier=saved["verifier"]
        )
        keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=5).json())
        claims = jwt.decode(token["id_token"], keys, algorithms=["ES256"]).claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": "second"},
            nonce={"essential": True, "value": saved["nonce"]},
        ).validate(claims)
        return dict(claims)

    async def login(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(await asyncio.to_thread(self.start))

    async def callback(self, request: web.Request) -> web.Response:
        claims = await asyncio.to_thread(self.finish, str(request.url), request.query["state"])
        return web.json_response({"signed_in_as": claims["name"], "sub": claims["sub"]})


async def test_authlib_portal_logs_in_with_mobile_sim(
    tmp_path: Path, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Authlib + joserfc, unchanged, sign a citizen in through the QR and the phone."""
    sock = free_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = {
        "client_id": "second",
        "client_secret": "second-secret",
        "name": {"zh": "第二门户", "en": "Second portal"},
        "redirect_uris": [base + "/callback"],
        "identities": ["personal"],
    }
    async with running_authsvc(tmp_path, extra_clients=[client]) as broker:
        portal = SecondPortal(broker.url, base)
        app = web.Application()
        app.router.add_get("/login", portal.login)
        app.router.add_get("/callback", portal.callback)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        try:
            async with http.get(base + "/login") as page:  # follows the redirect to the QR page
                html = await page.text()
            request_id = json.loads(
                re.search(r'id="qr-config">(.*?)</script>', html, re.S).group(1)
            )["request"]  # type: ignore[union-attr]
            async with http.post(
                broker.url + "/api/tickets", json={"request": request_id}
            ) as response:
                ticket = await response.json()
            ws = await http.ws_connect(broker.url + ticket["ws_url"])
            await ws.send_json({"type": "auth", "secret": ticket["browser_secret"]})
            phone = await phones(broker.url)
            await phone.login(ticket["qr_text"])
            redirect = (await wait_for_state(ws, "confirmed"))["redirect"]
            await ws.close()
            async with http.get(redirect) as landed:
                body = await landed.json()
        finally:
            await runner.cleanup()
    assert body["signed_in_as"] == "张三" and len(body["sub"]) == 32
