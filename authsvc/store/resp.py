"""A lean client for one Redis: one connection; the commands made in one turn of the event loop,
by however many requests, go out in one write, and each reply is matched to its caller in order
(Redis answers in order).

RedisStore uses it on one Redis in place of redis-py's `Redis`, with the same method names and
the same replies for the commands the store sends (redis-py stays for pub/sub; a Redis Cluster
goes through store/resp_cluster.py, a LeanRedis to each master).
redis-py's per-command path (pool checkout, retry wrapper, a timeout task, observability hooks)
costs about twice the CPU per GET of this one's, and three times per pipeline (`python -m
bench.redis_client`); under load, one write for many requests' commands saves more (`python -m
bench.ab`: bench/README.md). Its errors are redis-py's: ConnectionError, TimeoutError, and for
an error reply the class redis-py's own parser gives it (BusyLoadingError for LOADING,
AuthenticationError for NOAUTH, ReadOnlyError for READONLY, …, else ResponseError); like the
store's redis-py clients it never retries a command.

A connection whose oldest unanswered command has waited `socket_timeout` is closed, and every
command waiting on it fails with TimeoutError; the next command opens a new connection.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import hiredis
from redis import exceptions as rx
from redis._parsers.base import BaseParser
from redis.connection import parse_url

Command = tuple[Any, ...]
Convert = Callable[[Any], Any]
T = TypeVar("T")
# An error reply's exception, by its prefix, as redis-py's own hiredis parser makes it.
_reply_error: Callable[[str], rx.RedisError] = BaseParser.parse_error


def _same(reply: Any) -> Any:
    return reply


def _text(reply: str | None) -> str | None:
    return reply


def _texts(reply: list[str | None]) -> list[str | None]:
    return reply


def _pong(reply: str) -> bool:
    return reply == "PONG"


def _ok(reply: Any) -> bool | None:
    return True if reply == "OK" else None


def _pairs(reply: list[str]) -> dict[str, str]:
    return dict(zip(reply[::2], reply[1::2], strict=True))


def _scored(reply: list[str]) -> list[tuple[str, float]]:
    return [(reply[i], float(reply[i + 1])) for i in range(0, len(reply), 2)]


def _entries(reply: list[list[Any]]) -> list[tuple[str, dict[str, str]]]:
    return [(entry_id, _pairs(fields)) for entry_id, fields in reply]


@dataclass(slots=True)
class _Waiting:
    """Replies owed to one caller: `count` of them, in order."""

    future: asyncio.Future[list[Any]]
    count: int
    sent_at: float
    replies: list[Any] = field(default_factory=list)


class _Connection(asyncio.Protocol):
    def __init__(self, timeout: float) -> None:
        self._reader = hiredis.Reader(
            protocolError=rx.InvalidResponse, replyError=_reply_error, encoding="utf-8"
        )
        self._waiting: deque[_Waiting] = deque()
        self._outgoing: list[bytes] = []
        self._timeout = timeout
        self._transport: asyncio.Transport | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though uvloop's is no asyncio.Transport instance.
        self._transport = cast(asyncio.Transport, transport)

    def send(self, commands: Sequence[Command]) -> asyncio.Future[list[Any]]:
        """Queue the commands; what is queued in one turn of the loop goes out in one write."""
        if self.lost is not None or self._transport is None:
            raise rx.ConnectionError(f"connection closed: {self.lost}")
        try:
            payload = b"".join(map(hiredis.pack_command, commands))
        except TypeError as exc:  # hiredis packs str, bytes, int and float only
            raise rx.DataError(f"cannot send {commands!r} to Redis: {exc}") from exc
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._waiting.append(_Waiting(future, len(commands), time.monotonic()))
        if not self._outgoing:
            loop.call_soon(self._flush)
        self._outgoing.append(payload)
        if self._watchdog is None:
            self._watchdog = loop.call_later(self._timeout, self._check)
        return future

    def _flush(self) -> None:
        payload, self._outgoing = b"".join(self._outgoing), []
        if self._transport is not None and self.lost is None:
            self._transport.write(payload)

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            if not self._waiting:
                self._close(rx.InvalidResponse("a reply nobody asked for"))
                return
            head = self._waiting[0]
            head.replies.append(reply)
            if len(head.replies) == head.count:
                self._waiting.popleft()
                if not head.future.done():
                    head.future.set_result(head.replies)

    def _check(self) -> None:
        self._watchdog = None
        if not self._waiting:
            return
        waited = time.monotonic() - self._waiting[0].sent_at
        if waited >= self._timeout:
            self._close(rx.TimeoutError(f"no reply from Redis in {self._timeout} s"))
            return
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(self._timeout - waited, self._check)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(rx.ConnectionError(f"connection to Redis lost: {exc or 'closed'}"))

    def _close(self, exc: BaseException) -> None:
        self._fail(exc)
        if self._transport is not None:
            self._transport.abort()

    def _fail(self, exc: BaseException) -> None:
        if self.lost is None:
            self.lost = exc
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        while self._waiting:
            future = self._waiting.popleft().future
            if not future.done():
                future.set_exception(exc)

    def close(self) -> None:
        self._close(rx.ConnectionError("client closed"))


class RespCommands:
    """The redis-py `Redis` methods RedisStore calls, with their replies (decoded as str), on
    whatever `send` reaches: one Redis (LeanRedis) or a Redis Cluster (store/resp_cluster.py)."""

    async def send(self, commands: Sequence[Command]) -> list[Any]:
        """Each command's reply, in order; a reply that is an error is returned, not raised."""
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    async def execute_command(self, *args: Any) -> Any:
        return await self._call(_same, *args)

    async def _call(self, convert: Callable[[Any], T], *args: Any) -> T:
        (reply,) = await self.send([args])
        if isinstance(reply, rx.RedisError):
            raise reply
        return convert(reply)

    def pipeline(self, transaction: bool = True) -> LeanPipeline:
        return LeanPipeline(self, transaction)

    def register_script(self, script: str) -> LeanScript:
        return LeanScript(self, script)

    async def ping(self) -> bool:
        return await self._call(_pong, "PING")

    async def get(self, name: str) -> str | None:
        return await self._call(_text, "GET", name)

    async def getdel(self, name: str) -> str | None:
        return await self._call(_text, "GETDEL", name)

    async def set(
        self, name: str, value: str, *, px: int | None = None, nx: bool = False
    ) -> bool | None:
        return await self._call(_ok, *_set_args(name, value, px, nx))

    async def delete(self, *names: str) -> int:
        return await self._call(int, "DEL", *names)

    async def hgetall(self, name: str) -> dict[str, str]:
        return await self._call(_pairs, "HGETALL", name)

    async def hmget(self, name: str, keys: Sequence[str]) -> list[str | None]:
        return await self._call(_texts, "HMGET", name, *keys)

    async def zrange(
        self, name: str, start: int, end: int, *, withscores: bool = False
    ) -> list[Any]:
        if withscores:
            return await self._call(_scored, "ZRANGE", name, start, end, "WITHSCORES")
        return await self._call(_texts, "ZRANGE", name, start, end)

    async def xadd(
        self, name: str, fields: dict[str, str], *, maxlen: int, approximate: bool = True
    ) -> str:
        return await self._call(str, *_xadd_args(name, fields, maxlen, approximate))

    async def xrevrange(self, name: str, *, count: int) -> list[tuple[str, dict[str, str]]]:
        return await self._call(_entries, "XREVRANGE", name, "+", "-", "COUNT", count)


