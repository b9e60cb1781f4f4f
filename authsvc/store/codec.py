"""Ticket ⇄ flat string fields (a Redis hash)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from authsvc.core import fastjson
from authsvc.core.face import Challenge
from authsvc.core.tickets import Identity, State, Ticket

_JSON_FIELDS = ("request", "subject", "account")


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _challenge(challenge: Challenge | None) -> str:
    return fastjson.dumps(challenge.as_dict()) if challenge else ""


def _challenge_of(raw: str) -> Challenge | None:
    return Challenge.from_dict(fastjson.loads(raw)) if raw else None


_ENCODERS: dict[str, Callable[[Any], str]] = {
    "id": str,
    "client_id": str,
    "identity": str,
    "state": str,
    "created_at": repr,
    "expires_at": repr,
    "browser_ip": str,
    "browser_ua": str,
    "browser_secret_hash": str,
    "version": str,
    "device_id": str,
    "accounts": fastjson.dumps,
    "face_passed": _flag,
    "face_failures": str,
    "reason": str,
    "redirect": str,
    "updated_at": repr,
    "match_number": str,
    "match_choices": fastjson.dumps,
    "number_matched": _flag,
    "qr_digest": str,
    "face_challenge": _challenge,
    "request": fastjson.dumps,
    "subject": fastjson.dumps,
    "account": fastjson.dumps,
}


def to_fields(ticket: Ticket) -> dict[str, str]:
    return {name: encode(getattr(ticket, name)) for name, encode in _ENCODERS.items()}


def changed_fields(old: Ticket, new: Ticket) -> dict[str, str]:
    """The fields of `new` that differ from `old`: what a transition has to write."""
    return {
        name: encode(getattr(new, name))
        for name, encode in _ENCODERS.items()
        if getattr(new, name) != getattr(old, name)
    }


def from_fields(f: dict[str, str]) -> Ticket:
    """The hash as the store's clients read it (decoded: str names and values)."""
    return Ticket(
        id=f["id"],
        client_id=f["client_id"],
        identity=Identity(f["identity"]),
        state=State(f["state"]),
        created_at=float(f["created_at"]),
        expires_at=float(f["expires_at"]),
        browser_ip=f["browser_ip"],
        browser_ua=f["browser_ua"],
        browser_secret_hash=f["browser_secret_hash"],
        version=int(f["version"]),
        device_id=f["device_id"],
        accounts=tuple(fastjson.loads(f["accounts"])),
        face_passed=f["face_passed"] == "1",
        face_failures=int(f["face_failures"]),
        reason=f["reason"],
        redirect=f.get("redirect", ""),
        updated_at=float(f["updated_at"]),
        match_number=f.get("match_number", ""),
        match_choices=tuple(fastjson.loads(f.get("match_choices", "[]"))),
        number_matched=f.get("number_matched") == "1",
        qr_digest=f.get("qr_digest", ""),
        face_challenge=_challenge_of(f.get("face_challenge", "")),
        **{name: fastjson.loads(f[name]) for name in _JSON_FIELDS},
    )
