"""The typed records the Store keeps for the OIDC side, and their JSON form on Redis.

Protocol objects live in the core (`Grant`, `PendingRequest`, the face `Challenge`); the ones
that only bookkeeping needs live here. Secrets are never keys: codes and access tokens are
known to the Store by `secret_hash` alone."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from authsvc.core import fastjson
from authsvc.core.face import Challenge
from authsvc.core.oidc.authorize import AuthorizationRequest, PendingRequest
from authsvc.core.oidc.grant import Grant


def secret_hash(secret: str) -> str:
    """The name a code or an access token is stored under (SHA-256, hex)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    """What one code issued: found by the code (a replay revokes it), by its ticket (admin
    revoke, a lost card) and by its `sid` (logout). `access_tokens` are token hashes."""

    access_tokens: tuple[str, ...]
    ticket: str = ""
    client_id: str = ""
    person: str = ""


@dataclass(frozen=True, slots=True)
class AccessToken:
    """An access token's record (RFC 6750): what userinfo and the e-card API may read."""

    claims: Mapping[str, Any]
    client_id: str
    sid: str
    ticket: str
    scope: tuple[str, ...]
    person: str
    card_no: str = ""


@dataclass(frozen=True, slots=True)
class SessionEntry:
    """One login of a person at one client, live `until` (back-channel logout walks these)."""

    sid: str
    client_id: str
    sub: str
    until: float


@dataclass(frozen=True, slots=True)
class Redemption:
    """What one redeemed code leaves (`Store.save_redemption`): its access token, what it issued
    (found by the code, its ticket and its sid) and the person's new session entry."""

    code_hash: str
    token_hash: str
    token: AccessToken
    issued: IssuedTokens
    session: SessionEntry


@dataclass(frozen=True, slots=True)
class FaceLock:
    """Too many failed face checks: `person` may not try again on `day` (the hall's day)."""

    person: str
    day: str
    since: float = field(default=0.0)


Record = Grant | PendingRequest | Challenge | IssuedTokens | AccessToken | FaceLock
R = TypeVar("R", Grant, Challenge, IssuedTokens, AccessToken, FaceLock, SessionEntry)


def dumps(record: Record) -> str:
    if isinstance(record, PendingRequest):
        data = {**record.request.as_dict(), "id": record.id, "expires_at": record.expires_at}
    else:
        data = {name: getattr(record, name) for name in _field_names(type(record))}
    return fastjson.dumps(data)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type[Any]) -> tuple[str, ...]:
    """A record's field names. Records are flat (scalars, tuples, mappings of JSON values), so
    the JSON of their fields as they are is what `asdict`'s deep copy would give, in a fifth of
    the time."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
    """A flat record from its dict: tuples come back from JSON lists, unknown keys are ignored."""
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in data:
            value = data[f.name]
            values[f.name] = tuple(value) if str(f.type).startswith("tuple") else value
    return cls(**values)


def loads(cls: type[R], raw: str | None) -> R | None:
    return None if raw is None else from_dict(cls, fastjson.loads(raw))


def loads_request(raw: str | None) -> PendingRequest | None:
    if raw is None:
        return None
    data = fastjson.loads(raw)
    request = AuthorizationRequest.from_dict(data)
    return PendingRequest(id=str(data["id"]), request=request, expires_at=float(data["expires_at"]))


def dumps_session(entry: SessionEntry) -> str:
    """One session entry as a member of the person's sorted set on Redis (scored by `until`)."""
    data = {"sid": entry.sid, "client_id": entry.client_id, "sub": entry.sub, "until": entry.until}
    return fastjson.dumps(data)


def loads_session(raw: str) -> SessionEntry:
    data = fastjson.loads(raw)
    return SessionEntry(
        sid=data["sid"], client_id=data["client_id"], sub=data["sub"], until=float(data["until"])
    )


def kept_sessions(
    sessions: Iterable[SessionEntry], *, now: float, keep: int
) -> tuple[SessionEntry, ...]:
    """The live entries (`until` after `now`), the `keep` that last longest, earliest first:
    what a person's index holds after a login is added (the Redis sorted set does the same)."""
    live = sorted((s for s in sessions if s.until > now), key=_until)
    return tuple(live[-keep:]) if keep > 0 else ()


def _until(entry: SessionEntry) -> float:
    return entry.until
