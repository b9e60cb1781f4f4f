"""The login ticket and its state machine.

pending → scanned → confirmed → consumed, or → rejected / expired. Every other move is refused.
Functions take `now` (epoch seconds) and return a new Ticket; they never touch storage.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from authsvc import errors
from authsvc.core import acr
from authsvc.core.face import Challenge
from authsvc.core.idnumber import mask_name as mask_name  # re-exported: the events' rule


class State(StrEnum):
    PENDING = "pending"
    SCANNED = "scanned"
    CONFIRMED = "confirmed"
    CONSUMED = "consumed"
    REJECTED = "rejected"
    EXPIRED = "expired"


class Identity(StrEnum):
    """The identity the browser asks for (the switch below the QR)."""

    PERSONAL = "personal"
    LEGAL_REP = "legal_rep"
    AGENT = "agent"


TERMINAL = frozenset({State.CONSUMED, State.REJECTED, State.EXPIRED})
ALLOWED = {
    State.PENDING: {State.SCANNED, State.REJECTED, State.EXPIRED},
    State.SCANNED: {State.CONFIRMED, State.REJECTED, State.EXPIRED, State.PENDING},
    State.CONFIRMED: {State.CONSUMED, State.EXPIRED},
}


@dataclass(frozen=True, slots=True)
class Lifetimes:
    pending: float = 120.0
    scanned: float = 180.0
    confirmed: float = 60.0


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    client_id: str
    identity: Identity
    state: State
    created_at: float
    expires_at: float
    browser_ip: str
    browser_ua: str
    browser_secret_hash: str
    version: int = 1
    request: Mapping[str, Any] = field(default_factory=dict)
    device_id: str = ""
    subject: Mapping[str, Any] = field(default_factory=dict)
    accounts: tuple[Mapping[str, Any], ...] = ()
    account: Mapping[str, Any] = field(default_factory=dict)
    face_passed: bool = False
    face_failures: int = 0
    reason: str = ""
    redirect: str = ""
    updated_at: float = 0.0
    match_number: str = ""  # number matching: shown by the browser, picked on the phone
    match_choices: tuple[str, ...] = ()
    number_matched: bool = False
    qr_digest: str = ""  # of the QR issued for it (core.qr.digest): a scan presents exactly that
    face_challenge: Challenge | None = None  # the liveness challenge to answer next, once

    def is_expired(self, now: float) -> bool:
        return self.state not in TERMINAL and now >= self.expires_at

    def masked_name(self) -> str:
        return mask_name(str(self.subject.get("name", "")))


def new_ticket_id() -> str:
    """128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


def new_browser_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(ticket: Ticket, secret: str) -> bool:
    return hmac.compare_digest(ticket.browser_secret_hash, hash_secret(secret))


def create(
    *,
    client_id: str,
    identity: Identity,
    browser_ip: str,
    browser_ua: str,
    browser_secret: str,
    now: float,
    lifetimes: Lifetimes,
    request: Mapping[str, Any] | None = None,
    ticket_id: str | None = None,
) -> Ticket:
    return Ticket(
        id=ticket_id or new_ticket_id(),
        client_id=client_id,
        identity=identity,
        state=State.PENDING,
        created_at=now,
        expires_at=now + lifetimes.pending,
        browser_ip=browser_ip,
        browser_ua=browser_ua[:300],
        browser_secret_hash=hash_secret(browser_secret),
        request=dict(request or {}),
        updated_at=now,
    )


def with_qr(ticket: Ticket, qr_digest: str) -> Ticket:
    """The new ticket with the digest of the QR made for it."""
    return dataclasses.replace(ticket, qr_digest=qr_digest)


def require_qr(ticket: Ticket, qr_digest: str) -> None:
    """The scanned QR is the one issued for this ticket, byte for byte."""
    if not hmac.compare_digest(ticket.qr_digest, qr_digest):
        raise errors.QrInvalid("not the QR issued for this ticket")


def effective(ticket: Ticket, now: float) -> Ticket:
    """The ticket as it is at `now`: a live ticket past its expiry reads as expired."""
    if ticket.is_expired(now):
        return _move(ticket, State.EXPIRED, now, expires_at=ticket.expires_at)
    return ticket


def _move(ticket: Ticket, to: State, now: float, **changes: Any) -> Ticket:
    if to not in ALLOWED.get(ticket.state, set()):
        raise errors.TicketStateConflict(f"{ticket.state} -> {to}")
    return dataclasses.replace(
        ticket, state=to, version=ticket.version + 1, updated_at=now, **changes
    )


def _require_live(ticket: Ticket, now: float) -> None:
    if ticket.state is State.CONSUMED:
        raise errors.TicketConsumed()
    if ticket.state is State.EXPIRED or ticket.is_expired(now):
        raise errors.TicketExpired()


