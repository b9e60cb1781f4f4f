"""A relying party's back-channel logout endpoint that is down: the first attempt is made at
once, then bounded retries with growing delays, each audited, then authsvc gives up. The retries
wait in the Store's queue, not in the process that ended the session: when that process stops,
another one on the same Redis makes them."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from authsvc.core.clock import FrozenClock
from authsvc.services.logout import DELIVERY_LEASE, deliver_due, end_session
from tests.support.servers import free_port, running_authsvc

DELAYS = (1.0, 4.0, 15.0)


def flaky_endpoint(failures: int) -> tuple[web.Application, list[str]]:
    """A relying party's endpoint answering 503 `failures` times, then 200; it records calls."""
    calls: list[str] = []

    async def logout(request: web.Request) -> web.Response:
        calls.append((await request.post()).get("logout_token", ""))  # type: ignore[arg-type]
        return web.Response(status=503 if len(calls) <= failures else 200)

    app = web.Application()
    app.router.add_post("/bcl", logout)
    return app, calls


def rp_client(backchannel_logout_uri: str) -> dict[str, Any]:
    return {
        "client_id": "rp",
        "client_secret": "rp-secret",
        "name": {"zh": "测试", "en": "Test"},
        "redirect_uris": ["http://127.0.0.1:9/rp"],
        "backchannel_logout_uri": backchannel_logout_uri,
        "identities": ["personal"],
    }


async def backchannel_audit(store: Any) -> list[tuple[str, int]]:
    return [
        (r["outcome"], r["attempt"])
        for r in await store.audit_records(200)
        if r.get("event") == "backchannel_logout"
    ]


async def _logout_with(
    tmp_path: Path, aiohttp_server: Any, store_kind: str, prefix: str, failures: int
) -> tuple[list[str], list[tuple[str, int]]]:
    app, calls = flaky_endpoint(failures)
    rp = await aiohttp_server(app)
    clock = FrozenClock()
    async with running_authsvc(
        tmp_path,
        store_kind=store_kind,
        prefix=prefix,
        clock=clock,
        extra_clients=[rp_client(str(rp.make_url("/bcl")))],
        backchannel_retry_delays=DELAYS,
        backchannel_poll=3600.0,  # the test makes the due attempts itself
    ) as authsvc:
        broker = authsvc.broker
        await end_session(broker, {"sid": "sid-1", "sub": "someone"}, broker.clients.get("rp"))
        for delay in DELAYS:
            assert await deliver_due(broker) == 0  # not before its delay
            clock.advance(delay)
            await deliver_due(broker)
        clock.advance(DELIVERY_LEASE * 10)
        assert await deliver_due(broker) == 0
        assert await authsvc.store.pending_deliveries() == []
        audit = await backchannel_audit(authsvc.store)
    return calls, audit


async def test_retries_until_the_endpoint_answers(
    tmp_path: Path, aiohttp_server: Any, store_kind: str, redis_prefix: str
) -> None:
    """Down twice, then up: three attempts, each audited, the same signed logout token shape."""
    calls, audit = await _logout_with(tmp_path, aiohttp_server, store_kind, redis_prefix, 2)
    assert len(calls) == 3 and all(calls)
    assert audit == [("failed", 1), ("failed", 2), ("delivered", 3)]


async def test_gives_up_after_the_bounded_retries(
    tmp_path: Path, aiohttp_server: Any, store_kind: str, redis_prefix: str
) -> None:
    """Always down: one attempt plus one per configured delay, then an audited give-up."""
    calls, audit = await _logout_with(tmp_path, aiohttp_server, store_kind, redis_prefix, 100)
    assert len(calls) == 1 + len(DELAYS)
    assert audit == [("failed", 1), ("failed", 2), ("failed", 3), ("failed", 4), ("gave_up", 4)]


