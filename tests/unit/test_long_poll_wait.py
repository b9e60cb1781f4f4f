"""`http.browser.next_event`, what a waiting long poll answers with, on a real Fanout
subscription: the first event newer than the browser's version; None (read the ticket) on a
timeout, a resync or a closed subscription."""

from __future__ import annotations

import asyncio

from authsvc.http.browser import next_event
from authsvc.store.fanout import RESYNC, Fanout


async def test_events_of_earlier_commits_are_passed_over_for_the_first_newer_one() -> None:
    """The poll subscribes before it reads, so the events of commits up to the version it read
    may still arrive: they wake nothing, and the answer is the next version's event."""
    fanout = Fanout()
    sub = fanout.subscribe("t", maxsize=4)
    for version in (2, 3, 4):
        fanout.deliver("t", {"state": "scanned", "version": version})
    assert await next_event(sub, after=3, wait=1.0) == {"state": "scanned", "version": 4}
    sub.close()


async def test_an_event_delivered_while_it_waits_is_the_answer() -> None:
    fanout = Fanout()
    sub = fanout.subscribe("t", maxsize=4)
    waiting = asyncio.create_task(next_event(sub, after=1, wait=5.0))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    fanout.deliver("t", {"state": "confirmed", "version": 5, "redirect": "x"})
    assert await asyncio.wait_for(waiting, 1.0) == {
        "state": "confirmed",
        "version": 5,
        "redirect": "x",
    }
    sub.close()


async def test_only_old_events_until_the_deadline_mean_read_the_ticket() -> None:
    fanout = Fanout()
    sub = fanout.subscribe("t", maxsize=4)
    fanout.deliver("t", {"state": "pending", "version": 1})
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await next_event(sub, after=1, wait=0.2) is None
    assert loop.time() - started >= 0.19  # it waited out the rest of its time after the old one
    sub.close()


async def test_a_resync_or_a_closed_subscription_means_read_the_ticket() -> None:
    """Events may have been lost (resync) or none will come (closed): only a read can say."""
    fanout = Fanout()
    sub = fanout.subscribe("t", maxsize=4)
    fanout.deliver("t", RESYNC)
    fanout.deliver("t", {"state": "scanned", "version": 9})
    assert await next_event(sub, after=1, wait=1.0) is None
    other = fanout.subscribe("u", maxsize=4)
    fanout.close_all()
    assert await next_event(other, after=1, wait=1.0) is None