def new_number_challenge() -> tuple[str, tuple[str, str, str]]:
    """Number matching: a two-digit number for the browser and three choices for the phone,
    the right one among them at a random place. It binds the two devices (IETF cross-device
    BCP): the user must look at both screens, and a victim who scans an attacker's QR cannot
    know the number shown on the attacker's screen."""
    picked = secrets.SystemRandom().sample(range(10, 100), 3)
    choices = tuple(str(n) for n in picked)
    return choices[secrets.randbelow(3)], (choices[0], choices[1], choices[2])


def scan(
    ticket: Ticket,
    *,
    device_id: str,
    subject: Mapping[str, Any],
    now: float,
    lifetimes: Lifetimes,
    challenge: tuple[str, tuple[str, ...]] | None = None,
) -> Ticket:
    """The first phone to scan locks the ticket; any later scan is a conflict. `challenge`
    (number, choices) when the client registered number matching."""
    _require_live(ticket, now)
    if ticket.state is not State.PENDING:
        raise errors.TicketAlreadyScanned(f"state={ticket.state}")
    number, choices = challenge or ("", ())
    return _move(
        ticket,
        State.SCANNED,
        now,
        device_id=device_id,
        subject=dict(subject),
        expires_at=now + lifetimes.scanned,
        match_number=number,
        match_choices=tuple(choices),
    )


def match_number(ticket: Ticket, *, device_id: str, picked: str, now: float) -> Ticket:
    """The phone's pick of the number the browser shows: right, and the login may go on;
    wrong, and the ticket is rejected (no second guess)."""
    _require_scanned_by(ticket, device_id, now)
    if not ticket.match_number or ticket.number_matched:
        raise errors.TicketStateConflict("no number to match")
    if hmac.compare_digest(ticket.match_number.encode(), picked.encode()):
        return dataclasses.replace(
            ticket, number_matched=True, version=ticket.version + 1, updated_at=now
        )
    return _move(ticket, State.REJECTED, now, reason="number_mismatch")


def release(ticket: Ticket, *, now: float, lifetimes: Lifetimes) -> Ticket:
    """Back to pending, when the scan cannot go on (the portal did not answer): scan again."""
    _require_live(ticket, now)
    if ticket.state is not State.SCANNED:
        raise errors.TicketStateConflict(f"release from {ticket.state}")
    return _move(
        ticket,
        State.PENDING,
        now,
        device_id="",
        subject={},
        accounts=(),
        account={},
        face_passed=False,
        face_failures=0,
        face_challenge=None,
        match_number="",
        match_choices=(),
        number_matched=False,
        expires_at=max(ticket.expires_at, now + 30.0),
    )


def require_scanned_by(ticket: Ticket, device_id: str, now: float) -> None:
    """The ticket is live, scanned, and by this device (public: the face challenge asks too)."""
    _require_scanned_by(ticket, device_id, now)


def _require_scanned_by(ticket: Ticket, device_id: str, now: float) -> None:
    _require_live(ticket, now)
    if ticket.state is not State.SCANNED:
        raise errors.TicketStateConflict(f"state={ticket.state}")
    if not hmac.compare_digest(ticket.device_id, device_id):
        raise errors.NotTicketDevice()


def offer_accounts(
    ticket: Ticket,
    *,
    device_id: str,
    accounts: list[Mapping[str, Any]],
    now: float,
    challenge: Challenge | None = None,
) -> Ticket:
    """The portal's accounts for the phone to choose from; `challenge`, the face check's, is
    issued with them when given (the phone answers it together with its choice)."""
    _require_scanned_by(ticket, device_id, now)
    return dataclasses.replace(
        ticket,
        accounts=tuple(dict(a) for a in accounts),
        face_challenge=challenge or ticket.face_challenge,
        version=ticket.version + 1,
        updated_at=now,
    )


def account_key(account: Mapping[str, Any]) -> str:
    return f"{account.get('role', '')}:{account.get('credit_code', '')}"


def choose_account(
    ticket: Ticket, *, device_id: str, key: str, now: float, challenge: Challenge | None = None
) -> Ticket:
    """Only an account the portal offered can be chosen; `challenge`, the face check's, is
    issued with the choice when given."""
    _require_scanned_by(ticket, device_id, now)
    for account in ticket.accounts:
        if account_key(account) == key:
            return dataclasses.replace(
                ticket,
                account=dict(account),
                face_challenge=challenge or ticket.face_challenge,
                version=ticket.version + 1,
                updated_at=now,
            )
    raise errors.AccountNotOffered(key)


