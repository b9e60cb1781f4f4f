"""The embedded store: one process, everything in memory, audit as JSON lines in a file."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from authsvc.core import fastjson
from authsvc.core.face import Challenge
from authsvc.core.oidc.authorize import PendingRequest
from authsvc.core.oidc.grant import Grant
from authsvc.core.tickets import Ticket
from authsvc.store import cards, keys, records
from authsvc.store.base import (
    Assumed,
    GuardedHit,
    NewCode,
    PhoneRead,
    RedemptionRead,
    TicketRequestRead,
)
from authsvc.store.deliveries import Delivery, same_entry
from authsvc.store.fanout import Event, Fanout, Listener, LocalSubscription
from authsvc.store.grouped import GroupWriter
from authsvc.store.records import AccessToken, FaceLock, IssuedTokens, Redemption, SessionEntry

_V = TypeVar("_V")


class _Expiring:
    """A dict whose entries vanish after their TTL (physical expiry only: garbage collection)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._items: dict[str, tuple[float, Any]] = {}
        self._monotonic = monotonic

    def get(self, key: str) -> Any | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] <= self._monotonic():
            del self._items[key]
            return None
        return item[1]

    def set(self, key: str, value: Any, ttl: float) -> None:
        self._items[key] = (self._monotonic() + ttl, value)
        if len(self._items) % 1024 == 0:
            self.sweep()

    def incr(self, key: str, window: float) -> int:
        """Fixed window counter: the window starts at the first hit."""
        item = self._items.get(key)
        if item is None or item[0] <= self._monotonic():
            self._items[key] = (self._monotonic() + window, 1)
            return 1
        self._items[key] = (item[0], item[1] + 1)
        return int(item[1] + 1)

    def pop(self, key: str) -> Any | None:
        value = self.get(key)
        self._items.pop(key, None)
        return value

    def sweep(self) -> None:
        now = self._monotonic()
        for key in [k for k, (deadline, _) in self._items.items() if deadline <= now]:
            del self._items[key]


