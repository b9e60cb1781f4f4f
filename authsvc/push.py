"""WebSocket push to the browser: authenticate, subscribe, send the current state, then stream.

Subscribing before reading the ticket means no change can fall between the two; events older
than the snapshot are dropped by version. Each socket has its own bounded queue: a slow socket
is cut off, never awaited by the others."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import weakref
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from authsvc import errors
from authsvc.broker import Broker
from authsvc.core import ticket as core
from authsvc.http.browser import _authorized_ticket
from authsvc.http.common import broker
from authsvc.store.base import Subscription

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
SOCKETS = web.AppKey("sockets", weakref.WeakSet)


async def close_all(app: web.Application) -> None:
    """On shutdown, tell every browser to reconnect (to another process) instead of waiting."""
    for ws in list(app[SOCKETS]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def allowed_origins(b: Broker) -> set[str]:
    return {b.settings.issuer, *b.clients.origins(), *b.settings.allowed_origins}


@routes.get("/ws/tickets/{ticket_id}")
async def ticket_socket(request: web.Request) -> web.StreamResponse:
    b = broker(request)
    origin = request.headers.get("Origin")
    if origin is not None and origin not in allowed_origins(b):
        raise errors.ForbiddenOrigin(origin[:100])
    limits = b.settings.limits
    ws = web.WebSocketResponse(
        heartbeat=limits.ws_heartbeat, max_msg_size=limits.ws_max_message_bytes
    )
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    b.metrics.websockets.inc()
    try:
        await _serve(b, ws, request.match_info["ticket_id"])
    finally:
        b.metrics.websockets.dec()
    return ws


async def _authenticate(b: Broker, ws: web.WebSocketResponse, ticket_id: str) -> bool:
    try:
        message = await ws.receive(timeout=b.settings.limits.ws_auth_timeout)
        hello = json.loads(message.data) if message.type is WSMsgType.TEXT else {}
        secret = (
            hello.get("secret", "")
            if isinstance(hello, dict) and hello.get("type") == "auth"
            else ""
        )
        await _authorized_ticket(b, ticket_id, str(secret)[:128])
    except (TimeoutError, ValueError, TypeError, RecursionError):
        await ws.close(code=CLOSE_UNAUTHORIZED, message=b"auth required")
        return False
    except errors.QrAuthError as exc:
        await _send(ws, {"type": "error", **exc.body()})
        await ws.close(code=CLOSE_FORBIDDEN, message=exc.code.encode())
        return False
    return True


async def _serve(b: Broker, ws: web.WebSocketResponse, ticket_id: str) -> None:
    if not await _authenticate(b, ws, ticket_id):
        return
    sub = b.store.subscribe(ticket_id, maxsize=b.settings.limits.ws_queue_size)
    reader = asyncio.create_task(_drain_incoming(ws, sub))
    try:
        await _stream(b, ws, ticket_id, sub)
    finally:
        sub.close()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await ws.close()


async def _stream(b: Broker, ws: web.WebSocketResponse, ticket_id: str, sub: Subscription) -> None:
    ticket = await b.load(ticket_id)
    await _send(ws, {"type": "state", **core.event(ticket)})
    version = ticket.version
    while ticket.state not in core.TERMINAL:
        wait = max(ticket.expires_at - b.now(), 0.0) + 0.05
        event = await sub.get(timeout=wait)
        if event is None or event.get("resync"):
            if event is None and sub.closed:
                return
            ticket = await b.load(ticket_id)
            if ticket.version == version and ticket.state not in core.TERMINAL:
                continue
            event = core.event(ticket)
        elif event["version"] <= version:
            continue
        else:
            ticket = _apply_event(ticket, event)
        version = event["version"]
        await _send(
            ws, {"type": "state", **{k: v for k, v in event.items() if k != "published_at"}}
        )
        if "published_at" in event:
            b.metrics.push_latency.observe(max(b.now() - event["published_at"], 0.0))


def _apply_event(ticket: core.Ticket, event: dict[str, Any]) -> core.Ticket:
    """Enough of the event to know the new state and expiry without reading the store."""
    return dataclasses.replace(
        ticket,
        state=core.State(event["state"]),
        version=event["version"],
        expires_at=event["expires_at"],
    )


async def _drain_incoming(ws: web.WebSocketResponse, sub: Subscription) -> None:
    """Read (and ignore) client messages so close frames and pongs are processed; when the
    browser goes away, closing the subscription ends the stream."""
    try:
        async for message in ws:
            if message.type is WSMsgType.ERROR:
                break
    finally:
        sub.close()


async def _send(ws: web.WebSocketResponse, body: dict[str, Any]) -> None:
    if not ws.closed:
        with contextlib.suppress(ConnectionResetError):
            await ws.send_str(json.dumps(body, ensure_ascii=False))