def choose_and_record_face_check(
    ticket: Ticket,
    *,
    device_id: str,
    key: str,
    challenge_id: str,
    passed: bool,
    now: float,
    max_failures: int,
) -> Ticket:
    """The account choice and the answer to the ticket's challenge (the one offered with the
    accounts) as one step: what a phone sends when it answers the face check with its choice.
    Each is checked as on its own; a failed check keeps the choice, as it would have been."""
    chosen = choose_account(ticket, device_id=device_id, key=key, now=now)
    checked = record_face_check(
        chosen,
        device_id=device_id,
        challenge_id=challenge_id,
        passed=passed,
        now=now,
        max_failures=max_failures,
    )
    return dataclasses.replace(checked, version=ticket.version + 1)


def issue_face_challenge(
    ticket: Ticket, *, device_id: str, challenge: Challenge, now: float
) -> Ticket:
    """A new liveness challenge (a retry's): it replaces any earlier one."""
    _require_scanned_by(ticket, device_id, now)
    return dataclasses.replace(
        ticket, face_challenge=challenge, version=ticket.version + 1, updated_at=now
    )


def face_challenge(ticket: Ticket, challenge_id: str) -> Challenge:
    """The ticket's current challenge, when `challenge_id` names it: a used one is gone, a
    replaced one or another ticket's is not this one."""
    current = ticket.face_challenge
    if current is None or not hmac.compare_digest(current.id, challenge_id):
        raise errors.FaceChallengeInvalid("unknown or used challenge")
    return current


def record_face_check(
    ticket: Ticket,
    *,
    device_id: str,
    challenge_id: str,
    passed: bool,
    now: float,
    max_failures: int,
) -> Ticket:
    """The answer to the ticket's current challenge uses it up; a failed check may be retried
    with a new one; the `max_failures`-th failure rejects the ticket."""
    _require_scanned_by(ticket, device_id, now)
    face_challenge(ticket, challenge_id)  # once: a concurrent answer's commit took it
    if passed:
        return dataclasses.replace(
            ticket,
            face_passed=True,
            face_challenge=None,
            version=ticket.version + 1,
            updated_at=now,
        )
    failures = ticket.face_failures + 1
    if failures >= max_failures:
        return _move(
            ticket,
            State.REJECTED,
            now,
            face_failures=failures,
            face_passed=False,
            face_challenge=None,
            reason="face_check_exhausted",
        )
    return dataclasses.replace(
        ticket,
        face_failures=failures,
        face_passed=False,
        face_challenge=None,
        version=ticket.version + 1,
        updated_at=now,
    )


def check_confirmable(ticket: Ticket, *, device_id: str, now: float) -> None:
    """Raise unless `confirm` would succeed: lets the caller mint a code only when it will."""
    _require_scanned_by(ticket, device_id, now)
    if ticket.match_number and not ticket.number_matched:
        raise errors.NumberMatchRequired()
    if not ticket.account:
        raise errors.AccountRequired()
    if not ticket.face_passed and acr.face_required(ticket.request):
        raise errors.FaceCheckRequired()


def confirm(
    ticket: Ticket, *, device_id: str, redirect: str, now: float, lifetimes: Lifetimes
) -> Ticket:
    """Confirmed once; `redirect` (carrying the code) is pushed only to the secret's holder."""
    check_confirmable(ticket, device_id=device_id, now=now)
    return _move(
        ticket, State.CONFIRMED, now, redirect=redirect, expires_at=now + lifetimes.confirmed
    )


def reject(ticket: Ticket, *, device_id: str, now: float, reason: str = "user_rejected") -> Ticket:
    _require_scanned_by(ticket, device_id, now)
    return _move(ticket, State.REJECTED, now, reason=reason)


def consume(ticket: Ticket, *, now: float) -> Ticket:
    """The confirmed ticket's code was redeemed: nothing more can happen to it."""
    if ticket.state is not State.CONFIRMED:
        raise errors.TicketStateConflict(f"consume from {ticket.state}")
    return _move(ticket, State.CONSUMED, now, redirect="")


def shows_change(old: Ticket, new: Ticket) -> bool:
    """Whether the browser's view of the ticket moves from `old` to `new` (its state, expiry,
    the name or number it shows, the redirect, the reason): only then is it told. Choosing an
    account or passing the face check changes what it shows no more than its version."""
    return event(old, version=0) != event(new, version=0)


def event(ticket: Ticket, **extra: Any) -> dict[str, Any]:
    """What the browser is told about a ticket: never the subject's full identity."""
    body: dict[str, Any] = {
        "ticket": ticket.id,
        "state": str(ticket.state),
        "version": ticket.version,
        "expires_at": ticket.expires_at,
    }
    if ticket.state in (State.SCANNED, State.CONFIRMED) and ticket.subject:
        body["name"] = ticket.masked_name()
    if ticket.state is State.SCANNED and ticket.match_number and not ticket.number_matched:
        body["number"] = ticket.match_number
    if ticket.state is State.CONFIRMED and ticket.redirect:
        body["redirect"] = ticket.redirect
    if ticket.reason:
        body["reason"] = ticket.reason
    body.update(extra)
    return body
