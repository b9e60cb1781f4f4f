"""The mobile API: every call signed by the phone's device key and carrying its e-card."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from authsvc import errors
from authsvc.core import acr, device, ecard, qr, tickets
from authsvc.core import face as face_rules
from authsvc.core.ecard import Card
from authsvc.core.face import FaceResult
from authsvc.core.oidc.claims import released
from authsvc.core.useragent import browser_and_os, rough_place
from authsvc.http.common import (
    RateLimit,
    broker,
    client_ip,
    count_hit,
    field,
    json_response,
    parse_json,
    rate_limit,
    read_body,
)
from authsvc.keyring import Purpose
from authsvc.registry import person_key
from authsvc.services import ecards, face, login
from authsvc.store.base import Assumed, PhoneRead, StaleRead
from authsvc.store.records import FaceLock

routes = web.RouteTableDef()
T = TypeVar("T")


def _check_signature(
    request: web.Request, device_jwk: dict[str, Any], body: bytes, device_id: str = ""
) -> str:
    """The device signature over this request (no I/O); returns the device id."""
    b = broker(request)
    signed = device.SignedRequest(request.method, request.path, request.headers, body)
    return device.verify_request(
        signed,
        device_jwk,
        now=b.now(),
        max_skew=b.settings.limits.device_clock_skew,
        device_id=device_id,
    )


def _nonce_key(request: web.Request, device_id: str) -> str:
    return f"nonce:{device_id}:{request.headers[device.HEADER_NONCE]}"


def _nonce_ttl(request: web.Request) -> float:
    return 2 * broker(request).settings.limits.device_clock_skew


async def _verified(
    request: web.Request, device_jwk: dict[str, Any], body: bytes, device_id: str = ""
) -> str:
    """Check the device signature and spend its nonce; returns the device id."""
    device_id = _check_signature(request, device_jwk, body, device_id)
    if not await broker(request).store.add_once(
        _nonce_key(request, device_id), ttl=_nonce_ttl(request)
    ):
        raise errors.RequestReplayed()
    return device_id


async def _signed(request: web.Request) -> tuple[Card, bytes]:
    """The request's e-card and its device signature, both checked without I/O."""
    token = request.headers.get(device.HEADER_ECARD, "")
    if not token or len(token) > 4096:
        raise errors.EcardInvalid("no e-card header")
    card = ecards.verified_card(broker(request), token)
    body = await read_body(request)
    _check_signature(request, card.device_jwk, body, card.device_id)
    return card, body


async def _fetch(
    request: web.Request,
    card: Card,
    *,
    ticket_id: str = "",
    require_active: bool = True,
    face_lock_day: str = "",
) -> PhoneRead:
    """One round trip for a signed call: the card's record (checked), the nonce (spent), the
    ticket the call is about (read; TicketNotFound when it names one that is not there), and
    when asked the person's face lock on `face_lock_day` (read, for the caller to check)."""
    read = await _read(request, card, ticket_id=ticket_id, face_lock_day=face_lock_day)
    await _check_read(
        request, card, read, require_active=require_active, needs_ticket=bool(ticket_id)
    )
    return read


async def _read(
    request: web.Request,
    card: Card,
    *,
    ticket_id: str = "",
    face_lock_day: str = "",
    spend_nonce: bool = True,
    recall: bool = False,
) -> PhoneRead:
    if len(ticket_id) > 64:
        raise errors.TicketNotFound()
    return await broker(request).store.phone_request(
        person=person_key(card.id_number),
        card_no=card.card_no,
        nonce_key=_nonce_key(request, card.device_id),
        nonce_ttl=_nonce_ttl(request),
        ticket_id=ticket_id,
        face_lock_day=face_lock_day,
        spend_nonce=spend_nonce,
        recall=recall,
    )


async def _check_read(
    request: web.Request,
    card: Card,
    read: PhoneRead,
    *,
    require_active: bool = True,
    needs_ticket: bool = True,
) -> None:
    await ecards.check_record(broker(request), card, read.card, require_active=require_active)
    if not read.fresh_nonce:
        raise errors.RequestReplayed()
    if needs_ticket and read.ticket is None:
        raise errors.TicketNotFound()


Decide = Callable[[tickets.Ticket, PhoneRead, Assumed | None], Awaitable[T]]


