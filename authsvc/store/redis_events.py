"""Ticket events from Redis to this process's listeners (a Fanout).

Events are routed to the processes that hold a ticket's listeners, each on a channel of its
own (store/redis.py). One Redis: ONE connection SUBSCRIBEd to this process's channel. A Redis
Cluster: ONE connection per master, SSUBSCRIBEd (sharded pub/sub, Redis ≥ 7) to this process's
channels of the shards whose slots that master serves. Either way a reader task pumps
messages; when a connection fails, when a master stops serving a slot (Redis tells its
subscribers with an unsolicited `sunsubscribe`) or when a node fails over, every connection is
rebuilt against the current topology and then every listener is told to resync (read its
ticket again, which also makes this process one of its holders again): an event published in
the gap is never lost to a browser, it is replaced by the ticket's current state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis import exceptions as rx
from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection, Connection

from authsvc.store.keys import key_slot
from authsvc.store.resp_cluster import LeanCluster

log = logging.getLogger(__name__)

NET_ERRORS: tuple[type[Exception], ...] = (rx.ConnectionError, rx.TimeoutError, OSError)
_REOPEN_ERRORS: tuple[type[Exception], ...] = (
    *NET_ERRORS,
    rx.RedisClusterException,
    rx.ResponseError,
)
IDLE_PING = 5.0  # seconds of silence before a PING; no answer by the next one = dead
BACKOFF_FIRST = 0.05
BACKOFF_MAX = 2.0

Dispatch = Callable[[str, str], None]  # (channel, message)
Opener = Callable[[], Awaitable[list[AbstractConnection]]]


class TopologyChanged(Exception):
    """A master stopped serving one of our shard channels."""


async def _subscribe(conn: AbstractConnection, command: str, channels: Sequence[str]) -> None:
    """Send (S)SUBSCRIBE and wait for every confirmation. One SSUBSCRIBE may only name channels
    of one slot, so each channel gets its own (pipelined) command."""
    for channel in channels:
        await conn.send_command(command, channel)
    kind = command.lower()
    for _ in channels:
        reply = await conn.read_response()
        if not isinstance(reply, list) or reply[0] != kind or reply[1] not in channels:
            raise rx.ConnectionError(f"unexpected {command} reply: {reply!r}")


async def _disconnect(conn: AbstractConnection) -> None:
    with contextlib.suppress(*NET_ERRORS):
        await conn.disconnect(nowait=True)


class EventReader:
    """Owns the subscriber connections and the task reading them."""

    def __init__(self, opener: Opener, dispatch: Dispatch, resync: Callable[[], None]) -> None:
        self._open = opener
        self._dispatch = dispatch
        self._resync = resync
        self._conns: list[AbstractConnection] = []
        self._task: asyncio.Task[None] | None = None
        self.rebuilds = 0

    async def start(self, name: str) -> None:
        """Returns once every channel is subscribed: subscribe-then-read misses nothing."""
        self._conns = await self._open()
        self._task = asyncio.create_task(self._run(), name=name)

    @property
    def connections(self) -> int:
        return len(self._conns)

    async def _run(self) -> None:
        while True:
            pumps = [asyncio.create_task(self._pump(conn)) for conn in self._conns]
            try:
                done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in pumps:
                    task.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
            for task in done:
                exc = None if task.cancelled() else task.exception()
                if isinstance(exc, (*NET_ERRORS, TopologyChanged)):
                    log.warning("redis event connection lost (%s); resubscribing", exc)
                else:
                    log.error("redis event reader failed; resubscribing", exc_info=exc)
            await self._drop()
            self._conns = await self._reopen()
            self.rebuilds += 1
            self._resync()

    async def _reopen(self) -> list[AbstractConnection]:
        delay = BACKOFF_FIRST
        while True:
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            try:
                conns = await self._open()
            except _REOPEN_ERRORS as exc:
                log.warning("redis event resubscribe failed: %s", exc)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            log.info("redis event connections restored; listeners resync")
            return conns

    async def _pump(self, conn: AbstractConnection) -> None:
        """Read until the connection fails; PING when idle to notice a silent drop."""
        awaiting_pong = False
        while True:
            reply = await conn.read_response(timeout=IDLE_PING)
            if reply is None:
                if awaiting_pong:
                    raise rx.TimeoutError("no PING reply on the event connection")
                await conn.send_command("PING")
                awaiting_pong = True
                continue
            awaiting_pong = False
            self._handle(reply)

    def _handle(self, reply: Any) -> None:
        if not isinstance(reply, list) or not reply:
            return
        kind = reply[0]
        if kind in ("message", "smessage") and len(reply) == 3:
            self._dispatch(str(reply[1]), str(reply[2]))
        elif kind in ("sunsubscribe", "unsubscribe"):
            raise TopologyChanged(f"{kind} {reply[1]!r}")

    async def _drop(self) -> None:
        conns, self._conns = self._conns, []
        for conn in conns:
            await _disconnect(conn)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drop()


def single_opener(
    pool: ConnectionPool, channel: str, on_client_id: Callable[[int], None]
) -> Opener:
    """One connection of its own (made like the pool's), SUBSCRIBEd to this process's channel."""

    async def open_one() -> list[AbstractConnection]:
        conn: AbstractConnection = pool.connection_class(**pool.connection_kwargs)
        try:
            await conn.connect()  # type: ignore[no-untyped-call]
            await conn.send_command("CLIENT", "ID")
            on_client_id(int(await conn.read_response()))
            await _subscribe(conn, "SUBSCRIBE", [channel])
        except BaseException:
            await _disconnect(conn)
            raise
        return [conn]

    return open_one


def sharded_opener(cluster: LeanCluster, channels: Sequence[str], **conn_args: Any) -> Opener:
    """One connection per master, SSUBSCRIBEd to the shard channels it serves right now."""

    async def open_all() -> list[AbstractConnection]:
        await cluster.refresh()  # the topology as it is now
        by_node: dict[tuple[str, int], list[str]] = {}
        for channel in channels:
            by_node.setdefault(cluster.node_of(key_slot(channel)), []).append(channel)
        conns: list[AbstractConnection] = []
        try:
            for (host, port), served in by_node.items():
                conn: AbstractConnection = Connection(host=host, port=port, **conn_args)
                conns.append(conn)
                await conn.connect()  # type: ignore[no-untyped-call]
                await _subscribe(conn, "SSUBSCRIBE", served)
        except BaseException:
            for conn in conns:
                await _disconnect(conn)
            raise
        return conns

    return open_all
