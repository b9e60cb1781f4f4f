"""Which logins a person has, where: the index back-channel logout walks when authsvc revokes
what a ticket issued (issue 8: code replay, admin revoke, the card reported lost).

One index per person (`Store.person_sessions`), kept as long as the longest token; an entry is
live `until` its tokens end, on the broker's clock. A login adds its entry in the same Store
step that saves its tokens (`Store.save_redemption`), without reading the others, so two logins
of the same person finishing at once both stay in the index; the index keeps the
`MAX_SESSIONS` live entries that last longest (`records.kept_sessions`)."""

from __future__ import annotations

from authsvc.services.broker import Broker
from authsvc.store.records import SessionEntry

MAX_SESSIONS = 64


def entry(*, sid: str, client_id: str, sub: str, now: float, ttl: float) -> SessionEntry:
    """The index entry of one login, live for `ttl` from `now`."""
    return SessionEntry(sid=sid, client_id=client_id, sub=sub, until=now + ttl)


async def take_all(broker: Broker, person: str) -> list[SessionEntry]:
    """Every live session of the person, removed from the index (ended once)."""
    now = broker.now()
    return [s for s in await broker.store.take_person_sessions(person) if s.until > now]
