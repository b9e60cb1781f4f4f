"""WebSocket push to the browser: authenticate, subscribe, send the current state, then stream.

Subscribing before reading the ticket means no change can fall between the two; events older
than the snapshot are dropped by version. An idle socket costs no task and no queue: events are
handed to a callback that starts a short-lived sender; a socket that falls behind has its
backlog replaced by one fresh read of the ticket, so it never holds up the others."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from authsvc import errors
from authsvc.core import fastjson, tickets
from authsvc.http.appkeys import SOCKETS, WS_COUNTS
from authsvc.http.browser import authorized_ticket
from authsvc.http.common import broker, client_ip, state_message
from authsvc.http.expiries import Slot, expiries
from authsvc.http.middleware import answer_errors, guards_itself, log_unhandled
from authsvc.http.wslimits import CLOSE_TOO_MANY, RETRY_AFTER, SocketCounts
from authsvc.services.broker import Broker
from authsvc.store.base import Closable

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
_IDLE: list[dict[str, Any]] = []  # every idle stream's backlog; never appended to (see _queue)


async def close_all(app: web.Application) -> None:
    """On shutdown, tell every browser to reconnect (to another process) instead of waiting."""
    for ws in list(app[SOCKETS]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def allowed_origins(b: Broker) -> set[str]:
    return {b.settings.issuer, *b.clients.origins(), *b.settings.allowed_origins}


@routes.get("/ws/tickets/{ticket_id}")
@guards_itself
async def ticket_socket(request: web.Request) -> web.StreamResponse:
    """Upgrade (a refusal answered as the error middleware answers), authenticate, then hold the
    socket until it closes. An idle socket waits in this frame with no middleware frame around
    it, and only what it references stays alive: not the ticket, not the secret."""
    socket = _Counted(request.app[WS_COUNTS])
    try:
        ws = await answer_errors(request, functools.partial(_upgrade, socket=socket))
        if not isinstance(ws, web.WebSocketResponse):
            return ws  # refused before the upgrade
        b, sockets = broker(request), request.app[SOCKETS]
        sockets.add(ws)
        b.metrics.websockets.inc()
        stream = None
        try:
            stream = await _authenticated(b, ws, request.match_info["ticket_id"], socket)
            if stream is not None:
                async for message in ws:  # pongs and close frames; the browser sends no more
                    if message.type is WSMsgType.ERROR:
                        break
        except Exception:
            log_unhandled(request)
        finally:
            if stream is not None:
                stream.stop()
            await ws.close()
            b.metrics.websockets.dec()
            sockets.discard(ws)
    finally:
        socket.release()
    return ws


async def _upgrade(request: web.Request, socket: _Counted) -> web.StreamResponse:
    """The checks before the upgrade (origin, sockets per address), then the upgrade."""
    b = broker(request)
    origin = request.headers.get("Origin")
    if origin is not None and origin not in allowed_origins(b):
        raise errors.ForbiddenOrigin(origin[:100])
    socket.open(client_ip(request))  # 429 + Retry-After before the upgrade
    limits = b.settings.limits
    # No permessage-deflate, which every browser offers: for frames of a few hundred bytes of
    # JSON it would keep a zlib compressor per socket (~94 KiB of RSS each, against ~15 KiB
    # for the whole socket without it) and deflate every frame, to save a few bytes.
    ws = web.WebSocketResponse(
        heartbeat=limits.ws_heartbeat, max_msg_size=limits.ws_max_message_bytes, compress=False
    )
    await ws.prepare(request)
    return ws


class _Counted:
    """This socket's places in the process's counts, given back exactly once."""

    __slots__ = ("authenticated", "counts", "ip", "ticket_id")

    def __init__(self, counts: SocketCounts) -> None:
        self.counts = counts
        self.ip: str | None = None  # counted from `open` on
        self.authenticated = False
        self.ticket_id: str | None = None

    def open(self, ip: str) -> None:
        self.counts.open(ip)  # raises RateLimited past a bound, counting nothing
        self.ip = ip

    def authenticate(self) -> None:
        if not self.authenticated:
            self.authenticated = True
            self.counts.authenticated()

    def join(self, ticket_id: str) -> bool:
        if self.counts.join(ticket_id):
            self.ticket_id = ticket_id
            return True
        return False

    def release(self) -> None:
        if self.ticket_id is not None:
            self.counts.leave(self.ticket_id)
        if self.ip is not None:
            self.counts.close(self.ip, authenticated=self.authenticated)


async def _hello(b: Broker, ws: web.WebSocketResponse) -> str | None:
    """The browser secret from the first message, or None (and the socket closed)."""
    try:
        message = await ws.receive(timeout=b.settings.limits.ws_auth_timeout)
        hello = fastjson.loads(message.data) if message.type is WSMsgType.TEXT else {}
    except (TimeoutError, ValueError, TypeError, RecursionError):
        hello = {}
    if isinstance(hello, dict) and hello.get("type") == "auth":
        return str(hello.get("secret", ""))[:128]
    await ws.close(code=CLOSE_UNAUTHORIZED, message=b"auth required")
    return None


async def _authenticated(
    b: Broker, ws: web.WebSocketResponse, ticket_id: str, socket: _Counted
) -> TicketStream | None:
    """The socket's stream, started with the ticket's state; None when refused (and closed)."""
    secret = await _hello(b, ws)
    socket.authenticate()  # it spoke (or was closed): no longer waiting for its secret
    if secret is None:
        return None
    stream = TicketStream(b, ws, ticket_id)
    stream.listener = b.store.listen(ticket_id, stream.on_event)  # subscribe first, then read
    try:
        ticket = await authorized_ticket(b, ticket_id, secret)
    except errors.QrAuthError as exc:
        stream.stop()
        await _send(ws, {"type": "error", **exc.body()})
        await ws.close(code=CLOSE_FORBIDDEN, message=exc.code.encode())
        return None
    except BaseException:
        stream.stop()  # cancelled, or a store failure: no listener is left behind
        raise
    if not socket.join(ticket_id):
        stream.stop()
        refusal = errors.RateLimited("ws per ticket", retry_after=RETRY_AFTER)
        await _send(ws, {"type": "error", **refusal.body(), "retry_after": RETRY_AFTER})
        await ws.close(code=CLOSE_TOO_MANY, message=b"rate_limited")
        return None
    stream.start(ticket)
    return stream


class TicketStream:
    """One socket's view of one ticket: ordered sends, expiry, resync, close when terminal.

    Slots, and nothing made before it is needed: an idle socket's stream is one small object
    (its backlog exists while there is something to send, its tasks while they run)."""

    MAX_BACKLOG = 16
    __slots__ = (
        "b",
        "backlog",
        "early",
        "expires_at",
        "expiry",
        "listener",
        "sender",
        "sent",
        "tasks",
        "ticket_id",
        "version",
        "ws",
    )

    def __init__(self, b: Broker, ws: web.WebSocketResponse, ticket_id: str) -> None:
        self.b, self.ws, self.ticket_id = b, ws, ticket_id
        self.version = -1  # the newest version queued
        self.sent = -1  # the newest version the browser was sent
        self.expires_at = 0.0
        self.backlog = _IDLE
        self.early: list[dict[str, Any]] | None = []  # None once started
        self.sender: asyncio.Task[None] | None = None
        self.expiry: Slot | None = None
        self.tasks: set[asyncio.Task[None]] | None = None
        self.listener: Closable | None = None

    def start(self, ticket: tickets.Ticket) -> None:
        early, self.early = self.early or [], None
        self._queue(tickets.event(ticket), ticket.expires_at)
        for event in early:  # arrived between subscribing and reading
            self.on_event(event)

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.close()
        if self.expiry is not None:
            self.expiry.discard(self)
        for task in [self.sender, *(self.tasks or ())]:
            if task is not None:
                task.cancel()

    def on_event(self, event: dict[str, Any]) -> None:
        if self.early is not None:
            self.early.append(event)
        elif event.get("resync") or len(self.backlog) >= self.MAX_BACKLOG:
            self.backlog.clear()  # what was queued and not sent is replaced by one fresh read
            self.version = self.sent
            self._spawn(self._reload())
        elif event.get("version", -1) > self.version:
            self._queue(event, event["expires_at"])

    def _queue(self, event: dict[str, Any], expires_at: float) -> None:
        self.version, self.expires_at = event["version"], expires_at
        if self.backlog:
            self.backlog.append(event)
        else:
            self.backlog = [event]  # a list of its own: the idle one is shared
        if self.expiry is not None:
            self.expiry.discard(self)
            self.expiry = None
        if event["state"] not in tickets.TERMINAL:
            delay = max(expires_at - self.b.now(), 0.0) + 0.05
            self.expiry = expiries().add(self, delay)
        if self.sender is None:
            self.sender = asyncio.create_task(self._pump())

    def expire(self) -> None:
        """Its expiry is due (the wheel calls this): read the ticket again."""
        self.expiry = None
        self._spawn(self._reload())

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        if self.tasks is None:
            self.tasks = set()
        self.tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        if self.tasks is not None:
            self.tasks.discard(task)
            if not self.tasks:
                self.tasks = None

    async def _reload(self) -> None:
        """Read the ticket again (after a resync, a backlog or its expiry) and send if it moved."""
        try:
            ticket = await self.b.load(self.ticket_id)
        except errors.QrAuthError:
            await self.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"reload failed")
            return
        if ticket.version > self.version or ticket.state in tickets.TERMINAL:
            self._queue(tickets.event(ticket), ticket.expires_at)

    async def _pump(self) -> None:
        try:
            while self.backlog:
                event = self.backlog.pop(0)
                published = event.get("published_at")
                await _send(self.ws, state_message(event))
                self.sent = event["version"]
                if published is not None:
                    self.b.metrics.push_latency.observe(max(self.b.now() - published, 0.0))
                if event["state"] in tickets.TERMINAL:
                    await self.ws.close()
                    return
        finally:
            self.sender = None
            self.backlog = _IDLE


async def _send(ws: web.WebSocketResponse, body: dict[str, Any]) -> None:
    if not ws.closed:
        with contextlib.suppress(ConnectionResetError):
            await ws.send_str(fastjson.dumps(body))
