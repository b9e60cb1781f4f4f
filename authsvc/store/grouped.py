"""Durable writes committed in groups, off the event loop: `add` returns once a batch holding
its item has been written; the items that arrive while one batch is written go into the next.
So a burst of audit records costs one trip to a worker thread, not one each."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class GroupWriter:
    def __init__(self, write: Callable[[list[str]], None]) -> None:
        """`write` stores a batch, in a worker thread; raising fails every caller of that batch."""
        self._write = write
        self._queued: list[str] = []
        self._queued_done: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None

    async def add(self, item: str) -> None:
        self._queued.append(item)
        if self._queued_done is None:
            self._queued_done = asyncio.get_running_loop().create_future()
        written = self._queued_done
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain())
        await asyncio.shield(written)

    async def _drain(self) -> None:
        """Write what is queued, batch by batch, until nothing is (a task of its own: a
        cancelled caller never strands the items queued behind its own)."""
        try:
            while self._queued_done is not None:
                batch, written = self._queued, self._queued_done
                self._queued, self._queued_done = [], None
                try:
                    await asyncio.to_thread(self._write, batch)
                except Exception as exc:
                    written.set_exception(exc)
                else:
                    written.set_result(None)
        finally:
            self._writer = None

    async def flush(self) -> None:
        if self._writer is not None:
            await self._writer
