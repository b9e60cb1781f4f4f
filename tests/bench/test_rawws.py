"""The idle-socket client (bench.rawws) offers compression as a browser does and copes with
both answers: authsvc declines it; a server that accepts it gets its frames inflated."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bench.rawws import IdleSocket
from tests.support.browser import BrowserLogin
from tests.support.servers import Broker, running_authsvc


@pytest.fixture
async def authsvc(tmp_path: Path) -> AsyncIterator[Broker]:
    async with running_authsvc(tmp_path) as broker:
        yield broker


async def test_authsvc_declines_the_offer(authsvc: Broker, http: aiohttp.ClientSession) -> None:
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    host, port = authsvc.url.removeprefix("http://").split(":")
    hello = {"type": "auth", "secret": browser.ticket["browser_secret"]}
    sock = await IdleSocket.open(host, int(port), browser.ticket["ws_url"], authsvc.url, hello)
    try:
        assert sock.inflater is None  # answered `pending` uncompressed
    finally:
        await sock.close()


async def compressing(request: web.Request) -> web.WebSocketResponse:
    """A server that accepts permessage-deflate (aiohttp's default) and answers `pending`."""
    ws = web.WebSocketResponse(compress=True)
    await ws.prepare(request)
    await ws.receive()
    await ws.send_str(json.dumps({"type": "state", "state": "pending", "pad": "x" * 200}))
    async for _ in ws:
        pass
    return ws


async def test_a_compressing_server_is_inflated(aiohttp_server: Any) -> None:
    app = web.Application()
    app.router.add_get("/ws", compressing)
    server = await aiohttp_server(app)
    sock = await IdleSocket.open("127.0.0.1", server.port, "/ws", "http://x", {"type": "auth"})
    try:
        assert sock.inflater is not None  # the `pending` frame came compressed and was read
    finally:
        await sock.close()
