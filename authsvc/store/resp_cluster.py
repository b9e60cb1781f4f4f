"""A lean client for a Redis Cluster: LeanRedis (store/resp.py) to each master, and every
command sent to the master that serves its key's slot, by a slot map read with CLUSTER SLOTS.

A pipeline's commands go to their masters at once, one write each, and come back in order. A
MULTI … EXEC block and a script go whole to the master of their first key (the store keeps each
on one slot). A MOVED reply (the slot has moved: the command was not executed) sends the command
to the master it names and corrects the map, which is read again in the background; an ASK
reply (the slot is being migrated and the key is already there) sends it once to the node it
names, after ASKING. At most MAX_REDIRECTS of either per command. Nothing else is tried again:
a command whose connection fails or times out fails, as on one Redis (its master may have run
it), and the map is read again for the commands that follow, so a failed-over master's replica
is found once the cluster has promoted it.

redis-py's cluster client costs about three times this one's CPU per command (`python -m
bench.redis_client`; its routing, retries and a task per command's timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from redis import exceptions as rx
from redis.connection import parse_url

from authsvc.store.keys import SLOTS, key_slot
from authsvc.store.resp import Command, LeanRedis, RespCommands

log = logging.getLogger(__name__)

Address = tuple[str, int]
MAX_REDIRECTS = 5
_KEYLESS = frozenset({"PING", "MULTI", "EXEC", "DISCARD", "ASKING", "CLUSTER", "INFO"})
_SCRIPTS = frozenset({"EVAL", "EVALSHA"})


def command_slot(command: Command) -> int | None:
    """The slot of the command's (first) key; None for a command without one."""
    name = str(command[0]).upper()
    if name in _SCRIPTS:
        return key_slot(str(command[3])) if int(command[2]) > 0 else None
    if name in _KEYLESS or len(command) < 2:
        return None
    return key_slot(str(command[1]))


def units(commands: Sequence[Command]) -> list[list[int]]:
    """The commands' indexes in sending units: a MULTI … EXEC block is one, any other command
    is one of its own."""
    found: list[list[int]] = []
    block: list[int] | None = None
    for index, command in enumerate(commands):
        name = str(command[0]).upper()
        if block is not None:
            block.append(index)
            if name in ("EXEC", "DISCARD"):
                found.append(block)
                block = None
        elif name == "MULTI":
            block = [index]
        else:
            found.append([index])
    if block is not None:
        raise rx.DataError("MULTI without EXEC")
    return found


def slot_owners(reply: list[Any], seed_host: str) -> list[Address | None]:
    """CLUSTER SLOTS → the master's address for each slot (None where no master serves it)."""
    owners: list[Address | None] = [None] * SLOTS
    for start, end, master, *_ in reply:
        address = (str(master[0]) or seed_host, int(master[1]))
        owners[int(start) : int(end) + 1] = [address] * (int(end) + 1 - int(start))
    return owners


class _Unit:
    """A sending unit's commands, where they go next and how often they were redirected."""

    __slots__ = ("asking", "indexes", "redirects", "slot", "to")

    def __init__(self, indexes: list[int], slot: int | None) -> None:
        self.indexes = indexes
        self.slot = slot
        self.to: Address | None = None  # set by a redirection
        self.asking = False
        self.redirects = 0


