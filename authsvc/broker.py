"""The broker's services, shared by the handlers: one object on the app, built in create_app."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from authsvc import errors
from authsvc.accounts import AccountsProvider
from authsvc.clients import ClientRegistry
from authsvc.config import Settings
from authsvc.core import ticket as core
from authsvc.core.clock import Clock
from authsvc.core.ticket import Ticket
from authsvc.keyring import Keyring
from authsvc.metrics import Metrics
from authsvc.store.base import Store

log = logging.getLogger(__name__)
audit_log = logging.getLogger("authsvc.audit")

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
        return core.effective(await self.load_stored(ticket_id), self.now())

    async def create(self, ticket: Ticket, context: dict[str, Any]) -> None:
        await self.store.create_ticket(ticket, ttl=self.ttl_for(ticket))
        await self.record(ticket, "created", context)

    async def apply(self, ticket_id: str, step: Step, context: dict[str, Any]) -> Ticket:
        """Run a core transition and write it with compare-and-set; on a lost race, re-read and
        run the step again (which then usually refuses: the first scan wins)."""
        for _ in range(8):
            stored = await self.load_stored(ticket_id)
            new = step(stored)
            if new is stored:
                return stored
            if await self.store.replace_ticket(
                new, expected_version=stored.version, ttl=self.ttl_for(new)
            ):
                await self.publish(new)
                await self.record(new, str(new.state), context)
                return new
        raise errors.TicketStateConflict("too much contention")

    async def publish(self, ticket: Ticket) -> None:
        await self.store.publish(ticket.id, {**core.event(ticket), "published_at": self.now()})

    async def record(self, ticket: Ticket, outcome: str, context: dict[str, Any]) -> None:
        self.metrics.transitions.labels(state=str(ticket.state)).inc()
        entry = {
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
        audit_log.info("%s ticket=%s state=%s", outcome, ticket.id[:8], ticket.state)
        await self.store.audit(entry)
