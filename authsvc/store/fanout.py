"""Local delivery of ticket events to this process's subscribers, one bounded queue each.

A subscriber whose queue is full is cut off (it gets a resync marker and is closed): a slow
socket never stalls the others.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any

Event = dict[str, Any]
RESYNC: Event = {"resync": True}
_CLOSED: Event = {"closed": True}


class LocalSubscription:
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
    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscriber]] = defaultdict(set)

    def subscribe(self, ticket_id: str, maxsize: int) -> LocalSubscription:
        sub = LocalSubscription(self, ticket_id, maxsize)
        self._subscribers[ticket_id].add(sub)
        return sub

    def listen(self, ticket_id: str, callback: Callable[[Event], None]) -> Listener:
        listener = Listener(self, ticket_id, callback)
        self._subscribers[ticket_id].add(listener)
        return listener

    def remove(self, sub: Subscriber) -> None:
        subs = self._subscribers.get(sub.ticket_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subscribers[sub.ticket_id]

    def has(self, ticket_id: str) -> bool:
        return ticket_id in self._subscribers

    def deliver(self, ticket_id: str, event: Event) -> None:
        for sub in list(self._subscribers.get(ticket_id, ())):
            sub.offer(event)

    def resync_all(self) -> None:
        for subs in list(self._subscribers.values()):
            for sub in list(subs):
                sub.offer(RESYNC)

    def close_all(self) -> None:
        for subs in list(self._subscribers.values()):
            for sub in list(subs):
                sub.close()

    def count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())
