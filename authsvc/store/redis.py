"""The shared store: Redis, so that several broker processes see the same tickets.

Keys (all under `prefix`):
  t:{id}   a ticket, as a hash (codec.to_fields), expiring with PEXPIRE
  v:{key}  a value, as a JSON string
  o:{key}  an `add_once` marker
  h:{key}  a `hit` counter
  card:{person:P}:N        an e-card record (JSON); card:{person:P}:current its number
  cardidx:N                which person card N belongs to (for lookups by number alone)
  audit    the audit stream (one JSON field `r` per entry)
  events   the one pub/sub channel; a message is "{ticket_id} {json}"

Each RedisStore holds ONE pub/sub connection, read by a background task that hands events
to local subscribers (a Fanout). If that connection drops, the task reconnects with backoff
and then tells every local subscriber to resync: events in the gap may be lost.

Commands are never retried by the client: a retried GETDEL, INCR or compare-and-set whose
first reply was lost would take, count or refuse twice. A dead Redis is an errors.Unavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
from collections.abc import Callable, Collection, Iterator
from importlib import resources
from typing import Any, cast

from redis import exceptions as rx
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from authsvc import errors
from authsvc.core.tickets import Ticket
from authsvc.store import codec
from authsvc.store.fanout import Event, Fanout, Listener, LocalSubscription

log = logging.getLogger(__name__)

_NET_ERRORS: tuple[type[BaseException], ...] = (rx.ConnectionError, rx.TimeoutError, OSError)
_AUDIT_MAXLEN = 100_000
_IDLE_PING = 5.0  # seconds of pub/sub silence before a PING; no answer by the next one = dead
_BACKOFF_FIRST = 0.05
_BACKOFF_MAX = 2.0
CARD_TTL = 10 * 365 * 24 * 3600.0  # e-card records live for years


def _ms(seconds: float) -> int:
    """A TTL in whole milliseconds, at least 1 (Redis refuses 0)."""
    return max(1, math.ceil(seconds * 1000))


def _lua(name: str) -> str:
    path = resources.files("authsvc.store") / "lua" / name
    return path.read_text(encoding="utf-8")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@contextlib.contextmanager
def _guard(operation: str) -> Iterator[None]:
    """Redis unreachable or too slow → errors.Unavailable (a clean 503)."""
    try:
        yield
    except _NET_ERRORS as exc:
        raise errors.Unavailable(f"redis {operation}: {exc}") from exc


class RedisStore:
    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "qrauth:",
        socket_timeout: float = 2.0,
        connect_timeout: float = 2.0,
        max_connections: int = 1024,
    ) -> None:
        """No I/O here: `connect()` is the way in; a bare instance has no event reader."""
        # redis-py's default pool refuses the 101st concurrent command ("Too many connections");
        # a broker under a burst of reconnecting browsers needs more room than that.
        pool = ConnectionPool.from_url(
            url,
            max_connections=max_connections,
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
            protocol=2,
        )
        self._redis: Redis = Redis.from_pool(pool)  # owns the pool: aclose() disconnects it
        self._prefix = prefix
        self._channel = f"{prefix}events"
        self._fanout = Fanout()
        self._replace = self._redis.register_script(_lua("replace_ticket.lua"))
        self._commit = self._redis.register_script(_lua("commit_transition.lua"))
        self._hit = self._redis.register_script(_lua("hit.lua"))
        self._take_leaving = self._redis.register_script(_lua("take_leaving.lua"))
        self._issue_card = self._redis.register_script(_lua("issue_card.lua"))
        self._set_card_status = self._redis.register_script(_lua("set_card_status.lua"))
        self._conn: AbstractConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pubsub_client_id: int | None = None

    @classmethod
    async def connect(cls, url: str, *, prefix: str = "qrauth:") -> RedisStore:
        """Returns once the event channel is subscribed: subscribe-then-read misses nothing."""
        store = cls(url, prefix=prefix)
        try:
            await store.start()
        except BaseException:
            await store.close()
            raise
        return store

    async def start(self) -> None:
        with _guard("subscribe"):
            self._conn = await self._open_pubsub()
        self._reader = asyncio.create_task(self._read_events(), name=f"redis-events:{self._prefix}")

    @property
    def pubsub_client_id(self) -> int | None:
        """The Redis CLIENT ID of the pub/sub connection (diagnostics and tests)."""
        return self._pubsub_client_id

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}{kind}:{name}"

    # Tickets

    async def create_ticket(self, ticket: Ticket, *, ttl: float) -> None:
        key = self._key("t", ticket.id)
        with _guard("create_ticket"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                fields: dict[Any, Any] = codec.to_fields(ticket)
                pipe.hset(key, mapping=fields)
                pipe.pexpire(key, _ms(ttl))
                await pipe.execute()

    async def get_ticket(self, ticket_id: str) -> Ticket | None:
        with _guard("get_ticket"):
            fields = cast("dict[str, str]", await self._redis.hgetall(self._key("t", ticket_id)))
        return codec.from_fields(fields) if fields else None

    async def replace_ticket(self, new: Ticket, *, expected_version: int, ttl: float) -> bool:
        args: list[str | int] = [str(expected_version), _ms(ttl)]
        for field, value in codec.to_fields(new).items():
            args += [field, value]
        with _guard("replace_ticket"):
            replaced = await self._replace(keys=[self._key("t", new.id)], args=args)
        return bool(replaced)

    async def commit_transition(
        self, new: Ticket, *, expected_version: int, ttl: float, event: Event, audit: dict[str, Any]
    ) -> bool:
        if " " in new.id:
            raise ValueError(f"ticket id with a space: {new.id!r}")
        args: list[str | int] = [
            str(expected_version),
            _ms(ttl),
            self._channel,
            f"{new.id} {_dumps(event)}",
            _dumps(audit),
            _AUDIT_MAXLEN,
        ]
        for field, value in codec.to_fields(new).items():
            args += [field, value]
        keys = [self._key("t", new.id), f"{self._prefix}audit"]
        with _guard("commit_transition"):
            committed = await self._commit(keys=keys, args=args)
        return bool(committed)

    # Values

    async def put_value(self, key: str, value: dict[str, Any], *, ttl: float) -> None:
        with _guard("put_value"):
            await self._redis.set(self._key("v", key), _dumps(value), px=_ms(ttl))

    async def get_value(self, key: str) -> dict[str, Any] | None:
        with _guard("get_value"):
            raw = cast("str | None", await self._redis.get(self._key("v", key)))
        return _loads_value(raw)

    async def take_value(self, key: str) -> dict[str, Any] | None:
        with _guard("take_value"):
            raw = cast("str | None", await self._redis.getdel(self._key("v", key)))
        return _loads_value(raw)

    async def take_value_leaving(
        self, key: str, marker_key: str, marker: dict[str, Any], *, ttl: float
    ) -> dict[str, Any] | None:
        keys = [self._key("v", key), self._key("v", marker_key)]
        with _guard("take_value_leaving"):
            raw = await self._take_leaving(keys=keys, args=[_dumps(marker), _ms(ttl)])
        return _loads_value(cast("str | None", raw or None))

    async def delete_value(self, key: str) -> None:
        with _guard("delete_value"):
            await self._redis.delete(self._key("v", key))

    async def add_once(self, key: str, *, ttl: float) -> bool:
        with _guard("add_once"):
            added = await self._redis.set(self._key("o", key), "1", nx=True, px=_ms(ttl))
        return bool(added)

    async def hit(self, key: str, *, window: float) -> int:
        with _guard("hit"):
            count = await self._hit(keys=[self._key("h", key)], args=[_ms(window)])
        return int(count)

    # E-cards: every key of one person under the hash tag {person:P}

    def _card_key(self, person: str, card_no: str) -> str:
        return f"{self._prefix}card:{{person:{person}}}:{card_no}"

    async def issue_card(
        self, person: str, card: dict[str, Any], *, expected: str, now: float
    ) -> str:
        card_no = str(card["card_no"])
        keys = [
            self._card_key(person, "current"),
            self._card_key(person, card_no),
            self._card_key(person, expected or card_no),
        ]
        args: list[str | int | float] = [expected, _dumps(card), card_no, _ms(CARD_TTL), now]
        with _guard("issue_card"):
            # The index only helps lookups by number; written first, it is harmless if orphaned.
            await self._redis.set(self._key("cardidx", card_no), person, px=_ms(CARD_TTL))
            outcome = await self._issue_card(keys=keys, args=args)
        return str(outcome)

    async def get_card(self, card_no: str, *, person: str = "") -> dict[str, Any] | None:
        with _guard("get_card"):
            if not person:
                person = cast("str", await self._redis.get(self._key("cardidx", card_no)) or "")
                if not person:
                    return None
            raw = cast("str | None", await self._redis.get(self._card_key(person, card_no)))
        return _loads_value(raw)

    async def current_card(self, person: str) -> dict[str, Any] | None:
        with _guard("current_card"):
            card_no = cast("str | None", await self._redis.get(self._card_key(person, "current")))
        return await self.get_card(card_no, person=person) if card_no else None

    async def set_card_status(
        self,
        card_no: str,
        status: str,
        *,
        allowed: Collection[str],
        reason: str,
        now: float,
    ) -> dict[str, Any] | None:
        with _guard("set_card_status"):
            person = cast("str", await self._redis.get(self._key("cardidx", card_no)) or "")
            if not person:
                return None
            args: list[str | int | float] = [status, reason, now, _ms(CARD_TTL), *allowed]
            raw = await self._set_card_status(keys=[self._card_key(person, card_no)], args=args)
        return _loads_value(cast("str | None", raw))

    # Events

    async def publish(self, ticket_id: str, event: Event) -> None:
        if " " in ticket_id:
            raise ValueError(f"ticket id with a space: {ticket_id!r}")
        with _guard("publish"):
            await self._redis.publish(self._channel, f"{ticket_id} {_dumps(event)}")

    def subscribe(self, ticket_id: str, *, maxsize: int = 16) -> LocalSubscription:
        return self._fanout.subscribe(ticket_id, maxsize)

    def listen(self, ticket_id: str, callback: Callable[[Event], None]) -> Listener:
        return self._fanout.listen(ticket_id, callback)

    def subscriber_count(self) -> int:
        return self._fanout.count()

    async def _open_pubsub(self) -> AbstractConnection:
        """A dedicated connection, SUBSCRIBEd and confirmed."""
        # redis-py wraps get_connection in an untyped deprecation decorator.
        pool = self._redis.connection_pool
        conn: AbstractConnection = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            await conn.send_command("CLIENT", "ID")
            self._pubsub_client_id = int(await conn.read_response())
            await conn.send_command("SUBSCRIBE", self._channel)
            reply = await conn.read_response()
            if not isinstance(reply, list) or reply[:2] != ["subscribe", self._channel]:
                raise rx.ConnectionError(f"unexpected SUBSCRIBE reply: {reply!r}")
        except BaseException:
            await self._release(conn)
            raise
        return conn

    async def _release(self, conn: AbstractConnection) -> None:
        with contextlib.suppress(*_NET_ERRORS):
            await conn.disconnect(nowait=True)
        await self._redis.connection_pool.release(conn)

    async def _read_events(self) -> None:
        """Forever: pump events; when the connection fails, reconnect, then resync everyone."""
        while True:
            assert self._conn is not None
            try:
                await self._pump(self._conn)
            except _NET_ERRORS as exc:
                log.warning("redis event connection lost: %s", exc)
            except Exception:
                log.exception("redis event reader failed; reconnecting")
            conn, self._conn = self._conn, None
            await self._release(conn)
            self._conn = await self._reconnect()
            self._fanout.resync_all()

    async def _reconnect(self) -> AbstractConnection:
        delay = _BACKOFF_FIRST
        while True:
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            try:
                conn = await self._open_pubsub()
            except _NET_ERRORS as exc:
                log.warning("redis event reconnect failed: %s", exc)
                delay = min(delay * 2, _BACKOFF_MAX)
                continue
            log.info("redis event connection restored; subscribers resync")
            return conn

    async def _pump(self, conn: AbstractConnection) -> None:
        """Read messages until the connection fails; PING when idle to notice a silent drop."""
        awaiting_pong = False
        while True:
            reply = await conn.read_response(timeout=_IDLE_PING)
            if reply is None:
                if awaiting_pong:
                    raise rx.TimeoutError("no PING reply on the event connection")
                await conn.send_command("PING")
                awaiting_pong = True
                continue
            awaiting_pong = False
            self._dispatch(reply)

    def _dispatch(self, reply: Any) -> None:
        if not isinstance(reply, list) or len(reply) != 3 or reply[0] != "message":
            return
        ticket_id, _, body = str(reply[2]).partition(" ")
        if not self._fanout.has(ticket_id):
            return
        try:
            event = json.loads(body)
        except ValueError:
            log.warning("dropping a malformed event for ticket %s", ticket_id)
            return
        self._fanout.deliver(ticket_id, event)

    # Audit

    async def audit(self, record: dict[str, Any]) -> None:
        with _guard("audit"):
            await self._redis.xadd(
                f"{self._prefix}audit",
                {"r": _dumps(record)},
                maxlen=_AUDIT_MAXLEN,
                approximate=True,
            )

    async def audit_records(self, limit: int = 100) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        with _guard("audit_records"):
            entries = cast(
                "list[tuple[str, dict[str, str]]]",
                await self._redis.xrevrange(f"{self._prefix}audit", count=limit),
            )
        return [json.loads(fields["r"]) for _, fields in reversed(entries)]

    # Lifecycle

    async def ping(self) -> None:
        with _guard("ping"):
            await self._redis.ping()

    async def close(self) -> None:
        self._fanout.close_all()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await self._release(conn)
        await self._redis.aclose()


def _loads_value(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    value: dict[str, Any] = json.loads(raw)
    return value
