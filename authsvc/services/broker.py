"""The broker's services, shared by the handlers: one object on the app, built in create_app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from authsvc import errors
from authsvc.accounts import AccountsProvider
from authsvc.clients import ClientRegistry
from authsvc.config import Settings
from authsvc.core import tickets
from authsvc.core.clock import Clock
from authsvc.core.ecard import VerifiedCards
from authsvc.core.tickets import Ticket
from authsvc.keyring import Keyring
from authsvc.metrics import Metrics
from authsvc.registry import FileRegistry, Registry
from authsvc.services.face import FaceMatcher, SignatureMatcher
from authsvc.store.base import Assumed, GuardedHit, NewCode, StaleRead, Store

log = logging.getLogger(__name__)

Step = Callable[[Ticket], Ticket]
GC_MARGIN = 300.0


@dataclass
class Broker:
    settings: Settings
    store: Store
    keyring: Keyring
    clients: ClientRegistry
    clock: Clock
    accounts: AccountsProvider
    metrics: Metrics = field(default_factory=Metrics)
    cards: VerifiedCards = field(default_factory=VerifiedCards)
    registry: Registry = field(default_factory=lambda: FileRegistry(""))
    faces: FaceMatcher | None = None

    def face_matcher(self) -> FaceMatcher:
        """The face service: the signature stub unless a real one was given."""
        if self.faces is None:
            self.faces = SignatureMatcher(self.settings.face_threshold)
        return self.faces

    #: Work that outlives its request (back-channel logout retries); cancelled at shutdown.
    background: set[asyncio.Task[None]] = field(default_factory=set)

    def now(self) -> float:
        return self.clock.now()

    def ttl_for(self, ticket: Ticket) -> float:
        """Physical TTL only collects garbage; logical expiry is the core's business."""
        return max(ticket.expires_at - self.now(), 0.0) + GC_MARGIN

    async def load_stored(self, ticket_id: str) -> Ticket:
        if not ticket_id or len(ticket_id) > 64:
            raise errors.TicketNotFound()
        ticket = await self.store.get_ticket(ticket_id)
        if ticket is None:
            raise errors.TicketNotFound()
        return ticket

    async def load(self, ticket_id: str) -> Ticket:
        """The ticket as it is now (a pending ticket past its expiry reads as expired)."""
        return tickets.effective(await self.load_stored(ticket_id), self.now())

    async def create(
        self, ticket: Ticket, context: dict[str, Any], *, hit: GuardedHit | None = None
    ) -> None:
        """Store a new ticket with its audit record (and `hit`, counted first: store.base)."""
        audit = self.audit_entry(ticket, "created", context)
        await self.store.create_ticket(ticket, ttl=self.ttl_for(ticket), audit=audit, hit=hit)
        self.metrics.transitions.labels(state=str(ticket.state)).inc()

    async def apply(
        self,
        ticket_id: str,
        step: Step,
        context: dict[str, Any],
        *,
        stored: Ticket | None = None,
        code: NewCode | None = None,
        assumed: Assumed | None = None,
    ) -> Ticket:
        """Run a core transition and commit it (compare-and-set, event and audit in one go); on
        a lost race, re-read and run the step again (which then usually refuses: the first scan
        wins). `stored` saves the first read when the caller has just read the ticket; `code`
        is stored with the transition that commits, and only then. `assumed`: `stored` and the
        rest of the request's read were recalled, not read (store.base.Assumed); the first
        commit checks them, and StaleRead tells the caller to read and decide again."""
        if assumed is not None and assumed.settled:
            assumed = None  # a step's second commit (the scan, then the offer)
        for _ in range(8):
            current = stored or await self.load_stored(ticket_id)
            stored = None
            new = step(current)
            if new is current:
                if assumed is not None:  # nothing to commit: the read must really be made
                    raise StaleRead()
                return current
            committed = await self.store.commit_transition(
                new,
                expected_version=current.version,
                ttl=self.ttl_for(new),
                event=self.event(new) if tickets.shows_change(current, new) else None,
                audit=self.audit_entry(new, str(new.state), context),
                previous=current,
                code=code,
                assumed=assumed,
            )
            if committed:
                self.metrics.transitions.labels(state=str(new.state)).inc()
                return new
        raise errors.TicketStateConflict("too much contention")

    def event(self, ticket: Ticket) -> dict[str, Any]:
        return {**tickets.event(ticket), "published_at": self.now()}

    def audit_entry(self, ticket: Ticket, outcome: str, context: dict[str, Any]) -> dict[str, Any]:
        """The transition's audit record (the store writes it with the transition; no log line
        repeats it: that was ~1.5 % of a login's CPU even when debug lines were dropped)."""
        return {
            "time": self.now(),
            "event": "ticket",
            "outcome": outcome,
            "ticket": ticket.id,
            "client": ticket.client_id,
            "identity": str(ticket.identity),
            "state": str(ticket.state),
            "browser_ip": ticket.browser_ip,
            **context,
        }
