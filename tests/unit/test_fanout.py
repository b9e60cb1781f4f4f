"""Fanout (authsvc/store/fanout.py): a ticket's one subscriber is held as itself, several in a
set; either way each open one gets every event and a closed one nothing."""

from __future__ import annotations

import itertools

import pytest

from authsvc.store.fanout import RESYNC, Event, Fanout


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_events_reach_exactly_the_open_listeners_whatever_the_closing_order(
    order: tuple[int, ...],
) -> None:
    """Three listeners on one ticket closed one by one, in every order: after each close an
    event reaches the others, once each; the last close leaves nothing registered."""
    fanout = Fanout()
    got: list[list[Event]] = [[], [], []]
    listeners = [fanout.listen("t", got[n].append) for n in range(3)]
    other = fanout.listen("u", got[0].append)
    open_ = {0, 1, 2}
    for step, n in enumerate(order):
        listeners[n].close()
        open_.discard(n)
        fanout.deliver("t", {"step": step})
        for m in range(3):
            assert [e for e in got[m] if e.get("step") == step] == (
                [{"step": step}] if m in open_ else []
            )
        assert fanout.count() == len(open_) + 1
    assert not fanout.has("t") and fanout.has("u")
    other.close()
    assert fanout.count() == 0 and not fanout.has("u")


def test_resync_and_close_all_reach_single_and_shared_subscribers() -> None:
    """resync_all tells every listener (alone on its ticket or not); close_all ends them all."""
    fanout = Fanout()
    got: list[Event] = []
    for ticket_id in ("a", "b", "b"):
        fanout.listen(ticket_id, got.append)
    sub = fanout.subscribe("c", maxsize=4)
    fanout.resync_all()
    assert got == [RESYNC] * 3 and sub.queue.get_nowait() == RESYNC
    fanout.close_all()
    assert fanout.count() == 0 and sub.closed
