"""What this process last read or wrote of the records a phone step needs, so that the step
can be decided without a read and checked by its commit instead (store.base.Assumed); and the
authorization requests it saved or read, which never change.

Nothing here is trusted: a recalled value only saves the read when Redis still holds it at
commit time, which the commit checks atomically. So the entries need no expiry and no
invalidation from other processes; a stale one costs one more round trip. Bounded, oldest
out first; a ticket leaves once no phone step can act on it."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

from authsvc.core import tickets
from authsvc.core.oidc.authorize import PendingRequest
from authsvc.core.tickets import Ticket

V = TypeVar("V")
DONE = tickets.TERMINAL | {tickets.State.CONFIRMED}  # no phone step acts on these


class Bounded(Generic[V]):
    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[str, V] = OrderedDict()

    def get(self, key: str) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def drop(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


class Recall:
    """Tickets by id; raw values (e-card records, face locks) by their Redis key, "" standing
    for a key that held nothing."""

    def __init__(self, *, tickets_size: int = 2048, values_size: int = 4096) -> None:
        self.tickets: Bounded[Ticket] = Bounded(tickets_size)
        self.values: Bounded[str] = Bounded(values_size)
        #: Authorization requests by id: they never change once saved, so a recalled one is
        #: the stored one (while it lives: its logical expiry is in it).
        self.requests: Bounded[PendingRequest] = Bounded(tickets_size)

    def ticket_now(self, ticket: Ticket) -> None:
        if ticket.state in DONE:
            self.tickets.drop(ticket.id)
        else:
            self.tickets.put(ticket.id, ticket)

    def value_now(self, key: str, raw: str | None) -> None:
        self.values.put(key, raw or "")

    def forget(self, ticket_id: str, *keys: str) -> None:
        self.tickets.drop(ticket_id)
        self.values.drop(*keys)
