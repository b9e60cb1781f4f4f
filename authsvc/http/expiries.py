"""Due times for many sockets on few timers: one event-loop timer per 0.1 s slot in use.

A timer per socket (`loop.call_later`) costs every idle socket a handle, a native timer and a
context (~0.6 KiB); here a socket costs an entry in its slot's set, and a slot's one timer calls
every socket in it. A socket is called at most one slot (0.1 s) after it was due."""

from __future__ import annotations

import asyncio
import math
import weakref
from typing import Protocol

RESOLUTION = 0.1


class Due(Protocol):
    def expire(self) -> None: ...


Slot = set[Due]


class Expiries:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._slots: dict[int, Slot] = {}

    def add(self, due: Due, delay: float) -> Slot:
        """Call `due.expire()` once, `delay` seconds from now (rounded up to the next slot).
        To cancel, discard it from the slot returned."""
        at = math.ceil((self._loop.time() + max(delay, 0.0)) / RESOLUTION)
        slot = self._slots.get(at)
        if slot is None:
            slot = self._slots[at] = set()
            self._loop.call_at(at * RESOLUTION, self._fire, at)
        slot.add(due)
        return slot

    def _fire(self, at: int) -> None:
        for due in self._slots.pop(at, ()):
            due.expire()

    def pending(self) -> int:
        return sum(len(slot) for slot in self._slots.values())


_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Expiries] = (
    weakref.WeakKeyDictionary()
)


def expiries() -> Expiries:
    """The running loop's Expiries."""
    loop = asyncio.get_running_loop()
    found = _BY_LOOP.get(loop)
    if found is None:
        found = _BY_LOOP[loop] = Expiries(loop)
    return found
