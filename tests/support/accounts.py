"""A relying portal's accounts endpoint for broker tests: verifies authsvc's signed request
against the JWKS (like the real portal does) and answers from a table."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.servers import free_socket

COMPANY_A = {"credit_code": "91230100MA1B2C3D4E", "company_name": "哈尔滨冰城科技有限公司"}
COMPANY_B = {"credit_code": "91230100MA5F6G7H8J", "company_name": "龙江松花江物流有限公司"}
NO_LEGAL_REP = {
    "zh": "未找到当前法人账号信息，请先注册法人账号！",
    "en": "No legal representative account; register first",
}


@dataclass
class AccountsServer:
    url: str
    issuer: str = ""
    client_id: str = "hall"
    table: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200

    async def handle(self, request: web.Request) -> web.Response:
        token = await request.text()
        async with (
            aiohttp.ClientSession() as http,
            http.get(self.issuer + "/jwks.json") as response,
        ):
            keys = KeySet.import_key_set(await response.json())
        decoded = jwt.decode(token, keys, algorithms=["ES256"])
        claims = decoded.claims
        assert decoded.header["typ"] == "accounts-request+jwt"
        assert claims["iss"] == self.issuer and claims["aud"] == self.client_id
        self.requests.append(claims)
        if self.status != 200:
            return web.json_response({"error": "down"}, status=self.status)
        accounts = self.table.get(claims["identity"], [])
        if not accounts:
            return web.json_response(
                {"error": "no_legal_rep_account", "message": NO_LEGAL_REP}, status=404
            )
        return web.json_response({"accounts": accounts})


@asynccontextmanager
async def running_accounts(table: dict[str, list[dict[str, Any]]]) -> AsyncIterator[AccountsServer]:
    sock: socket.socket = free_socket()
    server = AccountsServer(
        url=f"http://127.0.0.1:{sock.getsockname()[1]}/api/accounts", table=table
    )
    app = web.Application()
    app.router.add_post("/api/accounts", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield server
    finally:
        await runner.cleanup()
