"""The face check's pure rules (authsvc.core.face): only the reference face's signature over
this very challenge passes; phone-claimed results are refused; challenges are bound."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given
from hypothesis import strategies as st

from authsvc import errors
from authsvc.core import face
from authsvc.core.crypto import public_jwk

FACE = ed25519.Ed25519PrivateKey.generate()
REFERENCE = public_jwk(FACE.public_key())
NOW = 1_700_000_000.0


def challenge(**over: str) -> face.Challenge:
    base = face.new_challenge(purpose="ticket:t1", person="p1", device="d1", now=NOW, ttl=120)
    return face.Challenge(**{**base.as_dict(), **over})


def test_the_persons_face_passes_with_a_high_score() -> None:
    """The reference face's capture of the challenge passes; the score is above the threshold."""
    c = challenge()
    result = face.compare(REFERENCE, c, face.capture(FACE, c.view()), threshold=0.8)
    assert result.passed and 0.9 <= result.score <= 0.99


def test_another_face_fails_with_a_low_score() -> None:
    """Someone else's face (or the phone's own device key) cannot pass."""
    c = challenge()
    other = ed25519.Ed25519PrivateKey.generate()
    result = face.compare(REFERENCE, c, face.capture(other, c.view()), threshold=0.8)
    assert not result.passed and result.score < 0.5


def test_a_capture_of_another_challenge_fails() -> None:
    """A capture is bound to the challenge's id, action, nonce and purpose."""
    first, second = challenge(), challenge()
    answer = face.capture(FACE, first.view())
    assert not face.compare(REFERENCE, second, answer, threshold=0.8).passed
    moved = challenge(**{**first.as_dict(), "purpose": "ticket:t2"})
    assert not face.compare(REFERENCE, moved, answer, threshold=0.8).passed


@given(st.text(max_size=300))
def test_any_answer_is_a_result_never_an_exception(answer: str) -> None:
    """Arbitrary capture text is compared (and fails), it never raises."""
    assert not face.compare(REFERENCE, challenge(), answer, threshold=0.8).passed


@pytest.mark.parametrize(
    "body", [{"mode": "pass"}, {"mode": "score", "score": 1.0}, {"passed": True}]
)
def test_phone_claimed_results_are_refused(body: dict[str, object]) -> None:
    """The phone cannot say passed: face_mode_refused."""
    with pytest.raises(errors.FaceModeRefused):
        face.parse_answer(body)


def test_a_challenge_is_bound_to_purpose_person_device_and_time() -> None:
    """Used for something else, by someone else, on another device, or late: invalid."""
    c = challenge()
    face.require_usable(c, purpose="ticket:t1", person="p1", device="d1", now=NOW + 1)
    for purpose, person, device, now in [
        ("ticket:t2", "p1", "d1", NOW),
        ("ticket:t1", "p2", "d1", NOW),
        ("ticket:t1", "p1", "d2", NOW),
        ("ticket:t1", "p1", "d1", NOW + 120),
    ]:
        with pytest.raises(errors.FaceChallengeInvalid):
            face.require_usable(c, purpose=purpose, person=person, device=device, now=now)


def test_the_counting_day_is_the_halls() -> None:
    """Failures per person are counted per day in UTC+8; the window ends at the day's end."""
    midnight_beijing = 1_700_006_400.0 - 8 * 3600  # 2023-11-15 00:00 +08:00
    assert face.day_of(midnight_beijing - 1) != face.day_of(midnight_beijing)
    assert face.seconds_left_today(midnight_beijing - 1) == 1
