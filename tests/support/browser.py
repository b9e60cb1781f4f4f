"""A desktop browser's side of the login, over real HTTP and a real WebSocket (no JS engine)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import aiohttp

CONFIG = re.compile(r'<script type="application/json" id="qr-config">(.*?)</script>', re.S)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    return verifier, challenge


@dataclass
class BrowserLogin:
    """The QR page's state: the authorization request, then a ticket with its secret."""

    base: str
    http: aiohttp.ClientSession
    client_id: str = "hall"
    redirect_uri: str = "http://127.0.0.1:9/cb"
    scope: str = "openid profile account id_number"
    verifier: str = ""
    state: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    request_id: str = ""
    ticket: dict[str, Any] = field(default_factory=dict)

    async def open_page(self, identity: str = "personal", **extra: str) -> str:
        self.verifier, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "login_hint": identity,
            **extra,
        }
        async with self.http.get(
            self.base + "/authorize", params=params, allow_redirects=False
        ) as response:
            html = await response.text()
            assert response.status == 200, (response.status, response.headers.get("Location"), html)
        match = CONFIG.search(html)
        assert match, "the QR page carries its config"
        self.request_id = json.loads(match.group(1))["request"]
        return html

    async def new_ticket(self, identity: str = "personal") -> dict[str, Any]:
        async with self.http.post(
            self.base + "/api/tickets", json={"request": self.request_id, "identity": identity}
        ) as response:
            body = await response.json()
            assert response.status == 201, body
        self.ticket = body
        return body

    async def start(self, identity: str = "personal") -> dict[str, Any]:
        await self.open_page(identity)
        return await self.new_ticket(identity)

    async def socket(
        self, base: str | None = None, secret: str | None = None, **kwargs: Any
    ) -> aiohttp.ClientWebSocketResponse:
        ws = await self.http.ws_connect((base or self.base) + self.ticket["ws_url"], **kwargs)
        await ws.send_json({"type": "auth", "secret": secret or self.ticket["browser_secret"]})
        return ws


async def next_state(ws: aiohttp.ClientWebSocketResponse, timeout: float = 10.0) -> dict[str, Any]:
    message = await ws.receive(timeout=timeout)
    assert message.type == aiohttp.WSMsgType.TEXT, (
        f"socket ended: {message.type} {message.data} {message.extra}"
    )
    return json.loads(message.data)


async def wait_for_state(
    ws: aiohttp.ClientWebSocketResponse, state: str, timeout: float = 10.0
) -> dict[str, Any]:
    """Read events until `state` arrives (intermediate same-state updates are skipped)."""
    while True:
        event = await next_state(ws, timeout)
        if event.get("state") == state:
            return event
