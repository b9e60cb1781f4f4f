"""Which logins a person has, where: the index back-channel logout walks when authsvc revokes
what a ticket issued (issue 8: code replay, admin revoke, the card reported lost).

One list per person (`Store.person_sessions`), kept as long as the longest token; an entry is
live `until` its tokens end, on the broker's clock. Two logins of the same person finishing in
the same instant may race on this read-modify-write; the loser's entry is then missing and that
session ends only when its tokens expire."""

from __future__ import annotations

from authsvc.services.broker import Broker
from authsvc.store.records import SessionEntry

MAX_SESSIONS = 64


async def remember(
    broker: Broker, person: str, *, sid: str, client_id: str, sub: str, ttl: float
) -> None:
    now = broker.now()
    current = await broker.store.person_sessions(person)
    kept = [s for s in current if s.until > now][-MAX_SESSIONS + 1 :]
    kept.append(SessionEntry(sid=sid, client_id=client_id, sub=sub, until=now + ttl))
    await broker.store.save_person_sessions(person, kept, ttl=ttl)


async def take_all(broker: Broker, person: str) -> list[SessionEntry]:
    """Every live session of the person, removed from the index (ended once)."""
    now = broker.now()
    return [s for s in await broker.store.take_person_sessions(person) if s.until > now]