class LeanRedis(RespCommands):
    """RespCommands on one connection to one Redis."""

    def __init__(
        self, url: str, *, socket_timeout: float = 2.0, socket_connect_timeout: float = 2.0
    ) -> None:
        if not self.accepts(url):
            raise ValueError(f"LeanRedis speaks plain TCP (redis://), not {url.split(':')[0]}://")
        # redis-py's reading of the URL, as for the pub/sub pool
        parts: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]
        self._host: str = parts.get("host", "localhost")
        self._port: int = parts.get("port", 6379)
        self._db: int = parts.get("db", 0)
        self._username: str | None = parts.get("username")
        self._password: str | None = parts.get("password")
        self._timeout = socket_timeout
        self._connect_timeout = socket_connect_timeout
        self._connection: _Connection | None = None
        self._connecting: asyncio.Task[_Connection] | None = None

    @staticmethod
    def accepts(url: str) -> bool:
        return urlsplit(url).scheme == "redis"

    # The connection

    async def _connected(self) -> _Connection:
        connection = self._connection
        if connection is not None and connection.lost is None:
            return connection
        if self._connecting is None:  # one connect for everyone who asks meanwhile
            self._connecting = asyncio.ensure_future(self._connect())
            self._connecting.add_done_callback(self._connected_or_not)
        return await asyncio.shield(self._connecting)

    def _connected_or_not(self, task: asyncio.Task[_Connection]) -> None:
        self._connecting = None
        if not task.cancelled() and task.exception() is None:
            self._connection = task.result()

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        where = f"connecting to Redis at {self._host}:{self._port}"
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self._timeout), self._host, self._port
                )
        except TimeoutError as exc:
            raise rx.TimeoutError(where) from exc
        except OSError as exc:
            raise rx.ConnectionError(f"{where}: {exc}") from exc
        hello = self._hello()
        if hello:
            try:
                _raise_first(await connection.send(hello))
            except BaseException:
                connection.close()
                raise
        return connection

    def _hello(self) -> list[Command]:
        commands: list[Command] = []
        if self._password is not None:
            user = (self._username,) if self._username else ()
            commands.append(("AUTH", *user, self._password))
        if self._db:
            commands.append(("SELECT", self._db))
        return commands

    async def queue(self, commands: Sequence[Command]) -> asyncio.Future[list[Any]]:
        """Queue the commands (connecting first if need be); the future has their replies."""
        connection = await self._connected()
        return connection.send(commands)

    async def send(self, commands: Sequence[Command]) -> list[Any]:
        return await (await self.queue(commands))

    async def aclose(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class LeanPipeline:
    """Commands queued, then written at once; `execute` returns their replies and raises the
    first error among them (as redis-py's pipeline does). With `transaction`, inside
    MULTI … EXEC."""

    def __init__(self, client: RespCommands, transaction: bool) -> None:
        self._client = client
        self._transaction = transaction
        self._commands: list[Command] = []
        self._converts: list[Convert] = []

    async def __aenter__(self) -> LeanPipeline:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._commands.clear()

    def _queue(self, command: Command, convert: Convert = _same) -> LeanPipeline:
        self._commands.append(command)
        self._converts.append(convert)
        return self

    async def execute(self) -> list[Any]:
        commands, converts = self._commands, self._converts
        self._commands, self._converts = [], []
        if not commands:
            return []
        if self._transaction:
            replies = await self._client.send([("MULTI",), *commands, ("EXEC",)])
            _raise_first(replies[:-1])
            replies = replies[-1]
            if replies is None:
                raise rx.WatchError("the transaction was aborted")
        else:
            replies = await self._client.send(commands)
        _raise_first(replies)
        return [convert(reply) for convert, reply in zip(converts, replies, strict=True)]

    def get(self, name: str) -> LeanPipeline:
        return self._queue(("GET", name))

    def set(
        self, name: str, value: str, *, px: int | None = None, nx: bool = False
    ) -> LeanPipeline:
        return self._queue(_set_args(name, value, px, nx), _ok)

    def delete(self, *names: str) -> LeanPipeline:
        return self._queue(("DEL", *names))

    def hgetall(self, name: str) -> LeanPipeline:
        return self._queue(("HGETALL", name), _pairs)

    def sadd(self, name: str, *members: str) -> LeanPipeline:
        return self._queue(("SADD", name, *members))

    def zadd(self, name: str, mapping: dict[str, float]) -> LeanPipeline:
        scored = [part for member, score in mapping.items() for part in (score, member)]
        return self._queue(("ZADD", name, *scored))

    def zremrangebyscore(self, name: str, low: str, high: str) -> LeanPipeline:
        return self._queue(("ZREMRANGEBYSCORE", name, low, high))

    def zremrangebyrank(self, name: str, start: int, end: int) -> LeanPipeline:
        return self._queue(("ZREMRANGEBYRANK", name, start, end))

    def pexpire(self, name: str, milliseconds: int) -> LeanPipeline:
        return self._queue(("PEXPIRE", name, milliseconds), bool)

    def xadd(
        self, name: str, fields: dict[str, str], *, maxlen: int, approximate: bool = True
    ) -> LeanPipeline:
        return self._queue(_xadd_args(name, fields, maxlen, approximate))

    def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> LeanPipeline:
        return self._queue(("EVAL", script, numkeys, *keys_and_args))


class LeanScript:
    """EVALSHA, and EVAL once when this Redis does not know the script yet (NOSCRIPT)."""

    def __init__(self, client: RespCommands, script: str) -> None:
        self._client = client
        self.script = script
        self.sha = hashlib.sha1(script.encode()).hexdigest()  # noqa: S324 — Redis names scripts so

    async def __call__(self, keys: Sequence[str] = (), args: Sequence[Any] = ()) -> Any:
        try:
            return await self._client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
        except rx.NoScriptError:
            return await self._client.execute_command("EVAL", self.script, len(keys), *keys, *args)


def _set_args(name: str, value: str, px: int | None, nx: bool) -> Command:
    return ("SET", name, value, *(("PX", px) if px is not None else ()), *(("NX",) if nx else ()))


def _xadd_args(name: str, fields: dict[str, str], maxlen: int, approximate: bool) -> Command:
    pairs = [part for item in fields.items() for part in item]
    return ("XADD", name, "MAXLEN", "~" if approximate else "=", maxlen, "*", *pairs)


def _raise_first(replies: Sequence[Any]) -> None:
    for reply in replies:
        if isinstance(reply, rx.RedisError):
            raise reply