class MemoryStore:
    name = "memory"

    def __init__(
        self,
        *,
        audit_path: str = "",
        audit_keep: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`monotonic` is the clock of physical expiry (garbage collection), injectable so
        tests move it instead of sleeping."""
        self._tickets = _Expiring(monotonic)
        self._values = _Expiring(monotonic)
        self._once = _Expiring(monotonic)
        self._counters = _Expiring(monotonic)
        self._fanout = Fanout()
        self._audit_path = Path(audit_path) if audit_path else None
        self._cards: dict[str, dict[str, Any]] = {}
        self._card_person: dict[str, str] = {}
        self._current: dict[str, str] = {}
        self._recent_audit: deque[dict[str, Any]] = deque(maxlen=audit_keep)
        if self._audit_path:
            self._audit_path.parent.mkdir(parents=True, exist_ok=True)
        self._audit_writer = GroupWriter(self._persist_audit)

    async def create_ticket(
        self,
        ticket: Ticket,
        *,
        ttl: float,
        audit: dict[str, Any] | None = None,
        hit: GuardedHit | None = None,
    ) -> None:
        if hit is not None:
            hit.check(await self.hit(hit.key, window=hit.window))
        self._tickets.set(ticket.id, ticket, ttl)
        if audit is not None:
            await self.audit(audit)

    async def get_ticket(self, ticket_id: str) -> Ticket | None:
        ticket: Ticket | None = self._tickets.get(ticket_id)
        return ticket

    def _replace_ticket(self, new: Ticket, *, expected_version: int, ttl: float) -> bool:
        current = self._tickets.get(new.id)
        if current is None or current.version != expected_version:
            return False
        self._tickets.set(new.id, new, ttl)
        return True

    async def commit_transition(
        self,
        new: Ticket,
        *,
        expected_version: int,
        ttl: float,
        event: Event | None,
        audit: dict[str, Any],
        previous: Ticket | None = None,
        code: NewCode | None = None,
        assumed: Assumed | None = None,
    ) -> bool:
        if assumed is not None:  # this store never recalls (its reads cost no round trip)
            raise ValueError("MemoryStore made no assumed read")
        if not self._replace_ticket(new, expected_version=expected_version, ttl=ttl):
            return False
        if code is not None:
            self._values.set(keys.code(code.code_hash), code.grant, code.ttl)
        if event is not None:
            self._fanout.deliver(new.id, event)
        await self.audit(audit)
        return True

    async def phone_request(
        self,
        *,
        person: str,
        card_no: str,
        nonce_key: str,
        nonce_ttl: float,
        ticket_id: str = "",
        face_lock_day: str = "",
        spend_nonce: bool = True,
        recall: bool = False,
    ) -> PhoneRead:
        return PhoneRead(
            card=await self.get_card(card_no, person=person),
            fresh_nonce=await self.add_once(nonce_key, ttl=nonce_ttl) if spend_nonce else True,
            ticket=await self.get_ticket(ticket_id) if ticket_id else None,
            face_lock=await self.get_face_lock(person, face_lock_day) if face_lock_day else None,
        )

    async def ticket_request(
        self, request_id: str, *, hit_key: str, window: float, recall: bool = False
    ) -> TicketRequestRead:
        return TicketRequestRead(
            hits=await self.hit(hit_key, window=window),
            request=await self.get_authorization_request(request_id),
        )

    async def add_once(self, key: str, *, ttl: float) -> bool:
        if self._once.get(key) is not None:
            return False
        self._once.set(key, True, ttl)
        return True

    async def hit(self, key: str, *, window: float) -> int:
        return self._counters.incr(key, window)

    # OIDC records (frozen values: stored as they are; no await inside a step: each is atomic)

    async def save_authorization_request(self, record: PendingRequest, *, ttl: float) -> None:
        self._values.set(keys.authorization_request(record.id), record, ttl)

    async def get_authorization_request(self, request_id: str) -> PendingRequest | None:
        return self._get(keys.authorization_request(request_id), PendingRequest)

    async def save_code(self, code_hash: str, grant: Grant, *, ttl: float) -> None:
        self._values.set(keys.code(code_hash), grant, ttl)

    async def discard_code(self, code_hash: str) -> None:
        self._values.pop(keys.code(code_hash))

    async def redeem_code(
        self, code_hash: str, marker: IssuedTokens, *, ttl: float, hit: GuardedHit | None = None
    ) -> Grant | None:
        if hit is not None:
            hit.check(await self.hit(hit.key, window=hit.window))
        grant = self._values.pop(keys.code(code_hash))
        if grant is not None:
            self._values.set(keys.used_code(code_hash), marker, ttl)
        return grant if isinstance(grant, Grant) else None

    async def issued_for_code(self, code_hash: str) -> IssuedTokens | None:
        return self._get(keys.used_code(code_hash), IssuedTokens)

    async def save_issued(
        self, issued: IssuedTokens, *, code_hash: str, sid: str, ttl: float, code_ttl: float
    ) -> None:
        self._values.set(keys.used_code(code_hash), issued, max(ttl, code_ttl))
        self._values.set(keys.ticket_tokens(issued.ticket), issued, ttl)
        self._values.set(keys.sid_tokens(sid), issued, ttl)

    async def issued_for_ticket(self, ticket_id: str) -> IssuedTokens | None:
        return self._get(keys.ticket_tokens(ticket_id), IssuedTokens)

    async def issued_for_sid(self, sid: str) -> IssuedTokens | None:
        return self._get(keys.sid_tokens(sid), IssuedTokens)

    async def save_redemption(
        self,
        redemption: Redemption,
        *,
        ttl: float,
        code_ttl: float,
        session_ttl: float,
        keep_sessions: int,
        now: float,
        audit: dict[str, Any],
    ) -> RedemptionRead:
        issued = redemption.issued
        await self.save_access_token(redemption.token_hash, redemption.token, ttl=ttl)
        await self.save_issued(
            issued,
            code_hash=redemption.code_hash,
            sid=redemption.session.sid,
            ttl=ttl,
            code_ttl=code_ttl,
        )
        sessions = (*await self.person_sessions(issued.person), redemption.session)
        kept = records.kept_sessions(sessions, now=now, keep=keep_sessions)
        self._values.set(keys.person_sessions(issued.person), kept, session_ttl)
        await self.audit(audit)
        return RedemptionRead(
            replayed=await self.code_replayed(redemption.code_hash),
            ticket=await self.get_ticket(issued.ticket),
        )

    async def flag_code_replayed(self, code_hash: str, *, ttl: float) -> None:
        self._values.set(keys.revoked_code(code_hash), True, ttl)

    async def code_replayed(self, code_hash: str) -> bool:
        return self._values.get(keys.revoked_code(code_hash)) is not None

    async def save_access_token(self, token_hash: str, record: AccessToken, *, ttl: float) -> None:
        self._values.set(keys.access_token(token_hash), record, ttl)

    async def get_access_token(self, token_hash: str) -> AccessToken | None:
        return self._get(keys.access_token(token_hash), AccessToken)

    async def delete_access_tokens(self, token_hashes: Collection[str]) -> None:
        for token_hash in token_hashes:
            self._values.pop(keys.access_token(token_hash))

    async def spend_assertion_jti(self, client_id: str, jti: str, *, ttl: float) -> bool:
        return await self.add_once(keys.assertion(client_id, jti), ttl=ttl)

    async def person_sessions(self, person: str) -> tuple[SessionEntry, ...]:
        sessions: tuple[SessionEntry, ...] = self._values.get(keys.person_sessions(person)) or ()
        return sessions

    async def save_person_sessions(
        self, person: str, sessions: Sequence[SessionEntry], *, ttl: float
    ) -> None:
        ordered = tuple(sorted(sessions, key=lambda s: s.until))
        self._values.set(keys.person_sessions(person), ordered, ttl)

    async def take_person_sessions(self, person: str) -> tuple[SessionEntry, ...]:
        sessions: tuple[SessionEntry, ...] = self._values.pop(keys.person_sessions(person)) or ()
        return sessions

    async def save_face_challenge(self, challenge: Challenge, *, ttl: float) -> None:
        self._values.set(keys.face_challenge(challenge.id), challenge, ttl)

    async def take_face_challenge(self, challenge_id: str) -> Challenge | None:
        challenge = self._values.pop(keys.face_challenge(challenge_id))
        return challenge if isinstance(challenge, Challenge) else None

    async def save_face_lock(self, lock: FaceLock, *, ttl: float) -> None:
        self._values.set(keys.face_lock(lock.person, lock.day), lock, ttl)

    async def get_face_lock(self, person: str, day: str) -> FaceLock | None:
        return self._get(keys.face_lock(person, day), FaceLock)

    def _get(self, key: str, kind: type[_V]) -> _V | None:
        value = self._values.get(key)
        return value if isinstance(value, kind) else None

    # Events

    def subscribe(self, ticket_id: str, *, maxsize: int = 16) -> LocalSubscription:
        return self._fanout.subscribe(ticket_id, maxsize)

    def listen(self, ticket_id: str, callback: Callable[[Event], None]) -> Listener:
        return self._fanout.listen(ticket_id, callback)

    def subscriber_count(self) -> int:
        return self._fanout.count()

    # E-cards (no await inside a step: each one is atomic on the event loop)

    async def issue_card(
        self, person: str, card: dict[str, Any], *, expected: str, now: float
    ) -> str:
        current = self._current.get(person, "")
        old = self._cards.get(current) if current else None
        outcome, cancelled = cards.issue(current, old, expected=expected, now=now)
        if outcome != "issued":
            return outcome
        if cancelled is not None:
            self._cards[current] = cancelled
        self._cards[card["card_no"]] = dict(card)
        self._card_person[card["card_no"]] = person
        self._current[person] = card["card_no"]
        return outcome

    async def get_card(self, card_no: str, *, person: str = "") -> dict[str, Any] | None:
        record = self._cards.get(card_no)
        return dict(record) if record is not None else None

    async def current_card(self, person: str) -> dict[str, Any] | None:
        current = self._current.get(person)
        return await self.get_card(current) if current else None

    async def set_card_status(
        self,
        card_no: str,
        status: str,
        *,
        allowed: Collection[str],
        reason: str,
        now: float,
    ) -> dict[str, Any] | None:
        new = cards.moved(self._cards.get(card_no), status, allowed=allowed, reason=reason, now=now)
        if new is not None:
            self._cards[card_no] = new
        return dict(new) if new is not None else None

    async def audit(self, record: dict[str, Any]) -> None:
        self._recent_audit.append(record)
        if self._keeps_audit:
            await self._audit_writer.add(fastjson.dumps(record))

    @property
    def _keeps_audit(self) -> bool:
        return self._audit_path is not None

    def _persist_audit(self, records: list[str]) -> None:
        """A batch of audit records (JSON), in a worker thread: appended to the file as lines."""
        assert self._audit_path is not None
        with open(self._audit_path, "ab") as out:  # opened per batch: a rotated file is let go
            out.write("".join(r + "\n" for r in records).encode())

    async def audit_records(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self._recent_audit)[-limit:] if limit > 0 else []

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        await self._audit_writer.flush()
        self._fanout.close_all()

    # ── Back-channel logout deliveries (no await inside a step: each is atomic) ───────────

    @cached_property
    def _deliveries(self) -> dict[str, Delivery]:
        return {}

    async def schedule_delivery(self, delivery: Delivery) -> None:
        self._deliveries[delivery.key] = delivery

    async def claim_deliveries(
        self, now: float, *, lease: float, limit: int = 16
    ) -> list[Delivery]:
        due = sorted((d for d in self._deliveries.values() if d.due <= now), key=_by_due)
        claimed = due[: max(limit, 0)]
        for delivery in claimed:
            self._deliveries[delivery.key] = delivery.leased(now, lease)
        return claimed

    async def finish_delivery(self, claimed: Delivery, then: Delivery | None) -> bool:
        same_entry(claimed, then)
        left = self._deliveries.get(claimed.key)
        if left is None or left.attempt != claimed.attempt + 1:
            return False
        if then is None:
            del self._deliveries[claimed.key]
        else:
            self._deliveries[claimed.key] = then
        return True

    async def pending_deliveries(self) -> list[Delivery]:
        return sorted(self._deliveries.values(), key=_by_due)


def _by_due(delivery: Delivery) -> float:
    return delivery.due
