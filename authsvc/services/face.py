"""The face check as a service: issue a liveness challenge, take the phone's capture once,
compare it with the card registry's reference, count failures on the server.

`FaceMatcher` is the one interface a real face service replaces; `SignatureMatcher` is the
simulation (authsvc.core.face). Failures are bounded per ticket (the ticket's own counter, see
core.tickets.record_face_check) and per person per day (here)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from authsvc import errors
from authsvc.core import face
from authsvc.core.face import Challenge, FaceResult
from authsvc.registry import person_key
from authsvc.store.records import FaceLock

if TYPE_CHECKING:
    from authsvc.services.broker import Broker


class FaceMatcher(Protocol):
    def compare(
        self, reference: Mapping[str, Any], challenge: Challenge, capture: str
    ) -> FaceResult: ...


class SignatureMatcher:
    """The simulated face service: a capture is the face key's signature over the challenge."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def compare(
        self, reference: Mapping[str, Any], challenge: Challenge, capture: str
    ) -> FaceResult:
        return face.compare(reference, challenge, capture, threshold=self.threshold)


class Unread(Enum):
    """The person's face lock has not been read yet (`require_not_locked` reads it)."""

    UNREAD = "unread"


UNREAD = Unread.UNREAD
LockRead = FaceLock | None | Unread


async def require_not_locked(broker: Broker, id_number: str, lock: LockRead = UNREAD) -> None:
    """Too many failures today → the person must wait (until the hall's next day). `lock`:
    the person's lock for today, when the caller read it already (`Store.phone_request`)."""
    if lock is UNREAD:
        lock = await broker.store.get_face_lock(person_key(id_number), face.day_of(broker.now()))
    if lock is not None:
        raise errors.FaceLockedToday()


async def issue(
    broker: Broker, *, purpose: str, id_number: str, device: str, lock: LockRead = UNREAD
) -> Challenge:
    """A liveness challenge, unless the person is locked today (`lock` as for
    `require_not_locked`)."""
    await require_not_locked(broker, id_number, lock)
    now = broker.now()
    challenge = face.new_challenge(
        purpose=purpose,
        person=person_key(id_number),
        device=device,
        now=now,
        ttl=broker.settings.limits.face_challenge_ttl,
    )
    await broker.store.save_face_challenge(challenge, ttl=broker.settings.limits.face_challenge_ttl)
    return challenge


async def answer(
    broker: Broker,
    body: Mapping[str, Any],
    *,
    purpose: str,
    id_number: str,
    device: str,
) -> FaceResult:
    """Take the challenge once, compare the capture with the registry's reference face; a
    failure counts against the person's day; the outcome is an audit record of its own."""
    result = await check(broker, body, purpose=purpose, id_number=id_number, device=device)
    await broker.store.audit(
        {
            "time": broker.now(),
            "event": "face",
            "outcome": "passed" if result.passed else "failed",
            "purpose": purpose.split(":")[0],
            "person": person_key(id_number),
            "score": result.score,
        }
    )
    return result


async def check(
    broker: Broker,
    body: Mapping[str, Any],
    *,
    purpose: str,
    id_number: str,
    device: str,
    lock: LockRead = UNREAD,
) -> FaceResult:
    """`answer` without its audit record, for a caller that audits the outcome itself (a
    login's face step: the ticket's transition record carries it). `lock` as for
    `require_not_locked`; it is checked before the challenge is taken."""
    challenge_id, capture = face.parse_answer(body)
    await require_not_locked(broker, id_number, lock)
    challenge = await broker.store.take_face_challenge(challenge_id)
    if challenge is None:
        raise errors.FaceChallengeInvalid("unknown or used challenge")
    now = broker.now()
    person = person_key(id_number)
    face.require_usable(challenge, purpose=purpose, person=person, device=device, now=now)
    holder = await broker.registry.lookup(id_number)
    reference = holder.face_jwk if holder is not None else {}
    result = broker.face_matcher().compare(reference, challenge, capture)
    if not result.passed:
        await _count_failure(broker, person, now)
    return result


async def _count_failure(broker: Broker, person: str, now: float) -> None:
    window = face.seconds_left_today(now)
    count = await broker.store.hit(f"face-fail:{person}:{face.day_of(now)}", window=window)
    if count >= broker.settings.limits.face_max_failures_per_day:
        lock = FaceLock(person=person, day=face.day_of(now), since=now)
        await broker.store.save_face_lock(lock, ttl=window)


def ticket_purpose(ticket_id: str) -> str:
    return f"ticket:{ticket_id}"


def application_purpose(device: str) -> str:
    return f"application:{device}"


def unlock_purpose(card_no: str) -> str:
    return f"unlock:{card_no}"
