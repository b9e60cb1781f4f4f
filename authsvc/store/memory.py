"""The embedded store: one process, everything in memory, audit as JSON lines in a file."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Collection
from functools import cached_property
from pathlib import Path
from typing import Any

from authsvc.core.tickets import Ticket
from authsvc.store import cards
from authsvc.store.deliveries import Delivery, same_entry
from authsvc.store.fanout import Event, Fanout, Listener, LocalSubscription


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

    async def create_ticket(self, ticket: Ticket, *, ttl: float) -> None:
        self._tickets.set(ticket.id, ticket, ttl)

    async def get_ticket(self, ticket_id: str) -> Ticket | None:
        ticket: Ticket | None = self._tickets.get(ticket_id)
        return ticket

    async def replace_ticket(self, new: Ticket, *, expected_version: int, ttl: float) -> bool:
        current = self._tickets.get(new.id)
        if current is None or current.version != expected_version:
            return False
        self._tickets.set(new.id, new, ttl)
        return True

    async def commit_transition(
        self, new: Ticket, *, expected_version: int, ttl: float, event: Event, audit: dict[str, Any]
    ) -> bool:
        if not await self.replace_ticket(new, expected_version=expected_version, ttl=ttl):
            return False
        await self.publish(new.id, event)
        await self.audit(audit)
        return True

    async def put_value(self, key: str, value: dict[str, Any], *, ttl: float) -> None:
        self._values.set(key, dict(value), ttl)

    async def get_value(self, key: str) -> dict[str, Any] | None:
        value = self._values.get(key)
        return dict(value) if value is not None else None

    async def take_value(self, key: str) -> dict[str, Any] | None:
        return self._values.pop(key)

    async def take_value_leaving(
        self, key: str, marker_key: str, marker: dict[str, Any], *, ttl: float
    ) -> dict[str, Any] | None:
        value = self._values.pop(key)
        if value is not None:
            self._values.set(marker_key, dict(marker), ttl)
        return value

    async def delete_value(self, key: str) -> None:
        self._values.pop(key)

    async def add_once(self, key: str, *, ttl: float) -> bool:
        if self._once.get(key) is not None:
            return False
        self._once.set(key, True, ttl)
        return True

    async def hit(self, key: str, *, window: float) -> int:
        return self._counters.incr(key, window)

    async def publish(self, ticket_id: str, event: Event) -> None:
        self._fanout.deliver(ticket_id, event)

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
        if self._audit_path:
            line = json.dumps(record, ensure_ascii=False) + "\n"
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        assert self._audit_path is not None
        with self._audit_path.open("a", encoding="utf-8") as out:
            out.write(line)

    async def audit_records(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self._recent_audit)[-limit:] if limit > 0 else []

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
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
