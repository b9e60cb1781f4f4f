"""TicketStream (authsvc/push.py): a slow socket never makes the fan-out wait."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from authsvc.core import tickets
from authsvc.core.tickets import Identity, Lifetimes
from authsvc.http.ws import TicketStream
from authsvc.metrics import Metrics

NOW = 1_800_000_000.0


class StuckSocket:
    """A browser that stopped reading: every send waits until released."""

    def __init__(self) -> None:
        self.closed = False
        self.sent: list[str] = []
        self.release = asyncio.Event()

    async def send_str(self, text: str) -> None:
        await self.release.wait()
        self.sent.append(text)

    async def close(self, **_: Any) -> None:
        self.closed = True


class FakeBroker:
    def __init__(self, ticket: tickets.Ticket) -> None:
        self.ticket = ticket
        self.loads = 0
        self.metrics = Metrics()

    def now(self) -> float:
        return NOW

    async def load(self, ticket_id: str) -> tickets.Ticket:
        self.loads += 1
        return self.ticket


def a_ticket() -> tickets.Ticket:
    return tickets.create(
        client_id="hall",
        identity=Identity.PERSONAL,
        browser_ip="127.0.0.1",
        browser_ua="x",
        browser_secret="s",
        now=NOW,
        lifetimes=Lifetimes(),
    )


async def test_backlog_is_bounded_and_replaced_by_one_read() -> None:
    """Events for a stuck socket are taken without waiting; past the bound they become a reload."""
    ticket = a_ticket()
    broker, ws = FakeBroker(ticket), StuckSocket()
    stream = TicketStream(broker, ws, ticket.id)  # type: ignore[arg-type]
    stream.start(ticket)
    for version in range(2, 60):
        stream.on_event({**tickets.event(ticket), "version": version})  # returns at once
        assert len(stream.backlog) <= TicketStream.MAX_BACKLOG
    await asyncio.sleep(0)
    assert broker.loads >= 1
    stream.stop()


async def test_events_arriving_before_the_snapshot_are_not_lost() -> None:
    """An event between subscribing and reading the ticket is delivered after the snapshot."""
    ticket = a_ticket()
    broker, ws = FakeBroker(ticket), StuckSocket()
    stream = TicketStream(broker, ws, ticket.id)  # type: ignore[arg-type]
    later = {**tickets.event(ticket), "state": "scanned", "version": ticket.version + 1}
    stream.on_event(later)
    stream.start(ticket)
    ws.release.set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert ['"pending"' in ws.sent[0], '"scanned"' in ws.sent[1]] == [True, True]
    stream.stop()


class OpenSocket(StuckSocket):
    """A browser that reads everything at once."""

    def __init__(self) -> None:
        super().__init__()
        self.release.set()


def expiring_ticket(seconds: float) -> tickets.Ticket:
    ticket = a_ticket()
    return dataclasses.replace(ticket, expires_at=NOW + seconds)


async def test_a_pending_ticket_is_read_again_once_it_is_due() -> None:
    """The stream rereads its ticket when it expires (so the browser is told), and not before."""
    ticket = expiring_ticket(0.2)
    broker, ws = FakeBroker(ticket), OpenSocket()
    stream = TicketStream(broker, ws, ticket.id)  # type: ignore[arg-type]
    stream.start(ticket)
    await asyncio.sleep(0.1)
    assert broker.loads == 0
    await asyncio.sleep(0.4)
    assert broker.loads == 1
    stream.stop()


async def test_a_stopped_stream_is_not_read_again() -> None:
    """stop() cancels the expiry: a closed socket's ticket is never reread."""
    ticket = expiring_ticket(0.05)
    broker, ws = FakeBroker(ticket), OpenSocket()
    stream = TicketStream(broker, ws, ticket.id)  # type: ignore[arg-type]
    stream.start(ticket)
    stream.stop()
    await asyncio.sleep(0.3)
    assert broker.loads == 0


async def test_an_idle_stream_holds_no_backlog_task_or_early_list() -> None:
    """Once its first state is sent, a stream keeps no queue, no tasks and no early events:
    idle sockets are many, and each one's memory is what the bench's ws_idle_kib counts."""
    ticket = a_ticket()
    broker, ws = FakeBroker(ticket), OpenSocket()
    stream = TicketStream(broker, ws, ticket.id)  # type: ignore[arg-type]
    stream.start(ticket)
    for _ in range(5):
        await asyncio.sleep(0)
    stream.on_event({"resync": True})  # a reload task, done once the ticket is read
    for _ in range(5):
        await asyncio.sleep(0)
    assert (len(ws.sent), broker.loads) == (1, 1)
    assert (stream.backlog, stream.sender, stream.tasks, stream.early) == ([], None, None, None)
    assert not hasattr(stream, "__dict__")
    stream.stop()


async def test_a_resync_before_anything_was_sent_still_sends_the_current_state() -> None:
    """A resync clears what was queued but not sent; the fresh read is then sent even though
    its version equals one that was queued (it never reached the browser)."""
    ticket = a_ticket()
    broker, ws = FakeBroker(ticket), StuckSocket()
    stream = TicketStream(broker, ws, ticket.id)  # type: ignore[arg-type]
    stream.start(ticket)  # `pending` queued; the socket is stuck, so nothing is sent yet
    stream.on_event({"resync": True})
    for _ in range(10):
        await asyncio.sleep(0)
    ws.release.set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert broker.loads == 1 and len(ws.sent) == 1 and '"pending"' in ws.sent[0]
    stream.stop()


async def test_an_older_read_is_not_sent_after_a_newer_event() -> None:
    """A reload that read the ticket before a newer event arrived does not send it after."""
    ticket = a_ticket()
    broker, ws = FakeBroker(ticket), OpenSocket()
    stream = TicketStream(broker, ws, ticket.id)  # type: ignore[arg-type]
    stream.start(ticket)
    newer = {**tickets.event(ticket), "state": "scanned", "version": ticket.version + 1}
    stream.on_event(newer)
    for _ in range(10):
        await asyncio.sleep(0)
    stream.expire()  # reads the (stale) pending ticket the fake broker still holds
    for _ in range(10):
        await asyncio.sleep(0)
    assert [('"scanned"' in text) for text in ws.sent] == [False, True]
    stream.stop()
