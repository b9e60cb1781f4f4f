"""Expiries (authsvc/http/expiries.py): many sockets' due times on one timer per 0.1 s slot."""

from __future__ import annotations

import asyncio

from authsvc.http.expiries import RESOLUTION, Expiries, expiries


class Due:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.at: list[float] = []

    def expire(self) -> None:
        self.at.append(self.loop.time())


async def test_each_is_called_once_not_before_its_time_and_within_a_slot() -> None:
    """A due item is called once, at or after its delay and at most one slot later."""
    loop = asyncio.get_running_loop()
    wheel, items = Expiries(loop), [Due(loop) for _ in range(3)]
    start = loop.time()
    for n, item in enumerate(items):
        wheel.add(item, 0.05 * n)
    await asyncio.sleep(0.05 * 2 + RESOLUTION + 0.1)
    for n, item in enumerate(items):
        assert len(item.at) == 1
        assert 0.05 * n - 0.002 <= item.at[0] - start <= 0.05 * n + RESOLUTION + 0.05
    assert wheel.pending() == 0


async def test_a_discarded_item_is_not_called_and_others_in_its_slot_are() -> None:
    """Discarding from the slot `add` returned cancels that item only."""
    loop = asyncio.get_running_loop()
    wheel, gone, kept = Expiries(loop), Due(loop), Due(loop)
    slot = wheel.add(gone, 0.01)
    assert wheel.add(kept, 0.01) is slot  # one slot, one timer, for both
    slot.discard(gone)
    await asyncio.sleep(RESOLUTION + 0.1)
    assert (gone.at, len(kept.at)) == ([], 1)


async def test_the_running_loop_has_one() -> None:
    """expiries() gives the running loop's instance, the same each time."""
    assert expiries() is expiries()
