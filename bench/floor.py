"""The floor: the least a server can do for the same login traffic, to compare authsvc with.

A bare aiohttp app on Redis, shaped like the broker's traffic but with none of its checks:

  POST /tickets                  a random id and secret; SET the secret's hash in Redis (with a TTL)
  GET  /ws/{id}                  WebSocket: `{"type":"auth","secret":…}` → GET + compare, then the
                                 current state at once, then every event for this id
  POST /tickets/{id}/{step}      step ∈ scan, face, confirm (the phone's calls; its account
                                 choice goes with the face check): one script publishing the
                                 event to the ticket's holders, nothing else; for face, which
                                 the browser does not see (authsvc commits it without an
                                 event), the same script publishing nothing
  POST /tickets/{id}/poll        long-poll, as authsvc's: `{"secret", "version"}` → GET + compare,
                                 then the latest event once its version differs from `version`
                                 (at once for version 0: `pending`), waiting for it otherwise

Events are routed as authsvc routes them (store/redis.py): the socket's (or long poll's) read of
the secret also adds this process to the ticket's holders (one pipeline), and a step publishes
to the holders' channels but its own, handing the event to its own socket and waiters itself
(authsvc's commit does the same). One shared pub/sub connection per process, on its own
channel, hands each message to the socket for its id and to the long-poll waiters of its id
(the relay numbers a polled ticket's events: that is its version). No signatures, e-cards,
QR, compare-and-set, audit, rate limits, per-socket queues or metrics: the ratio to authsvc is
what those cost.
It talks to Redis as authsvc does (commands through store/resp.py's LeanRedis, pub/sub through
redis-py), so the client's cost per command is the same on both sides of the ratio.

Run: python -m bench.floor --port P --redis-url URL --prefix PREFIX
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import AsyncIterator

from aiohttp import WSMsgType, web
from redis.asyncio import Redis

from authsvc.cli import new_event_loop, settle_heap
from authsvc.config import default_of
from authsvc.store.resp import LeanRedis, LeanScript

STATES = {
    "scan": "scanned",
    "face": "scanned",  # with the account choice, as the phone sends them
    "confirm": "confirmed",
}
SILENT = frozenset({"face"})  # steps that change nothing the browser shows
TICKET_TTL_MS = 600_000
HEARTBEAT = 15.0  # as authsvc's Limits.ws_heartbeat
MAX_MESSAGE = 4096  # as authsvc's Limits.ws_max_message_bytes

REDIS = web.AppKey("redis", Redis)  # pub/sub, as authsvc's RedisStore
COMMANDS = web.AppKey("commands", LeanRedis)  # everything else, as authsvc's RedisStore
PREFIX = web.AppKey("prefix", str)
PROCESS = web.AppKey("process", str)  # names this process's event channel
PUBLISH_TO_HOLDERS = web.AppKey("publish_to_holders", LeanScript)
SOCKETS = web.AppKey("sockets", dict[str, web.WebSocketResponse])
POLLED = web.AppKey("polled", dict[str, "Polled"])
LONG_POLL_TIMEOUT = 25.0  # as authsvc's Limits.long_poll_timeout
routes = web.RouteTableDef()


class Polled:
    """A long-polled ticket: its latest event and version, and a wake-up for its waiters."""

    def __init__(self, ticket_id: str) -> None:
        self.version = 1
        self.event = {"type": "state", "ticket": ticket_id, "state": "pending", "version": 1}
        self.changed = asyncio.Event()

    def offer(self, event: dict[str, object]) -> None:
        self.version += 1
        self.event = event | {"version": self.version}
        self.changed.set()
        self.changed = asyncio.Event()


# KEYS[1] the ticket's holders; ARGV[1] the channel prefix, ARGV[2] the message ("" for none),
# ARGV[3] the publishing process (not published to: it hands the event out itself, as authsvc).
_PUBLISH_TO_HOLDERS = """
if ARGV[2] == '' then
  return
end
for _, holder in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if holder ~= ARGV[3] then
    redis.call('PUBLISH', ARGV[1] .. holder, ARGV[2])
  end
