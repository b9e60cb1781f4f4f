"""What the desktop browser calls: the authorization page, ticket creation, QR images, long-poll."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from authsvc import errors, qrimage
from authsvc.core import qr, tickets
from authsvc.core.oidc.authorize import (
    AuthorizationRequest,
    PendingRequest,
    pending,
    require_live,
    validate,
)
from authsvc.core.tickets import Identity, Ticket
from authsvc.http.common import (
    RateLimit,
    broker,
    client_ip,
    count_hit,
    field,
    json_response,
    lang,
    rate_limit,
    read_json,
    state_message,
)
from authsvc.http.pages import render
from authsvc.keyring import Purpose
from authsvc.services import login
from authsvc.services.broker import Broker
from authsvc.store.base import Event, Subscription, TicketRequestRead

routes = web.RouteTableDef()
AUTH_REQUEST_TTL = 1800.0
GC_SLACK = 60.0  # the store keeps a request this much past its expiry: logical expiry decides
_SCALE = re.compile(r"[0-9]{1,2}")
IDENTITY_LABELS = {
    Identity.LEGAL_REP: ("法人扫码登录", "Legal representative"),
    Identity.AGENT: ("办事员扫码登录", "Agent"),
    Identity.PERSONAL: ("个人登录", "Personal"),
}


@routes.get("/authorize")
async def authorize(request: web.Request) -> web.StreamResponse:
    """OpenID Connect authorization endpoint: validate, remember the request, show the QR page."""
    b = broker(request)
    limit = b.settings.limits.authorize_per_ip_per_minute
    await rate_limit(request, "authorize-ip", client_ip(request), limit)
    auth = validate(request.query, b.clients, b.settings.issuer)
    request_id = secrets.token_urlsafe(16)
    remembered = pending(auth, request_id=request_id, now=b.now(), ttl=AUTH_REQUEST_TTL)
    await b.store.save_authorization_request(remembered, ttl=AUTH_REQUEST_TTL + GC_SLACK)
    client = b.clients.get(auth.client_id)
    language = lang(request)
    identities = [
        {"value": str(i), "label": IDENTITY_LABELS[i][1 if language == "en" else 0]}
        for i in (Identity.LEGAL_REP, Identity.AGENT, Identity.PERSONAL)
        if i in client.identities
    ]
    config = {
        "request": request_id,
        "identity": str(auth.identity),
        "lang": language,
        "embedded": auth.display == "embedded",
        "redirect_origin": _origin(auth.redirect_uri),
        "auto_renewals": b.settings.qr_auto_renewals,
    }
    ancestors = " ".join(sorted(client.origins())) if auth.display == "embedded" else "'none'"
    return render(
        request,
        "qr_login.html",
        {
            "client_name": client.name_en if language == "en" else client.name_zh,
            "identities": identities,
            "config": json.dumps(config).replace("<", "\\u003c"),
            "embedded": auth.display == "embedded",
        },
        frame_ancestors=ancestors,
    )


def _origin(uri: str) -> str:
    scheme, _, rest = uri.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


@routes.post("/api/tickets")
async def create_ticket(request: web.Request) -> web.Response:
    b = broker(request)
    limit = RateLimit("ticket-ip", client_ip(request), b.settings.limits.tickets_per_ip_per_minute)
    body, read = await _counted_request(request, limit, recall=True)
    try:
        ticket, secret, text = _new_ticket(request, body, read.request)
    except errors.QrAuthError:
        if read.counted:
            raise
        body, read = await _counted_request(request, limit)  # the refusal, on a real read
        ticket, secret, text = _new_ticket(request, body, read.request)
    hit = None if read.counted else limit.as_hit()  # counted with the ticket, or not at all
    await b.create(ticket, {"ua": ticket.browser_ua[:80]}, hit=hit)
    return json_response(_ticket_view(b, ticket, secret, text), status=201)


def _new_ticket(
    request: web.Request, body: dict[str, Any], stored: PendingRequest | None
) -> tuple[Ticket, str, str]:
    """The ticket for the authorization request, its browser secret and its QR text (no I/O)."""
    b = broker(request)
    auth = require_live(stored, b.now())
    identity = _requested_identity(b, auth, body.get("identity"))
    secret = tickets.new_browser_secret()
    ticket = tickets.create(
        client_id=auth.client_id,
        identity=identity,
        browser_ip=client_ip(request),
        browser_ua=request.headers.get("User-Agent", ""),
        browser_secret=secret,
        now=b.now(),
        lifetimes=b.settings.lifetimes,
        request={**auth.as_dict(), "identity": str(identity)},
    )
    text = qr_text(b, ticket)
    return tickets.with_qr(ticket, qr.digest(text)), secret, text


async def _counted_request(
    request: web.Request, limit: RateLimit, *, recall: bool = False
) -> tuple[dict[str, Any], TicketRequestRead]:
    """The body and the authorization request it names, read with the per-IP hit in one round
    trip (`Store.ticket_request`); past the limit 429 comes first, as if the body had not been
    read. A body that cannot be read, or names no request, is counted alone, then refused.
    `recall`: a request this process recalls comes without a round trip and uncounted
    (`read.counted` is False): the caller counts the hit with the ticket it creates."""
    try:
        body = await read_json(request)
        request_id = field(body, "request", max_len=64)
    except Exception:
        await count_hit(request, limit)  # 429 past the limit, instead of the body's error
        raise
    read = await broker(request).store.ticket_request(
        request_id, hit_key=limit.key, window=limit.window, recall=recall
    )
    limit.check(read.hits)
    return body, read


def _requested_identity(b: Broker, auth: AuthorizationRequest, wanted: Any) -> Identity:
    client = b.clients.get(auth.client_id)
    try:
        identity = Identity(wanted or auth.identity)
    except ValueError as exc:
        raise errors.InvalidRequest("unknown identity") from exc
    if identity not in client.identities:
        raise errors.IdentityNotAllowed(str(identity))
    return identity


def qr_text(b: Broker, ticket: Ticket) -> str:
    record, key = b.keyring.current(Purpose.QR)
    claims = qr.QrClaims(
        issuer=b.settings.issuer,
        ticket_id=ticket.id,
        client_id=ticket.client_id,
        identity=ticket.identity,
        expires_at=int(ticket.expires_at),
        kid=record.kid,
    )
    return qr.build(claims, key)


def _ticket_view(b: Broker, ticket: Ticket, secret: str, text: str) -> dict[str, Any]:
    """The new ticket as the page needs it. The page draws the QR from `qr_text` itself
    (static/qr_draw.js); `png_url` and `svg_url` draw it here for clients that cannot."""
    base = f"/api/tickets/{ticket.id}"
    query = urlencode({"text": text})
    return {
        "ticket_id": ticket.id,
        "browser_secret": secret,
        "qr_text": text,
        "expires_at": ticket.expires_at,
        "lifetime": ticket.expires_at - ticket.created_at,
        "ws_url": f"/ws/tickets/{ticket.id}",
        "poll_url": f"{base}/poll",
        "svg_url": "/api/qr.svg?" + query,
        "png_url": "/api/qr.png?" + query,
    }


def _verified_qr_text(request: web.Request) -> str:
    """The QR text to draw: only one of ours, signed and unexpired. The image depends on the
    text alone (which the page already has), never on the ticket's state, so it tells nobody
    whether a login is still pending (issue 12); and authsvc is no general QR drawing service."""
    text = request.query.get("text", "")
    if not text or len(text) > qr.MAX_PAYLOAD_CHARS + 200:
        raise errors.QrInvalid("missing or oversized text")
    login.verify_qr(broker(request), text)
    return text


@routes.get("/api/qr.svg")
async def qr_svg(request: web.Request) -> web.Response:
    svg = qrimage.svg(qrimage.encode(_verified_qr_text(request)))
    return web.Response(
        text=svg, content_type="image/svg+xml", headers={"Cache-Control": "no-store"}
    )


@routes.get("/api/qr.png")
async def qr_png(request: web.Request) -> web.Response:
    wanted = request.query.get("scale", "6")
    scale = min(max(int(wanted), 1), 16) if _SCALE.fullmatch(wanted) else 6
    png = qrimage.png(qrimage.encode(_verified_qr_text(request)), scale=scale)
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})


@routes.post("/api/tickets/{ticket_id}/poll")
async def long_poll(request: web.Request) -> web.Response:
    """For networks that block WebSockets: the current event once its version moves on."""
    b = broker(request)
    body = await read_json(request)
    secret = field(body, "secret", max_len=128)
    version = body.get("version", 0)
    ticket_id = request.match_info["ticket_id"]
    sub = b.store.subscribe(ticket_id, maxsize=4)
    try:
        ticket = await authorized_ticket(b, ticket_id, secret)
        if ticket.version == version and ticket.state not in tickets.TERMINAL:
            wait = min(
                b.settings.limits.long_poll_timeout, max(ticket.expires_at - b.now(), 0) + 0.5
            )
            event = await next_event(sub, after=ticket.version, wait=wait)
            if event is not None:
                return json_response(state_message(event))
            ticket = await b.load(ticket_id)  # timed out (maybe expired) or resync: read
        return json_response({"type": "state", **tickets.event(ticket)})
    finally:
        sub.close()


async def next_event(sub: Subscription, *, after: int, wait: float) -> Event | None:
    """The first event newer than version `after` within `wait` seconds; None on a timeout, a
    resync or a closed subscription (then the caller reads the ticket). Events of commits
    before the read (the subscription is opened first) are passed over. The commit's own
    event is the committed ticket's `tickets.event`, so the answer is the one a read gives,
    without the read's round trip on the way to the browser."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while (left := deadline - loop.time()) > 0:
        event = await sub.get(timeout=left)
        if event is None or event.get("resync"):
            return None
        if event.get("version", -1) > after:
            return event
    return None


async def authorized_ticket(b: Broker, ticket_id: str, secret: str) -> Ticket:
    """Nobody without the browser secret learns anything, not even whether the ticket exists."""
    stored = await b.store.get_ticket(ticket_id) if len(ticket_id) <= 64 else None
    if stored is None or not tickets.secret_matches(stored, secret):
        raise errors.BrowserSecretInvalid()
    return tickets.effective(stored, b.now())
