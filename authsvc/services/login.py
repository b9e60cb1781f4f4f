"""The login's steps as the phone drives them: verify the QR, scan, choose, face, confirm.

Each step is a core transition applied through the broker (compare-and-set, publish, audit)."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any
from urllib.parse import urlencode

from authsvc import errors
from authsvc.clients import Client
from authsvc.core import acr, qr, tickets
from authsvc.core import face as face_rules
from authsvc.core.ecard import Card
from authsvc.core.face import Challenge, FaceResult
from authsvc.core.oidc.grant import Grant
from authsvc.core.tickets import Ticket
from authsvc.keyring import Purpose
from authsvc.registry import person_key
from authsvc.services import face
from authsvc.services.broker import Broker, Step
from authsvc.store.base import Assumed, NewCode
from authsvc.store.records import secret_hash

ACR = acr.ACR_FACE  # the default level (kept for importers)
GC_SLACK = 60.0  # the store keeps a code this much past its expiry: logical expiry decides


def verify_qr(broker: Broker, text: str, *, signature: bool = True) -> qr.QrClaims:
    """A QR text's claims, checked offline. `signature=False` for a scan: the ticket's stored
    digest then decides that the text is ours (`require_issued`)."""
    now = broker.now()
    check = qr.verify_text if signature else qr.read_text
    return check(
        text,
        trusted_issuers={broker.settings.issuer},
        resolve_key=lambda kid: broker.keyring.verifying_key(Purpose.QR, kid, now=now),
        now=now,
    )


def require_issued(broker: Broker, text: str, stored: Ticket) -> None:
    """`text` is exactly the QR issued for `stored`: its digest, kept with the ticket when the
    QR was made, matches. Stronger than verifying our signature again (a validly signed QR for
    another ticket, or under a retired key, does not match) and ~0.1 ms cheaper per scan. A
    ticket stored without a digest (made by an earlier version during a rolling upgrade) is
    checked by the signature."""
    if stored.qr_digest:
        tickets.require_qr(stored, qr.digest(text))
    else:
        verify_qr(broker, text)


def _subject(card: Card) -> dict[str, Any]:
    return {
        "card_no": card.card_no,
        "name": card.name,
        "id_number": card.id_number,
        "phone": card.phone,
    }


def _context(card: Card, **extra: Any) -> dict[str, Any]:
    return {"card": card.card_no, "device": card.device_id[:12], **extra}


async def scan(
    broker: Broker,
    claims: qr.QrClaims,
    card: Card,
    stored: Ticket,
    *,
    lock: face.LockRead = face.UNREAD,
    assumed: Assumed | None = None,
) -> Ticket:
    """First scan wins; then ask the portal for this person's accounts there. `stored` is the
    ticket as read with the request (every step below gets the ticket it acts on that way).

    A client without an accounts endpoint offers the personal account at once: the scan and
    the offer are then one commit. With an endpoint, the scan is committed first, so a second
    phone is refused while the portal is being asked. The offer carries the face check's
    challenge when the login needs one (`lock` as for `face_challenge`)."""
    if stored.client_id != claims.client_id or stored.identity is not claims.identity:
        raise errors.QrInvalid("QR claims do not match the ticket")
    client = broker.clients.get(stored.client_id)
    challenge = tickets.new_number_challenge() if client.number_matching else None
    liveness = await _offered_challenge(broker, stored, card, lock)

    def scanned(ticket: Ticket) -> Ticket:
        return tickets.scan(
            ticket,
            device_id=card.device_id,
            subject=_subject(card),
            now=broker.now(),
            lifetimes=broker.settings.lifetimes,
            challenge=challenge,
        )

    if client.accounts_endpoint:
        return await _scan_then_ask(broker, client, card, stored, scanned, liveness, assumed)
    scanned(stored)  # refuses a scanned or expired ticket before anything else happens
    return await _offer(broker, client, card, stored, scanned, liveness, assumed)


async def _offered_challenge(
    broker: Broker, ticket: Ticket, card: Card, lock: face.LockRead
) -> Challenge | None:
    """The liveness challenge offered with the accounts, when the login needs a face check and
    the person may take one today (a locked person is refused at the next step, as before)."""
    if not acr.face_required(ticket.request) or ticket.face_passed:
        return None
    try:
        return await _new_challenge(broker, ticket, card, lock)
    except errors.FaceLockedToday:
        return None


async def _scan_then_ask(
    broker: Broker,
    client: Client,
    card: Card,
    stored: Ticket,
    scanned: Step,
    liveness: Challenge | None,
    assumed: Assumed | None,
) -> Ticket:
    ticket = await broker.apply(stored.id, scanned, _context(card), stored=stored, assumed=assumed)
    try:
        return await _offer(broker, client, card, ticket, lambda t: t, liveness)
    except errors.AccountsUnavailable:
        lifetimes = broker.settings.lifetimes
        await broker.apply(
            stored.id,
            lambda t: tickets.release(t, now=broker.now(), lifetimes=lifetimes),
            _context(card),
        )
        raise


async def _offer(
    broker: Broker,
    client: Client,
    card: Card,
    stored: Ticket,
    before: Step,
    liveness: Challenge | None,
    assumed: Assumed | None = None,
) -> Ticket:
    """Ask for the accounts, then commit `before` (the scan, or nothing) with the offer and
    `liveness`, or with the refusal when the person has no account there."""
    try:
        accounts = await broker.accounts.accounts_for(client, card, stored.identity, broker.now())
    except errors.NoAccount as exc:
        await broker.apply(
            stored.id,
            lambda t: tickets.reject(
                before(t), device_id=card.device_id, now=broker.now(), reason="no_account"
            ),
            _context(card, detail=exc.code),
            stored=stored,
            assumed=assumed,
        )
        raise
    return await broker.apply(
        stored.id,
        lambda t: tickets.offer_accounts(
            before(t),
            device_id=card.device_id,
            accounts=accounts,
            now=broker.now(),
            challenge=liveness,
        ),
        _context(card),
        stored=stored,
        assumed=assumed,
    )


async def match_number(broker: Broker, stored: Ticket, card: Card, picked: str) -> Ticket:
    """Number matching: a wrong pick rejects the ticket, then answers number_mismatch."""
    ticket = await broker.apply(
        stored.id,
        lambda t: tickets.match_number(
            t, device_id=card.device_id, picked=picked, now=broker.now()
        ),
        _context(card, step="number"),
        stored=stored,
    )
    if ticket.state is tickets.State.REJECTED:
        raise errors.NumberMismatch()
    return ticket


async def choose(
    broker: Broker, stored: Ticket, card: Card, key: str, *, lock: face.LockRead = face.UNREAD
) -> tuple[Ticket, Challenge | None]:
    """Choose the account; when the ticket still needs a face check, its liveness challenge is
    issued in the same commit (the phone asks for it next anyway: one round trip less). A person
    locked out of face checks today is refused before the choice is made, as the challenge
    would be. `lock` as for `face_challenge`."""
    challenge = None
    if acr.face_required(stored.request) and not stored.face_passed:
        challenge = await _new_challenge(broker, stored, card, lock)
    ticket = await broker.apply(
        stored.id,
        lambda t: tickets.choose_account(
            t, device_id=card.device_id, key=key, now=broker.now(), challenge=challenge
        ),
        _context(card, account=key),
        stored=stored,
    )
    return ticket, challenge


async def face_challenge(
    broker: Broker, stored: Ticket, card: Card, *, lock: face.LockRead = face.UNREAD
) -> Challenge:
    """A new liveness challenge for this ticket, its card holder and the device that scanned
    it, kept in the ticket (a retry's: the first came with the account choice). `lock`: the
    card holder's face lock for today as read with the request, if it was."""
    tickets.require_scanned_by(stored, card.device_id, broker.now())
    challenge = await _new_challenge(broker, stored, card, lock)
    await broker.apply(
        stored.id,
        lambda t: tickets.issue_face_challenge(
            t, device_id=card.device_id, challenge=challenge, now=broker.now()
        ),
        _context(card, step="face-challenge"),
        stored=stored,
    )
    return challenge


async def _new_challenge(
    broker: Broker, ticket: Ticket, card: Card, lock: face.LockRead
) -> Challenge:
    return await face.new_challenge(
        broker,
        purpose=face.ticket_purpose(ticket.id),
        id_number=card.id_number,
        device=card.device_id,
        lock=lock,
    )


async def face_check(
    broker: Broker,
    stored: Ticket,
    card: Card,
    body: dict[str, Any],
    *,
    account: str = "",
    lock: face.LockRead = face.UNREAD,
    assumed: Assumed | None = None,
) -> tuple[Ticket, FaceResult]:
    """The server decides: compare the capture for the ticket's current challenge, record pass
    or fail with the challenge used up (the `face_max_failures`-th failure rejects the ticket),
    then count a failure against the person's day. `account`: the choice sent with the answer
    (the phone's one request for both), committed with its result and refused, like the
    answer, before anything changes. `lock`: the card holder's face lock for today as read
    with the request, if it was; it is checked first."""
    now = broker.now()
    tickets.require_scanned_by(stored, card.device_id, now)
    challenge_id, capture = face_rules.parse_answer(body)
    if account:  # an account not offered is refused before the face is compared
        tickets.choose_account(stored, device_id=card.device_id, key=account, now=now)
    await face.require_not_locked(broker, card.id_number, lock)
    result = await face.compare(
        broker,
        tickets.face_challenge(stored, challenge_id),
        capture,
        purpose=face.ticket_purpose(stored.id),
        id_number=card.id_number,
        device=card.device_id,
    )
    ticket = await broker.apply(
        stored.id,
        _face_transition(broker, card, challenge_id, result.passed, account),
        _context(
            card,
            face="pass" if result.passed else "fail",
            score=result.score,
            person=person_key(card.id_number),
            **({"account": account} if account else {}),
        ),
        stored=stored,
        assumed=assumed,
    )
    if not result.passed:  # after the commit: of concurrent answers, only one counts
        await face.count_failure(broker, card.id_number)
    return ticket, result


def _face_transition(
    broker: Broker, card: Card, challenge_id: str, passed: bool, account: str
) -> Step:
    """The face check's transition, with the account choice when the answer carries one."""
    limit, device_id = broker.settings.limits.face_max_failures, card.device_id

    def step(ticket: Ticket) -> Ticket:
        now = broker.now()
        if account:
            return tickets.choose_and_record_face_check(
                ticket, device_id=device_id, key=account, challenge_id=challenge_id,
                passed=passed, now=now, max_failures=limit,
            )  # fmt: skip
        return tickets.record_face_check(
            ticket, device_id=device_id, challenge_id=challenge_id, passed=passed, now=now,
            max_failures=limit,
        )  # fmt: skip

    return step


async def confirm(
    broker: Broker, stored: Ticket, card: Card, *, assumed: Assumed | None = None
) -> Ticket:
    """Mint the single-use code, then confirm once; the redirect goes only to the browser
    holding the secret."""
    tickets.check_confirmable(stored, device_id=card.device_id, now=broker.now())
    code = secrets.token_urlsafe(32)
    redirect = _redirect_with_code(broker, stored, code)
    gc_ttl = broker.settings.code_ttl + GC_SLACK
    lifetimes = broker.settings.lifetimes
    ticket = await broker.apply(
        stored.id,
        lambda t: tickets.confirm(
            t,
            device_id=card.device_id,
            redirect=redirect,
            now=broker.now(),
            lifetimes=lifetimes,
        ),
        _context(card, code="issued"),  # the confirmation's audit record says so, atomically
        stored=stored,
        code=NewCode(secret_hash(code), _grant(broker, stored), gc_ttl),  # with it, or not at all
        assumed=assumed,
    )
    broker.metrics.codes_issued.inc()
    return ticket


def _redirect_with_code(broker: Broker, ticket: Ticket, code: str) -> str:
    request = ticket.request
    params = {"code": code, "iss": broker.settings.issuer}
    if request.get("state"):
        params["state"] = str(request["state"])
    uri = str(request["redirect_uri"])
    return f"{uri}{'&' if '?' in uri else '?'}{urlencode(params)}"


def _grant(broker: Broker, ticket: Ticket) -> Grant:
    """What the code stands for, read back by the token endpoint; `acr`/`amr` say what really
    happened on this ticket. It expires `code_ttl` from now, on the broker's clock."""
    achieved = acr.achieved(ticket.face_passed)
    now = broker.now()
    return Grant(
        ticket=ticket.id,
        client_id=ticket.client_id,
        request=dict(ticket.request),
        subject=dict(ticket.subject),
        account=dict(ticket.account),
        auth_time=int(now),
        acr=achieved[0],
        amr=tuple(achieved[1]),
        sid=session_id(ticket.id),
        expires_at=now + broker.settings.code_ttl,
    )


def session_id(ticket_id: str) -> str:
    """The login's `sid`: derived from the ticket, but not the ticket id (that was in a QR)."""
    return hashlib.sha256(f"sid|{ticket_id}".encode()).hexdigest()[:32]


async def reject(broker: Broker, stored: Ticket, card: Card) -> Ticket:
    return await broker.apply(
        stored.id,
        lambda t: tickets.reject(t, device_id=card.device_id, now=broker.now()),
        _context(card),
        stored=stored,
    )