async def _on_ticket(
    request: web.Request,
    card: Card,
    ticket_id: str,
    decide: Decide[T],
    *,
    face_lock_day: str = "",
    limit: RateLimit | None = None,
) -> T:
    """A ticket step decided on the request's read (`decide(ticket, read, assumed)`, which
    passes `assumed` to its commit), counting one hit on `limit` after the nonce is spent.

    When this process recalls all the read would fetch, the step is decided on that and its
    commit checks it, spends the nonce and counts the hit: one round trip instead of two or
    three (store.base.Assumed). Nothing is refused on recalled values alone: a refusal decided
    on them, or a commit that finds them stale, is decided again on a real read."""
    recalled = await _read(
        request, card, ticket_id=ticket_id or "-", face_lock_day=face_lock_day, recall=True
    )
    assumed = recalled.assumed
    if assumed is None:
        return await _decided_on_read(request, card, recalled, decide, limit)
    assumed.hit = limit.as_hit() if limit else None
    try:
        await _check_read(request, card, recalled)
        result = await decide(_ticket_of(recalled), recalled, assumed)
    except errors.Unavailable:
        raise  # the commit's answer was lost: it may have been made
    except (errors.QrAuthError, StaleRead):
        if assumed.settled:
            raise
    else:
        if assumed.settled:
            return result
    read = await _read(
        request,
        card,
        ticket_id=ticket_id or "-",
        face_lock_day=face_lock_day,
        spend_nonce=not assumed.nonce_spent,
    )
    return await _decided_on_read(request, card, read, decide, limit)


async def _decided_on_read(
    request: web.Request,
    card: Card,
    read: PhoneRead,
    decide: Decide[T],
    limit: RateLimit | None,
) -> T:
    await _check_read(request, card, read)
    if limit is not None:
        await count_hit(request, limit)
    return await decide(_ticket_of(read), read, None)


def _ticket_of(read: PhoneRead) -> tickets.Ticket:
    if read.ticket is None:  # _check_read has refused already; this tells the type checker
        raise errors.TicketNotFound()
    return read.ticket


async def _fetch_ticket(
    request: web.Request,
    card: Card,
    ticket_id: str,
    *,
    face_lock_day: str = "",
) -> tuple[tickets.Ticket, PhoneRead]:
    read = await _fetch(request, card, ticket_id=ticket_id or "-", face_lock_day=face_lock_day)
    if read.ticket is None:  # _fetch has refused already; this tells the type checker
        raise errors.TicketNotFound()
    return read.ticket, read


async def _phone(
    request: web.Request, *, require_active: bool = True
) -> tuple[Card, dict[str, Any]]:
    card, body = await _signed(request)
    await _fetch(request, card, require_active=require_active)
    return card, parse_json(body)


async def _phone_on_ticket(request: web.Request) -> tuple[Card, dict[str, Any], tickets.Ticket]:
    """A signed call on the ticket in its path: the card, the body, the ticket as stored."""
    card, body = await _signed(request)
    ticket, _ = await _fetch_ticket(request, card, request.match_info["ticket_id"])
    return card, parse_json(body), ticket


async def _face_step(
    request: web.Request,
) -> tuple[Card, dict[str, Any], tickets.Ticket, FaceLock | None]:
    """`_phone_on_ticket`, and the card holder's face lock for today read in the same trip."""
    card, raw = await _signed(request)
    today = face_rules.day_of(broker(request).now())
    ticket, read = await _fetch_ticket(
        request, card, request.match_info["ticket_id"], face_lock_day=today
    )
    return card, parse_json(raw), ticket, read.face_lock


@routes.get("/api/broker-keys")
async def broker_keys(request: web.Request) -> web.Response:
    b = broker(request)
    now = b.now()
    return json_response(
        {
            "issuer": b.settings.issuer,
            "qr": b.keyring.jwks(Purpose.QR, now=now),
            "ecard": b.keyring.jwks(Purpose.ECARD, now=now),
        }
    )


async def _application(request: web.Request) -> tuple[ecard.Application, dict[str, Any]]:
    """An application's body, signed by the device key it names, within the per-IP limit."""
    b = broker(request)
    ip = client_ip(request)
    await rate_limit(request, "ecard", ip, b.settings.limits.ecard_applications_per_ip_per_minute)
    raw = await read_body(request)
    body = parse_json(raw)
    application = ecard.validate_application(body)
    await _verified(request, application.device_jwk, raw)
    return application, body