end
"""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def _read_and_hold(app: web.Application, ticket_id: str) -> str | None:
    """The secret's hash, and this process among the ticket's holders (one round trip)."""
    holders = app[PREFIX] + "th:" + ticket_id
    async with app[COMMANDS].pipeline(transaction=False) as pipe:
        pipe.sadd(holders, app[PROCESS]).pexpire(holders, TICKET_TTL_MS)
        pipe.get(app[PREFIX] + "t:" + ticket_id)
        replies = await pipe.execute()
    return None if replies[2] is None else str(replies[2])


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    await request.app[COMMANDS].ping()
    return web.json_response({"status": "ready"})


@routes.post("/tickets")
async def create(request: web.Request) -> web.Response:
    ticket_id, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
    key = request.app[PREFIX] + "t:" + ticket_id
    await request.app[COMMANDS].set(key, _hash(secret), px=TICKET_TTL_MS)
    return web.json_response(
        {"ticket_id": ticket_id, "browser_secret": secret, "ws_url": f"/ws/{ticket_id}"}, status=201
    )


@routes.get("/ws/{ticket_id}")
async def socket(request: web.Request) -> web.StreamResponse:
    ticket_id = request.match_info["ticket_id"]
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_MESSAGE, compress=False)
    await ws.prepare(request)
    try:
        hello = await ws.receive(timeout=5.0)
        secret = (
            str(json.loads(hello.data).get("secret", "")) if hello.type is WSMsgType.TEXT else ""
        )
    except (TimeoutError, ValueError, AttributeError):
        await ws.close(code=4401)
        return ws
    stored = await _read_and_hold(request.app, ticket_id)
    if stored is None or not hmac.compare_digest(stored, _hash(secret)):
        await ws.close(code=4403)
        return ws
    sockets = request.app[SOCKETS]
    sockets[ticket_id] = ws  # subscribed (locally) before the snapshot goes out
    try:
        await ws.send_str(json.dumps({"type": "state", "ticket": ticket_id, "state": "pending"}))
        async for message in ws:
            if message.type is WSMsgType.ERROR:
                break
    finally:
        if sockets.get(ticket_id) is ws:
            del sockets[ticket_id]
    return ws


@routes.post("/tickets/{ticket_id}/poll")
async def long_poll(request: web.Request) -> web.Response:
    ticket_id = request.match_info["ticket_id"]
    try:
        body = json.loads(await request.read())
        secret, version = str(body.get("secret", "")), body.get("version", 0)
    except (ValueError, AttributeError):
        raise web.HTTPBadRequest() from None
    stored = await _read_and_hold(request.app, ticket_id)
    if stored is None or not hmac.compare_digest(stored, _hash(secret)):
        raise web.HTTPForbidden()
    polled = request.app[POLLED].setdefault(ticket_id, Polled(ticket_id))
    if polled.version == version:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(polled.changed.wait(), LONG_POLL_TIMEOUT)
    event = polled.event
    if event["state"] == "confirmed":
        request.app[POLLED].pop(ticket_id, None)
    return web.json_response(event)


@routes.post("/tickets/{ticket_id}/{step}")
async def step(request: web.Request) -> web.Response:
    ticket_id, name = request.match_info["ticket_id"], request.match_info["step"]
    state = STATES.get(name)
    if state is None:
        raise web.HTTPNotFound()
    await request.read()
    event = {"type": "state", "ticket": ticket_id, "state": state}
    body = "" if name in SILENT else json.dumps(event)
    app = request.app
    prefix, message = app[PREFIX], f"{ticket_id} {body}" if body else ""
    await app[PUBLISH_TO_HOLDERS](
        keys=[prefix + "th:" + ticket_id], args=[prefix + "events:", message, app[PROCESS]]
    )
    if body:
        await _hand_out(app, ticket_id, body)
    return web.json_response({"state": state})


async def _hand_out(app: web.Application, ticket_id: str, body: str) -> None:
    """An event to this process's long poll and socket for the ticket, if it has them."""
    if (waiting := app[POLLED].get(ticket_id)) is not None:
        waiting.offer(json.loads(body))
    ws = app[SOCKETS].get(ticket_id)
    if ws is not None and not ws.closed:
        with contextlib.suppress(ConnectionResetError):
            await ws.send_str(body)


async def _relay(app: web.Application) -> None:
    """The one pub/sub connection: each message goes to the socket for its ticket id."""
    pubsub = app[REDIS].pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(app[PREFIX] + "events:" + app[PROCESS])
    try:
        async for message in pubsub.listen():
            ticket_id, _, body = str(message["data"]).partition(" ")
            await _hand_out(app, ticket_id, body)
    finally:
        await pubsub.aclose()


def create_app(redis_url: str, prefix: str) -> web.Application:
    app = web.Application()
    app[PREFIX] = prefix
    app[PROCESS] = secrets.token_hex(8)
    app[SOCKETS] = {}
    app[POLLED] = {}

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        app[REDIS] = Redis.from_url(redis_url, decode_responses=True, protocol=2)
        app[COMMANDS] = LeanRedis(redis_url)
        app[PUBLISH_TO_HOLDERS] = app[COMMANDS].register_script(_PUBLISH_TO_HOLDERS)
        relay = asyncio.create_task(_relay(app))
        yield
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
        await app[REDIS].aclose()
        await app[COMMANDS].aclose()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_routes(routes)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.floor", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--prefix", required=True)
    args = parser.parse_args()
    app = create_app(args.redis_url, args.prefix)
    settle_heap()  # as authsvc does
    web.run_app(
        app,
        host="127.0.0.1",
        port=args.port,
        print=None,
        access_log=None,
        # authsvc's loop, whichever it is: the ratio compares the work, not the loops.
        loop=new_event_loop(os.environ.get("AUTHSVC_EVENT_LOOP", str(default_of("event_loop")))),
    )


if __name__ == "__main__":
    main()