async def test_a_working_endpoint_is_called_once(
    tmp_path: Path, aiohttp_server: Any, store_kind: str, redis_prefix: str
) -> None:
    """Up at once: one call, one audited delivery, nothing queued."""
    calls, audit = await _logout_with(tmp_path, aiohttp_server, store_kind, redis_prefix, 0)
    assert len(calls) == 1 and audit == [("delivered", 1)]


def issuer_of(logout_token: str) -> str:
    payload = logout_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["iss"])


async def until(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    """Wait for the other process's delivery loop (it polls every 50 ms)."""
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.02)


async def test_another_process_delivers_when_the_first_is_gone(
    tmp_path: Path, aiohttp_server: Any, redis_prefix: str
) -> None:
    """Process A ends the session while the RP's endpoint is down, then stops. Process B, on
    the same Redis, makes the next attempt when it is due (still down: failed) and the one after
    that once the endpoint is back: delivered, signed by B; every attempt is in the audit."""
    clock = FrozenClock()
    port = free_port()
    client = rp_client(f"http://127.0.0.1:{port}/bcl")
    options: dict[str, Any] = {
        "store_kind": "redis",
        "prefix": redis_prefix,
        "clock": clock,
        "extra_clients": [client],
        "backchannel_retry_delays": DELAYS,
    }
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    async with running_authsvc(tmp_path / "a", backchannel_poll=3600.0, **options) as a:
        await end_session(a.broker, {"sid": "sid-9", "sub": "someone"}, a.broker.clients.get("rp"))
        assert [d.attempt for d in await a.store.pending_deliveries()] == [2]
    async with running_authsvc(tmp_path / "b", backchannel_poll=0.05, **options) as b:
        assert await backchannel_audit(b.store) == [("failed", 1)]
        clock.advance(DELAYS[0])
        await until(lambda: _has(b.store, ("failed", 2)))
        rp_app, calls = flaky_endpoint(0)
        await aiohttp_server(rp_app, port=port)  # the endpoint is back
        clock.advance(DELAYS[1])
        await until(lambda: _has(b.store, ("delivered", 3)))
        assert [issuer_of(token) for token in calls] == [b.url]
        assert await backchannel_audit(b.store) == [
            ("failed", 1),
            ("failed", 2),
            ("delivered", 3),
        ]
        assert await b.store.pending_deliveries() == []


async def test_a_process_that_dies_holding_a_claim_loses_nothing(
    tmp_path: Path, aiohttp_server: Any, redis_prefix: str
) -> None:
    """A claims attempt 2 and stops before making it: once the lease is over, B makes attempt
    3 (never attempt 2 a second time) and it is delivered."""
    clock = FrozenClock()
    rp_app, calls = flaky_endpoint(1)
    rp = await aiohttp_server(rp_app)
    options: dict[str, Any] = {
        "store_kind": "redis",
        "prefix": redis_prefix,
        "clock": clock,
        "extra_clients": [rp_client(str(rp.make_url("/bcl")))],
        "backchannel_retry_delays": DELAYS,
    }
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    async with running_authsvc(tmp_path / "a", backchannel_poll=3600.0, **options) as a:
        await end_session(a.broker, {"sid": "sid-7", "sub": "someone"}, a.broker.clients.get("rp"))
        clock.advance(DELAYS[0])
        (held,) = await a.store.claim_deliveries(clock.now(), lease=DELIVERY_LEASE)
        assert held.attempt == 2
    async with running_authsvc(tmp_path / "b", backchannel_poll=3600.0, **options) as b:
        assert await deliver_due(b.broker) == 0  # A's lease still runs
        clock.advance(DELIVERY_LEASE)
        assert await deliver_due(b.broker) == 1
        assert await backchannel_audit(b.store) == [("failed", 1), ("delivered", 3)]
        assert len(calls) == 2 and await b.store.pending_deliveries() == []


async def _has(store: Any, entry: tuple[str, int]) -> bool:
    return entry in await backchannel_audit(store)
