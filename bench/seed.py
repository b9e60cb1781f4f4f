"""Tickets for the idle-socket measurement, written straight into Redis.

Making 10,000 tickets over HTTP would cost authsvc ~10,000 QR images and most of the run's time
budget before the measurement even starts, and nothing of it stays in the server's memory (the
tickets live in Redis). So the generator writes them itself, with authsvc's own code:
`tickets.ticket.create` and `RedisStore.create_ticket`, the very record POST /api/tickets stores
(same client, identity, user agent and authorization request). The floor's tickets are its
`SET t:{id} sha256(secret)`. `--idle-tickets http` makes them over HTTP instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time

from redis.asyncio import Redis

from authsvc.core import tickets
from authsvc.core.tickets import Identity, Lifetimes
from authsvc.store.redis import RedisStore
from bench.floor import TICKET_TTL_MS

PENDING_S = 600.0  # as AUTHSVC_TICKET_TTL in bench.servers


async def authsvc_tickets(
    redis_url: str, prefix: str, request_id: str, user_agent: str, count: int
) -> list[tuple[str, str]]:
    """(ws_url, browser secret) for `count` pending tickets of client `hall`."""
    store = RedisStore(redis_url, prefix=prefix)  # no event reader: only writes
    out: list[tuple[str, str]] = []
    gate = asyncio.Semaphore(64)
    try:
        stored = await store.get_authorization_request(request_id)
        if stored is None:
            raise RuntimeError("the authorization request is gone")
        auth = stored.request
        request = {**auth.as_dict(), "identity": str(Identity.PERSONAL)}

        async def one() -> None:
            secret = tickets.new_browser_secret()
            ticket = tickets.create(
                client_id=auth.client_id,
                identity=Identity.PERSONAL,
                browser_ip="127.0.0.1",
                browser_ua=user_agent,
                browser_secret=secret,
                now=time.time(),
                lifetimes=Lifetimes(pending=PENDING_S),
                request=request,
            )
            async with gate:
                await store.create_ticket(ticket, ttl=PENDING_S + 300)
            out.append((f"/ws/tickets/{ticket.id}", secret))

        await asyncio.gather(*(one() for _ in range(count)))
    finally:
        await store.close()
    return out


async def floor_tickets(redis_url: str, prefix: str, count: int) -> list[tuple[str, str]]:
    client = Redis.from_url(redis_url, decode_responses=True, protocol=2)
    out: list[tuple[str, str]] = []
    try:
        for start in range(0, count, 1000):
            pipe = client.pipeline(transaction=False)
            for _ in range(min(1000, count - start)):
                ticket_id, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
                digest = hashlib.sha256(secret.encode()).hexdigest()
                pipe.set(f"{prefix}t:{ticket_id}", digest, px=TICKET_TTL_MS)
                out.append((f"/ws/{ticket_id}", secret))
            await pipe.execute()
    finally:
        await client.aclose()
    return out