@routes.post("/api/mobile/face-challenges")
async def application_face_challenge(request: web.Request) -> web.Response:
    """Step 1 of 电子社保卡申领: the registry must know this person, then a liveness challenge."""
    b = broker(request)
    application, _ = await _application(request)
    await ecards.holder_for(b, application)
    await ecards.require_not_blocked(b, application.id_number)
    device_id = ecard.device_thumbprint(application)
    challenge = await face.issue(
        b,
        purpose=face.application_purpose(device_id),
        id_number=application.id_number,
        device=device_id,
    )
    return json_response(challenge.view(), status=201)


@routes.post("/api/mobile/ecards")
async def apply_for_card(request: web.Request) -> web.Response:
    """Step 2: the application with the capture; the server decides, then issues atomically."""
    b = broker(request)
    application, body = await _application(request)
    await per_person_limit(request, application.id_number)
    return json_response(await ecards.apply(b, application, body), status=201)


async def per_person_limit(request: web.Request, id_number: str) -> None:
    """Applications per person per day (a 429 with Retry-After)."""
    b = broker(request)
    window = face_rules.seconds_left_today(b.now())
    count = await b.store.hit(
        f"rl:ecard-person:{person_key(id_number)}:{face_rules.day_of(b.now())}", window=window
    )
    if count > b.settings.limits.ecard_applications_per_person_per_day:
        raise errors.RateLimited("ecard applications per person", retry_after=int(window) + 1)


@routes.get("/api/mobile/ecard")
async def show_card(request: web.Request) -> web.Response:
    """The card's status, readable even when it is suspended or lost (the app shows it)."""
    card, _ = await _phone(request, require_active=False)
    record = await ecards.record_of(broker(request), card.card_no)
    return json_response(_card_view(record))


