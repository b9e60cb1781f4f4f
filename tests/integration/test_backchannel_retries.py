"""A relying party's back-channel logout endpoint that is down: the first attempt is made at
once, then bounded retries with growing delays, each audited, then authsvc gives up."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from authsvc.services.logout import end_session
from tests.support.servers import running_authsvc

DELAYS = (0.05, 0.1, 0.2)


def flaky_endpoint(failures: int) -> tuple[web.Application, list[str]]:
    """A relying party's endpoint answering 503 `failures` times, then 200; it records calls."""
    calls: list[str] = []

    async def logout(request: web.Request) -> web.Response:
        calls.append((await request.post()).get("logout_token", ""))  # type: ignore[arg-type]
        return web.Response(status=503 if len(calls) <= failures else 200)

    app = web.Application()
    app.router.add_post("/bcl", logout)
    return app, calls


async def _logout_with(tmp_path: Path, aiohttp_server: Any, failures: int) -> tuple[list, list]:
    app, calls = flaky_endpoint(failures)
    rp = await aiohttp_server(app)
    client = {
        "client_id": "rp",
        "client_secret": "rp-secret",
        "name": {"zh": "测试", "en": "Test"},
        "redirect_uris": ["http://127.0.0.1:9/rp"],
        "backchannel_logout_uri": str(rp.make_url("/bcl")),
        "identities": ["personal"],
    }
    async with running_authsvc(
        tmp_path, extra_clients=[client], backchannel_retry_delays=DELAYS
    ) as authsvc:
        broker = authsvc.broker
        await end_session(broker, {"sid": "sid-1", "sub": "someone"}, broker.clients.get("rp"))
        await asyncio.gather(*broker.background)
        audit = [
            (r["outcome"], r["attempt"])
            for r in await authsvc.store.audit_records(100)
            if r.get("event") == "backchannel_logout"
        ]
    return calls, audit


async def test_retries_until_the_endpoint_answers(tmp_path: Path, aiohttp_server: Any) -> None:
    """Down twice, then up: three attempts, each audited, the same signed logout token shape."""
    calls, audit = await _logout_with(tmp_path, aiohttp_server, failures=2)
    assert len(calls) == 3 and all(calls)
    assert audit == [("failed", 1), ("failed", 2), ("delivered", 3)]


async def test_gives_up_after_the_bounded_retries(tmp_path: Path, aiohttp_server: Any) -> None:
    """Always down: one attempt plus one per configured delay, then an audited give-up."""
    calls, audit = await _logout_with(tmp_path, aiohttp_server, failures=100)
    assert len(calls) == 1 + len(DELAYS)
    assert audit == [("failed", 1), ("failed", 2), ("failed", 3), ("failed", 4), ("gave_up", 4)]


async def test_a_working_endpoint_is_called_once(tmp_path: Path, aiohttp_server: Any) -> None:
    """Up at once: one call, one audited delivery, no background retry left."""
    calls, audit = await _logout_with(tmp_path, aiohttp_server, failures=0)
    assert len(calls) == 1 and audit == [("delivered", 1)]
