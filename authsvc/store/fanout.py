"""Local delivery of ticket events to this process's subscribers, one bounded queue each.

A subscriber whose queue is full is cut off (it gets a resync marker and is closed): a slow
socket never stalls the others.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

Event = dict[str, Any]
RESYNC: Event = {"resync": True}
_CLOSED: Event = {"closed": True}


class LocalSubscription:
    __slots__ = ("_fanout", "closed", "queue", "ticket_id")

    def __init__(self, fanout: Fanout, ticket_id: str, maxsize: int) -> None:
        self._fanout = fanout
        self.ticket_id = ticket_id
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)
        self.closed = False

    def offer(self, event: Event) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflow()

    def overflow(self) -> None:
        """Too slow: drop what is queued, tell the reader to resync, then stop."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(RESYNC)
        self.close()

    async def get(self, timeout: float) -> Event | None:  # noqa: ASYNC109
        if self.closed and self.queue.empty():
            return None
        try:
            event = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None
        return None if event is _CLOSED else event

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            if self.closed and self.queue.empty():
                return
            event = await self.queue.get()
            if event is _CLOSED:
                return
            yield event

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._fanout.remove(self)
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(_CLOSED)


class Listener:
    """A subscriber that is called back instead of queued: no task or queue per idle socket.
    The callback must not block; it gets events in order, and RESYNC when some may be lost."""

    __slots__ = ("_callback", "_fanout", "closed", "ticket_id")

    def __init__(self, fanout: Fanout, ticket_id: str, callback: Callable[[Event], None]) -> None:
        self._fanout = fanout
        self.ticket_id = ticket_id
        self._callback = callback
        self.closed = False

    def offer(self, event: Event) -> None:
        if not self.closed:
            self._callback(event)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._fanout.remove(self)


Subscriber = LocalSubscription | Listener


class Fanout:
    """Subscribers by ticket id: the one subscriber itself, or a set when a ticket has several
    (an idle socket costs a dict entry, not a set of its own)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, Subscriber | set[Subscriber]] = {}

    def subscribe(self, ticket_id: str, maxsize: int) -> LocalSubscription:
        sub = LocalSubscription(self, ticket_id, maxsize)
        self._add(sub)
        return sub

    def listen(self, ticket_id: str, callback: Callable[[Event], None]) -> Listener:
        listener = Listener(self, ticket_id, callback)
        self._add(listener)
        return listener

    def _add(self, sub: Subscriber) -> None:
        held = self._subscribers.get(sub.ticket_id)
        if held is None:
            self._subscribers[sub.ticket_id] = sub
        elif isinstance(held, set):
            held.add(sub)
        else:
            self._subscribers[sub.ticket_id] = {held, sub}

    def remove(self, sub: Subscriber) -> None:
        held = self._subscribers.get(sub.ticket_id)
        if held is sub:
            del self._subscribers[sub.ticket_id]
        elif isinstance(held, set):
            held.discard(sub)
            if len(held) == 1:
                self._subscribers[sub.ticket_id] = held.pop()

    def _of(self, ticket_id: str) -> list[Subscriber]:
        held = self._subscribers.get(ticket_id)
        if held is None:
            return []
        return list(held) if isinstance(held, set) else [held]

    def has(self, ticket_id: str) -> bool:
        return ticket_id in self._subscribers

    def deliver(self, ticket_id: str, event: Event) -> None:
        for sub in self._of(ticket_id):
            sub.offer(event)

    def resync_all(self) -> None:
        for ticket_id in list(self._subscribers):
            for sub in self._of(ticket_id):
                sub.offer(RESYNC)

    def close_all(self) -> None:
        for ticket_id in list(self._subscribers):
            for sub in self._of(ticket_id):
                sub.close()

    def count(self) -> int:
        return sum(len(s) if isinstance(s, set) else 1 for s in self._subscribers.values())