class LeanCluster(RespCommands):
    """RespCommands on a Redis Cluster (redis://: the seed node's address and credentials)."""

    def __init__(
        self, url: str, *, socket_timeout: float = 2.0, socket_connect_timeout: float = 2.0
    ) -> None:
        if not LeanRedis.accepts(url):
            raise ValueError(f"LeanCluster speaks plain TCP (redis://), not {urlsplit(url).scheme}")
        parts: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]
        self._seed: Address = (parts.get("host", "localhost"), parts.get("port", 6379))
        self._credentials = _credentials(parts.get("username"), parts.get("password"))
        self._timeouts = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": socket_connect_timeout,
        }
        self._owners: list[Address | None] = []
        self._masters: tuple[Address, ...] = ()  # as of the last read of the map
        self._nodes: dict[Address, LeanRedis] = {}
        self._reading: asyncio.Task[None] | None = None

    # The slot map

    async def initialize(self) -> None:
        """Read the slot map (also done by the first command)."""
        await self.refresh()

    async def refresh(self) -> None:
        """Read the slot map now (one read at a time: callers meanwhile share it)."""
        await asyncio.shield(self._refresh_soon())

    def _refresh_soon(self) -> asyncio.Task[None]:
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read_map())
            self._reading.add_done_callback(self._map_read)
        return self._reading

    def _map_read(self, task: asyncio.Task[None]) -> None:
        self._reading = None
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("reading the Redis Cluster's slot map failed: %s", exc)

    async def _read_map(self) -> None:
        error: Exception = rx.ConnectionError("no Redis Cluster node to ask for the slot map")
        for address in dict.fromkeys([*self._masters, self._seed]):
            try:
                reply = await self._node(address).execute_command("CLUSTER", "SLOTS")
            except (rx.ConnectionError, rx.TimeoutError, rx.ResponseError) as exc:
                error = exc
                continue
            self._owners = slot_owners(reply, address[0])
            self._masters = tuple(dict.fromkeys(a for a in self._owners if a is not None))
            await self._close_unused()
            return
        raise error

    async def _close_unused(self) -> None:
        serving = {*self._masters, self._seed}
        for address in [a for a in self._nodes if a not in serving]:
            await self._nodes.pop(address).aclose()

    def node_of(self, slot: int) -> Address:
        """The master serving `slot` by the map as last read."""
        owner = self._owners[slot] if self._owners else None
        if owner is None:
            raise rx.SlotNotCoveredError(f"no master serves slot {slot}")
        return owner

    def _node(self, address: Address) -> LeanRedis:
        node = self._nodes.get(address)
        if node is None:
            url = f"redis://{self._credentials}{address[0]}:{address[1]}"
            node = self._nodes[address] = LeanRedis(url, **self._timeouts)
        return node

    def _address(self, unit: _Unit) -> Address:
        if unit.to is not None:
            return unit.to
        if unit.slot is None:
            return self._masters[0] if self._masters else self._seed
        return self.node_of(unit.slot)

    # Sending

    async def send(self, commands: Sequence[Command]) -> list[Any]:
        if not self._owners:
            await self.refresh()
        replies: list[Any] = [None] * len(commands)
        waiting = [_Unit(i, _unit_slot(commands, i)) for i in units(commands)]
        while waiting:
            waiting = await self._send_units(commands, waiting, replies)
        return replies

    async def _send_units(
        self, commands: Sequence[Command], waiting: list[_Unit], replies: list[Any]
    ) -> list[_Unit]:
        """Send each unit to its node (one write per node), place the replies; the units
        redirected, to send again."""
        by_node: dict[Address, list[_Unit]] = {}
        for unit in waiting:
            by_node.setdefault(self._address(unit), []).append(unit)
        sent: list[tuple[list[_Unit], asyncio.Future[list[Any]]]] = []
        failure: BaseException | None = None
        for address, node_units in by_node.items():
            batch = [c for u in node_units for c in _with_asking(u, commands)]
            try:  # the other masters' commands still go, and their futures are awaited
                sent.append((node_units, await self._node(address).queue(batch)))
            except (rx.ConnectionError, rx.TimeoutError) as exc:
                failure = failure or exc
        again: list[_Unit] = []
        for node_units, future in sent:
            try:
                answered = iter(await future)
            except (rx.ConnectionError, rx.TimeoutError) as exc:
                failure = failure or exc
                continue
            for unit in node_units:
                if unit.asking:
                    next(answered)
                unit_replies = [next(answered) for _ in unit.indexes]
                if self._redirected(unit, unit_replies):
                    again.append(unit)
                else:
                    for index, reply in zip(unit.indexes, unit_replies, strict=True):
                        replies[index] = reply
        if failure is not None:
            self._refresh_soon()
            raise failure
        return again

    def _redirected(self, unit: _Unit, unit_replies: list[Any]) -> bool:
        """Whether a reply sends the unit elsewhere (and where: set on the unit). A block whose
        keys are in other slots than its first is not: it cannot run on any one master."""
        redirect = next((r for r in unit_replies if isinstance(r, rx.AskError)), None)
        if redirect is None:
            return False
        to = (str(redirect.host), int(redirect.port))
        moved = isinstance(redirect, rx.MovedError)
        if moved:
            if self._owners:
                self._owners[int(redirect.slot_id)] = to
            self._refresh_soon()
        if int(redirect.slot_id) != unit.slot or unit.redirects >= MAX_REDIRECTS:
            return False
        unit.redirects += 1
        unit.to, unit.asking = to, not moved
        return True

    async def aclose(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reading
        nodes, self._nodes = self._nodes, {}
        for node in nodes.values():
            await node.aclose()


def _unit_slot(commands: Sequence[Command], indexes: list[int]) -> int | None:
    return next((slot for i in indexes if (slot := command_slot(commands[i])) is not None), None)


def _with_asking(unit: _Unit, commands: Sequence[Command]) -> list[Command]:
    own = [commands[i] for i in unit.indexes]
    return [("ASKING",), *own] if unit.asking else own


def _credentials(username: str | None, password: str | None) -> str:
    if password is None:
        return ""
    user = quote(username, safe="") if username else ""
    return f"{user}:{quote(password, safe='')}@"
