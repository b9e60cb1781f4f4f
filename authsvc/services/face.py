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
    """A liveness challenge, kept in the store until answered, unless the person is locked
    today (`lock` as for `require_not_locked`)."""
    challenge = await new_challenge(
        broker, purpose=purpose, id_number=id_number, device=device, lock=lock
    )
    await broker.store.save_face_challenge(challenge, ttl=broker.settings.limits.face_challenge_ttl)
    return challenge


async def new_challenge(
    broker: Broker, *, purpose: str, id_number: str, device: str, lock: LockRead = UNREAD
) -> Challenge:
    """`issue` for a caller that keeps the challenge itself (a login's: in its ticket)."""
    await require_not_locked(broker, id_number, lock)
    return face.new_challenge(
        purpose=purpose,
        person=person_key(id_number),
        device=device,
        now=broker.now(),
        ttl=broker.settings.limits.face_challenge_ttl,
    )


async def answer(
    broker: Broker,
    body: Mapping[str, Any],
    *,
    purpose: str,
    id_number: str,
    device: str,
) -> FaceResult:
    """Take the stored challenge once, compare the capture with the registry's reference face;
    a failure counts against the person's day; the outcome is an audit record of its own."""
    challenge_id, capture = face.parse_answer(body)
    await require_not_locked(broker, id_number)
    challenge = await broker.store.take_face_challenge(challenge_id)
    if challenge is None:
        raise errors.FaceChallengeInvalid("unknown or used challenge")
    result = await compare(
        broker, challenge, capture, purpose=purpose, id_number=id_number, device=device
    )
    if not result.passed:
        await count_failure(broker, id_number)
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


async def compare(
    broker: Broker,
    challenge: Challenge,
    capture: str,
    *,
    purpose: str,
    id_number: str,
    device: str,
) -> FaceResult:
    """The capture against the registry's reference face, once the challenge is shown to be
    this purpose's, person's and device's, and fresh."""
    person = person_key(id_number)
    now = broker.now()
    face.require_usable(challenge, purpose=purpose, person=person, device=device, now=now)
    holder = await broker.registry.lookup(id_number)
    reference = holder.face_jwk if holder is not None else {}
    return broker.face_matcher().compare(reference, challenge, capture)


async def count_failure(broker: Broker, id_number: str) -> None:
    """One more failure on the person's day; the day's last allowed one locks the person."""
    person, now = person_key(id_number), broker.now()
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
