"""The face check, decided by the server (issue 8): a one-time liveness challenge, a capture, a
comparison with the card registry's reference. No I/O.

The simulation keeps the property that matters: only the real person passes. Each person's
"face" is an Ed25519 private key kept apart from any phone (the person, not the device: a stolen
phone alone cannot pass); the registry holds its public half; a capture is the face's signature
over the challenge (action, nonce, purpose). A real face service replaces `compare` behind
`authsvc.services.face.FaceMatcher`; the challenge and its bookkeeping stay.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from authsvc import errors
from authsvc.core.crypto import Algorithm, b64u, b64u_decode, public_key_from_jwk, verify

# Liveness actions the phone asks the person to perform (seed 004: 眨眼动作完成人脸认证).
ACTIONS: dict[str, tuple[str, str]] = {
    "blink": ("请眨眨眼", "Blink"),
    "open_mouth": ("请张张嘴", "Open your mouth"),
    "shake_head": ("请左右摇头", "Shake your head"),
    "nod": ("请点点头", "Nod"),
}
VERSION = "qrauth-face-v1"
MAX_CAPTURE_CHARS = 256
# A capture that is not the reference face scores low but not zero, as a real matcher would.
_MATCH_FLOOR, _MATCH_SPAN = 0.90, 0.09
_MISMATCH_FLOOR, _MISMATCH_SPAN = 0.05, 0.40


@dataclass(frozen=True, slots=True)
class Challenge:
    """One liveness challenge: for one purpose (an application or a ticket), one person and one
    device, short-lived, used once."""

    id: str
    action: str
    nonce: str
    purpose: str
    person: str
    device: str
    issued_at: float
    expires_at: float

    def view(self) -> dict[str, Any]:
        """What the phone is shown and must sign over."""
        zh, en = ACTIONS[self.action]
        return {
            "challenge_id": self.id,
            "action": self.action,
            "prompt": {"zh": zh, "en": en},
            "nonce": self.nonce,
            "purpose": self.purpose,
            "expires_at": self.expires_at,
        }

    def as_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict, which deep-copies every field: they are all str and float.
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Challenge:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class FaceResult:
    passed: bool
    score: float


def new_challenge(*, purpose: str, person: str, device: str, now: float, ttl: float) -> Challenge:
    return Challenge(
        id=secrets.token_urlsafe(18),
        action=secrets.choice(sorted(ACTIONS)),
        nonce=secrets.token_urlsafe(18),
        purpose=purpose,
        person=person,
        device=device,
        issued_at=now,
        expires_at=now + ttl,
    )


def message(view: Mapping[str, Any]) -> bytes:
    """The bytes a capture signs: the challenge's id, action, nonce and purpose."""
    parts = (VERSION, view["challenge_id"], view["action"], view["nonce"], view["purpose"])
    return "|".join(str(p) for p in parts).encode()


def capture(face: ed25519.Ed25519PrivateKey, view: Mapping[str, Any]) -> str:
    """The phone side: the person's face answers the challenge."""
    return b64u(face.sign(message(view)))


def require_usable(
    challenge: Challenge, *, purpose: str, person: str, device: str, now: float
) -> None:
    """The challenge must be the one issued for this purpose, person and device, and fresh."""
    if (
        challenge.purpose != purpose
        or challenge.person != person
        or (challenge.device and challenge.device != device)
    ):
        raise errors.FaceChallengeInvalid("challenge issued for something else")
    if now >= challenge.expires_at:
        raise errors.FaceChallengeInvalid("challenge expired")


def compare(
    reference: Mapping[str, Any], challenge: Challenge, answer: str, *, threshold: float
) -> FaceResult:
    """Liveness and matching: the capture must be the reference face's signature over this very
    challenge. The score is a simulated similarity, high for the real face, low otherwise."""
    digest = hashlib.sha256(f"{challenge.id}|{answer}".encode()).digest()
    spread = digest[0] / 255
    if _matches(reference, challenge, answer):
        score = round(_MATCH_FLOOR + _MATCH_SPAN * spread, 4)
    else:
        score = round(_MISMATCH_FLOOR + _MISMATCH_SPAN * spread, 4)
    return FaceResult(passed=score >= threshold, score=score)


def _matches(reference: Mapping[str, Any], challenge: Challenge, answer: str) -> bool:
    if not answer or len(answer) > MAX_CAPTURE_CHARS:
        return False
    try:
        key = public_key_from_jwk(dict(reference))
        signature = b64u_decode(answer)
    except (ValueError, KeyError, TypeError):
        return False
    if not isinstance(key, ed25519.Ed25519PublicKey):
        return False
    return verify(key, Algorithm.ED25519, message(challenge.view()), signature)


def parse_answer(body: Mapping[str, Any]) -> tuple[str, str]:
    """`{"challenge_id", "capture"}` from the phone. A phone-claimed result (`mode`, `score`,
    `passed`) is refused: only the server decides."""
    if any(k in body for k in ("mode", "score", "passed")):
        raise errors.FaceModeRefused("phone claimed a result")
    challenge_id, answer = body.get("challenge_id"), body.get("capture", "")
    if not isinstance(challenge_id, str) or not 0 < len(challenge_id) <= 64:
        raise errors.FaceChallengeInvalid("no challenge id")
    if not isinstance(answer, str) or len(answer) > MAX_CAPTURE_CHARS:
        raise errors.InvalidRequest("capture must be a short string")
    return challenge_id, answer


def day_of(now: float) -> str:
    """The counting day for failures per person (UTC+8, the hall's day)."""
    return str(int((now + 8 * 3600) // 86400))


def seconds_left_today(now: float) -> float:
    return 86400 - ((now + 8 * 3600) % 86400)
