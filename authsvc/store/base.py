"""The one storage contract. Every backend passes tests/contract/.

Tickets are replaced by compare-and-set on `version`: the transition that wins is the one
whose expected version still matches, atomically. Values taken with `take_value` are single use.
Events are published per ticket; a subscription only sees events published after it started,
so callers subscribe first and read the ticket second.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from typing import Any, Protocol

from authsvc.core.tickets import Ticket
from authsvc.store.deliveries import Delivery

Event = dict[str, Any]
ISSUED, CONFLICT, BLOCKED = "issued", "conflict", "blocked"
BLOCKING_STATUSES = ("lost", "suspended")


class Subscription(Protocol):
    """Events for one ticket, in order. A `{"resync": True}` event means some may be lost:
    read the ticket again."""

    closed: bool

    def __aiter__(self) -> AsyncIterator[Event]: ...

    async def get(self, timeout: float) -> Event | None: ...  # noqa: ASYNC109

    def close(self) -> None: ...


class Closable(Protocol):
    def close(self) -> None: ...


class Store(Protocol):
    name: str

    async def create_ticket(self, ticket: Ticket, *, ttl: float) -> None: ...

    async def get_ticket(self, ticket_id: str) -> Ticket | None: ...

    async def replace_ticket(self, new: Ticket, *, expected_version: int, ttl: float) -> bool:
        """Write `new` only if the stored ticket still has `expected_version`."""
        ...

    async def commit_transition(
        self, new: Ticket, *, expected_version: int, ttl: float, event: Event, audit: dict[str, Any]
    ) -> bool:
        """`replace_ticket`, then `publish(new.id, event)` and `audit(audit)` — all or nothing,
        in one round trip where the backend allows."""
        ...

    async def put_value(self, key: str, value: dict[str, Any], *, ttl: float) -> None: ...

    async def get_value(self, key: str) -> dict[str, Any] | None: ...

    async def take_value(self, key: str) -> dict[str, Any] | None:
        """Atomically read and delete: of two concurrent takers exactly one gets the value."""
        ...

    async def take_value_leaving(
        self, key: str, marker_key: str, marker: dict[str, Any], *, ttl: float
    ) -> dict[str, Any] | None:
        """`take_value`, and if the value was there, `put_value(marker_key, marker)` in the same
        atomic step: a taker that finds the value gone always finds the marker. On a Redis
        Cluster both names must carry the same hash tag (`code:{d}`, `used:{d}`)."""
        ...

    async def delete_value(self, key: str) -> None: ...

    async def add_once(self, key: str, *, ttl: float) -> bool:
        """True the first time `key` is added within `ttl` (replay guards)."""
        ...

    async def hit(self, key: str, *, window: float) -> int:
        """Count one hit on `key` in a fixed window; returns the count so far (rate limits)."""
        ...

    async def publish(self, ticket_id: str, event: Event) -> None: ...

    def subscribe(self, ticket_id: str, *, maxsize: int = 16) -> Subscription: ...

    def listen(self, ticket_id: str, callback: Callable[[Event], None]) -> Closable:
        """Like `subscribe`, but events are handed to `callback` as they arrive (it must not
        block); `{"resync": True}` means some may be lost. For long-lived idle listeners."""
        ...

    # E-cards: long-lived records, one person's keys together (one hash tag on Redis).

    async def issue_card(
        self, person: str, card: dict[str, Any], *, expected: str, now: float
    ) -> str:
        """One active e-card per person, atomically. If the person's current card number is
        still `expected` ("" = none) and that card is not lost or suspended, the old card is
        cancelled (`reason` "rebound") and `card` (with `card_no`) becomes the current one.
        Returns ISSUED, CONFLICT (the current card changed meanwhile) or BLOCKED (it is lost or
        suspended: 解挂 first) — nothing is written unless ISSUED."""
        ...

    async def get_card(self, card_no: str, *, person: str = "") -> dict[str, Any] | None:
        """The card's record; `person` (when the caller knows it) saves an index lookup."""
        ...

    async def current_card(self, person: str) -> dict[str, Any] | None:
        """The person's latest card (active or not), or None."""
        ...

    async def set_card_status(
        self,
        card_no: str,
        status: str,
        *,
        allowed: Collection[str],
        reason: str,
        now: float,
    ) -> dict[str, Any] | None:
        """Move the card to `status` only from a status in `allowed`; the new record, or None
        (unknown card, or not allowed: read it again to tell which)."""
        ...

    async def audit(self, record: dict[str, Any]) -> None: ...

    async def audit_records(self, limit: int = 100) -> list[dict[str, Any]]: ...

    async def ping(self) -> None:
        """Raise if the backend cannot be reached."""
        ...

    async def close(self) -> None: ...

    # ── Back-channel logout deliveries (a durable queue shared by every process) ──────────
    # Back-Channel Logout 1.0 §2.8: failed notifications are retried; the queue outlives the
    # process that ended the session. See store/deliveries.py.

    async def schedule_delivery(self, delivery: Delivery) -> None:
        """Queue `delivery` (its attempt, due at `delivery.due`), replacing any entry of the
        same client and session."""
        ...

    async def claim_deliveries(
        self, now: float, *, lease: float, limit: int = 16
    ) -> list[Delivery]:
        """The entries due by `now` (earliest first, at most `limit`), each handed to exactly
        one claimer: in the same atomic step each entry is replaced by `leased(now, lease)`."""
        ...

    async def finish_delivery(self, claimed: Delivery, then: Delivery | None) -> bool:
        """End the claim of `claimed`: the entry it left behind becomes `then` (None: removed,
        delivered or given up). False, nothing written, if another claim moved it on."""
        ...

    async def pending_deliveries(self) -> list[Delivery]:
        """Every queued entry, earliest due first (operators and tests)."""
        ...