def _card_view(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("card_no", "status", "name", "id_number_masked", "phone_masked")
    return {k: record[k] for k in keys} | {"reason": record.get("reason", "")}


@routes.post("/api/mobile/tickets/{ticket_id}/scan")
async def scan(request: web.Request) -> web.Response:
    """The ticket id is in the path as well as in the QR, so that a balancer can send all of a
    ticket's requests to one process (deploy/README.md); the two must agree."""
    return await _scan(request, request.match_info["ticket_id"])


@routes.post("/api/mobile/scan")
async def scan_without_ticket_path(request: web.Request) -> web.Response:
    """The scan as apps in the field made it before the ticket went into the path (the
    protocol's apps are not ours to update: CONTRIBUTING.md, "Wire formats")."""
    return await _scan(request, None)


async def _scan(request: web.Request, path_ticket: str | None) -> web.Response:
    b = broker(request)
    card, raw = await _signed(request)
    body = parse_json(raw)
    text = field(body, "qr", max_len=qr.MAX_PAYLOAD_CHARS + 200)
    claims = login.verify_qr(b, text, signature=False)
    if path_ticket is not None and claims.ticket_id != path_ticket:
        raise errors.QrInvalid("the QR names another ticket than the path")

    async def decide(stored: tickets.Ticket, read: PhoneRead, assumed: Assumed | None) -> Any:
        login.require_issued(b, text, stored)
        return await login.scan(b, claims, card, stored, lock=read.face_lock, assumed=assumed)

    # Counted after the nonce is spent: a replay must not use up the device's scans.
    limit = RateLimit("scan-device", card.device_id, b.settings.limits.scans_per_device_per_minute)
    today = face_rules.day_of(b.now())  # the offer's face challenge needs the person's lock
    try:
        ticket = await _on_ticket(
            request, card, claims.ticket_id, decide, face_lock_day=today, limit=limit
        )
    except errors.TicketNotFound as exc:  # an unexpired QR names a ticket that is still stored
        raise errors.QrInvalid("no ticket was issued this QR") from exc
    return json_response(_scan_view(b, ticket))


def _scan_view(b: Any, ticket: tickets.Ticket) -> dict[str, Any]:
    client = b.clients.get(ticket.client_id)
    browser_name, system = browser_and_os(ticket.browser_ua)
    return {
        "ticket_id": ticket.id,
        "state": str(ticket.state),
        "client": {"id": client.client_id, "name": client.display_name()},
        "claims": released(ticket.request.get("scope", ()), client.released_claims()),
        "identity": str(ticket.identity),
        "browser": {
            "ip": ticket.browser_ip,
            "place": rough_place(ticket.browser_ip),
            "user_agent": ticket.browser_ua,
            "browser": browser_name,
            "os": system,
        },
        "requested_at": ticket.created_at,
        "expires_at": ticket.expires_at,
        "accounts": list(ticket.accounts),
        **({"number_choices": list(ticket.match_choices)} if ticket.match_choices else {}),
        **({"face_challenge": ticket.face_challenge.view()} if ticket.face_challenge else {}),
        "face": {
            "required": acr.face_required(ticket.request),
            "threshold": b.settings.face_threshold,
            "max_failures": b.settings.limits.face_max_failures,
            "failures": ticket.face_failures,
        },
    }


@routes.post("/api/mobile/tickets/{ticket_id}/account")
async def choose_account(request: web.Request) -> web.Response:
    """The choice; on a ticket that still needs a face check, its liveness challenge too."""
    card, body, stored, lock = await _face_step(request)
    key = field(body, "account", max_len=64)
    ticket, challenge = await login.choose(broker(request), stored, card, key, lock=lock)
    view: dict[str, Any] = {"account": dict(ticket.account)}
    if challenge is not None:
        view["face_challenge"] = challenge.view()
    return json_response(view)


@routes.post("/api/mobile/tickets/{ticket_id}/face-challenge")
async def ticket_face_challenge(request: web.Request) -> web.Response:
    b = broker(request)
    card, _, stored, lock = await _face_step(request)
    challenge = await login.face_challenge(b, stored, card, lock=lock)
    return json_response(challenge.view(), status=201)


@routes.post("/api/mobile/tickets/{ticket_id}/face")
async def face_check(request: web.Request) -> web.Response:
    """The capture for the ticket's challenge; pass or fail is the server's decision. With
    `account`, the choice too (one request for both: the challenge came with the scan)."""
    b = broker(request)
    card, raw = await _signed(request)
    body = parse_json(raw)
    account = field(body, "account", max_len=64) if "account" in body else ""

    async def decide(
        stored: tickets.Ticket, read: PhoneRead, assumed: Assumed | None
    ) -> tuple[tickets.Ticket, FaceResult]:
        return await login.face_check(
            b, stored, card, body, account=account, lock=read.face_lock, assumed=assumed
        )

    today = face_rules.day_of(b.now())
    ticket, result = await _on_ticket(
        request, card, request.match_info["ticket_id"], decide, face_lock_day=today
    )
    left = max(b.settings.limits.face_max_failures - ticket.face_failures, 0)
    if ticket.state is tickets.State.REJECTED:
        raise errors.FaceCheckExhausted()
    if not result.passed:
        raise errors.FaceCheckFailed(f"{left} left")
    return json_response(
        {
            "passed": True,
            "score": result.score,
            "failures": ticket.face_failures,
            "failures_left": left,
        }
    )


@routes.post("/api/mobile/ecard/unlock-challenge")
async def unlock_challenge(request: web.Request) -> web.Response:
    """卡解挂 on the phone that holds the card: a liveness challenge for its holder."""
    card, _ = await _phone(request, require_active=False)
    challenge = await face.issue(
        broker(request),
        purpose=face.unlock_purpose(card.card_no),
        id_number=card.id_number,
        device=card.device_id,
    )
    return json_response(challenge.view(), status=201)


@routes.post("/api/mobile/ecard/unlock")
async def unlock(request: web.Request) -> web.Response:
    """卡解挂 (seed 004): only after a fresh server-side face check of the card holder."""
    card, body = await _phone(request, require_active=False)
    record = await ecards.unlock(broker(request), card, body)
    return json_response(_card_view(record))


@routes.post("/api/mobile/tickets/{ticket_id}/confirm")
async def confirm(request: web.Request) -> web.Response:
    b = broker(request)
    card, _ = await _signed(request)

    async def decide(
        stored: tickets.Ticket, read: PhoneRead, assumed: Assumed | None
    ) -> tickets.Ticket:
        return await login.confirm(b, stored, card, assumed=assumed)

    ticket = await _on_ticket(request, card, request.match_info["ticket_id"], decide)
    return json_response({"state": str(ticket.state)})


@routes.post("/api/mobile/tickets/{ticket_id}/reject")
async def reject(request: web.Request) -> web.Response:
    card, _, stored = await _phone_on_ticket(request)
    ticket = await login.reject(broker(request), stored, card)
    return json_response({"state": str(ticket.state)})


@routes.post("/api/mobile/tickets/{ticket_id}/number")
async def match_number(request: web.Request) -> web.Response:
    """Number matching: `{"number": "47"}`, one of the scan's `number_choices`."""
    card, body, stored = await _phone_on_ticket(request)
    picked = field(body, "number", max_len=2)
    await login.match_number(broker(request), stored, card, picked)
    return json_response({"matched": True})
