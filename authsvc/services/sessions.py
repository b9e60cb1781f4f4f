"""Which logins a person has, where: the index back-channel logout walks when authsvc revokes
what a ticket issued (issue 8: code replay, admin revoke, the card reported lost).

One value per person, `{"sessions": [...]}`, kept as long as the longest token. Two logins of
the same person finishing in the same instant may race on this read-modify-write; the loser's
entry is then missing and that session ends only when its tokens expire."""

from __future__ import annotations

from typing import Any

from authsvc.services.broker import Broker

MAX_SESSIONS = 64


def _key(person: str) -> str:
    return f"person-sessions:{person}"


async def remember(broker: Broker, person: str, entry: dict[str, Any], *, ttl: float) -> None:
    current = await broker.store.get_value(_key(person)) or {"sessions": []}
    now = broker.now()
    sessions = [s for s in current["sessions"] if s.get("until", 0) > now][-MAX_SESSIONS + 1 :]
    sessions.append({**entry, "until": now + ttl})
    await broker.store.put_value(_key(person), {"sessions": sessions}, ttl=ttl)


async def take_all(broker: Broker, person: str) -> list[dict[str, Any]]:
    """Every live session of the person, removed from the index (ended once)."""
    current = await broker.store.take_value(_key(person))
    if current is None:
        return []
    now = broker.now()
    return [s for s in current["sessions"] if s.get("until", 0) > now]
