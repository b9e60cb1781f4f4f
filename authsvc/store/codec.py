"""Ticket ⇄ flat string fields (a Redis hash)."""

from __future__ import annotations

from typing import Any

from authsvc.core import fastjson
from authsvc.core.tickets import Identity, State, Ticket

_JSON_FIELDS = ("request", "subject", "account")


def to_fields(ticket: Ticket) -> dict[str, str]:
    return {
        "id": ticket.id,
        "client_id": ticket.client_id,
        "identity": str(ticket.identity),
        "state": str(ticket.state),
        "created_at": repr(ticket.created_at),
        "expires_at": repr(ticket.expires_at),
        "browser_ip": ticket.browser_ip,
        "browser_ua": ticket.browser_ua,
        "browser_secret_hash": ticket.browser_secret_hash,
        "version": str(ticket.version),
        "device_id": ticket.device_id,
        "accounts": fastjson.dumps(ticket.accounts),
        "face_passed": "1" if ticket.face_passed else "0",
        "face_failures": str(ticket.face_failures),
        "reason": ticket.reason,
        "redirect": ticket.redirect,
        "updated_at": repr(ticket.updated_at),
        "match_number": ticket.match_number,
        "match_choices": fastjson.dumps(ticket.match_choices),
        "number_matched": "1" if ticket.number_matched else "0",
        **{name: fastjson.dumps(getattr(ticket, name)) for name in _JSON_FIELDS},
    }


def from_fields(fields: dict[str, Any]) -> Ticket:
    f = {
        k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
        for k, v in fields.items()
    }
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
        **{name: fastjson.loads(f[name]) for name in _JSON_FIELDS},
    )
