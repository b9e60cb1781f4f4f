"""store/resp.py's LeanRedis against real Redis: the same replies as redis-py for what the store
sends, replies matched to their callers under concurrency, and a paused, killed or refusing
Redis failing the commands that wait on it (never retried) with redis-py's errors."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import hiredis
import pytest
import uvloop
from redis import exceptions as rx
from redis.asyncio import Redis

from authsvc.store import resp
from authsvc.store.resp import LeanRedis
from tests.support.redis import REDIS_URL
from tests.support.redis_cluster import Node, lone_redis

pytestmark = pytest.mark.redis


@pytest.fixture
async def lean() -> AsyncIterator[LeanRedis]:
    client = LeanRedis(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[Node]:
    node = lone_redis(tmp_path / "redis", aof=False)
    yield node
    node.stop()


@pytest.fixture
async def admin(own_redis: Node) -> AsyncIterator[Redis]:
    """redis-py on the test's own Redis: to pause it, kill clients and read its counters."""
    client = Redis(port=own_redis.port, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def own_lean(own_redis: Node) -> AsyncIterator[LeanRedis]:
    client = LeanRedis(own_redis.url)
    yield client
    await client.aclose()


async def test_replies_are_redis_pys(lean: LeanRedis, raw_redis: Redis, redis_prefix: str) -> None:
    """Every command the store sends, answered as redis-py (decode_responses, RESP2) answers."""
    k = redis_prefix
    for client, tag in ((raw_redis, "py"), (lean, "lean")):
        assert await client.set(f"{k}{tag}:s", "v", px=60_000) is True
        assert await client.set(f"{k}{tag}:s", "w", px=60_000, nx=True) is None
    calls = [
        lambda c, t: c.get(f"{k}{t}:s"),
        lambda c, t: c.get(f"{k}{t}:missing"),
        lambda c, t: c.hgetall(f"{k}{t}:missing"),
        lambda c, t: c.zrange(f"{k}{t}:missing", 0, -1, withscores=True),
        lambda c, t: c.xrevrange(f"{k}{t}:missing", count=5),
        lambda c, t: c.ping(),
    ]
    for call in calls:
        assert await call(lean, "lean") == await call(raw_redis, "py")
    for client, tag in ((raw_redis, "py"), (lean, "lean")):
        async with client.pipeline(transaction=False) as pipe:
            pipe.zadd(f"{k}{tag}:z", {"a": 1.5, "b": 0.25})
            pipe.pexpire(f"{k}{tag}:z", 60_000)
            pipe.xadd(f"{k}{tag}:x", {"r": "one"}, maxlen=10, approximate=True)
            pipe.xadd(f"{k}{tag}:x", {"r": "two"}, maxlen=10, approximate=True)
            pipe.eval("redis.call('HSET', KEYS[1], 'f', ARGV[1]) return 7", 1, f"{k}{tag}:h", "x")
            replies = await pipe.execute()
        assert replies[:2] == [2, True] and replies[-1] == 7
    for call in [
        lambda c, t: c.zrange(f"{k}{t}:z", 0, -1, withscores=True),
        lambda c, t: c.zrange(f"{k}{t}:z", 0, -1),
        lambda c, t: c.hgetall(f"{k}{t}:h"),
        lambda c, t: c.hmget(f"{k}{t}:h", ["f", "nope"]),
        lambda c, t: c.getdel(f"{k}{t}:s"),
        lambda c, t: c.getdel(f"{k}{t}:s"),
        lambda c, t: c.delete(f"{k}{t}:h", f"{k}{t}:nope"),
    ]:
        assert await call(lean, "lean") == await call(raw_redis, "py")
    mine = await lean.xrevrange(f"{k}lean:x", count=5)
    theirs = await raw_redis.xrevrange(f"{k}py:x", count=5)
    assert [fields for _, fields in mine] == [fields for _, fields in theirs]
    assert [fields for _, fields in mine] == [{"r": "two"}, {"r": "one"}]


async def test_concurrent_callers_get_their_own_replies(
    lean: LeanRedis, raw_redis: Redis, redis_prefix: str
) -> None:
    """500 tasks at once on the one connection, singles and pipelines mixed: each gets the
    replies of its own commands."""
    async with raw_redis.pipeline(transaction=False) as pipe:
        for i in range(500):
            pipe.set(f"{redis_prefix}{i}", str(i), px=60_000)
        await pipe.execute()

    async def read(i: int) -> None:
        if i % 3:
            assert await lean.get(f"{redis_prefix}{i}") == str(i)
        else:
            async with lean.pipeline(transaction=False) as pipe:
                pipe.get(f"{redis_prefix}{i}").get(f"{redis_prefix}missing").get(
                    f"{redis_prefix}{(i + 1) % 500}"
                )
                assert await pipe.execute() == [str(i), None, str((i + 1) % 500)]

    await asyncio.gather(*(read(i) for i in range(500)))


async def test_commands_made_in_one_turn_of_the_loop_reach_redis_in_one_write(
    own_lean: LeanRedis, admin: Redis
) -> None:
    """200 callers at once: Redis reads them in a few socket reads (its own counter), not 200."""
    assert await own_lean.ping() is True
    before = (await admin.info("stats"))["total_reads_processed"]
    replies = await asyncio.gather(*(own_lean.get(f"k{i}") for i in range(200)))
    reads = (await admin.info("stats"))["total_reads_processed"] - before
    assert replies == [None] * 200
    assert reads <= 6, reads  # the 200 GETs, plus the INFO itself


async def test_errors_are_raised_and_the_connection_goes_on(
    lean: LeanRedis, raw_redis: Redis, redis_prefix: str
) -> None:
    """A command's error is redis-py's ResponseError; a pipeline runs every command and raises
    the first error, and so does a transaction (whose other commands ran: Redis does not roll
    back a MULTI … EXEC block)."""
    key = f"{redis_prefix}h"
    await raw_redis.hset(key, "f", "v")
    with pytest.raises(rx.ResponseError, match="WRONGTYPE"):
        await lean.get(key)
    async with lean.pipeline(transaction=False) as pipe:
        pipe.set(f"{redis_prefix}a", "1", px=60_000).get(key).set(f"{redis_prefix}b", "2", px=1)
        with pytest.raises(rx.ResponseError, match="WRONGTYPE"):
            await pipe.execute()
    assert await raw_redis.get(f"{redis_prefix}a") == "1"
    async with lean.pipeline(transaction=True) as pipe:
        pipe.set(f"{redis_prefix}c", "1", px=60_000).zremrangebyrank(key, 0, 1)
        with pytest.raises(rx.ResponseError, match="WRONGTYPE"):
            await pipe.execute()
    assert await raw_redis.get(f"{redis_prefix}c") == "1"
    assert await lean.hgetall(key) == {"f": "v"}


async def test_a_script_unknown_to_redis_is_sent_whole_once(
    lean: LeanRedis, raw_redis: Redis, redis_prefix: str
) -> None:
    """EVALSHA first; on NOSCRIPT, EVAL (which loads it), then EVALSHA again."""
    source = f"-- {secrets.token_hex(8)}\nreturn redis.call('INCR', KEYS[1])"
    script = lean.register_script(source)
    key = f"{redis_prefix}n"
    assert await raw_redis.script_exists(script.sha) == [False]
    assert await script(keys=[key]) == 1
    assert await raw_redis.script_exists(script.sha) == [True]
    assert await script(keys=[key]) == 2
    with pytest.raises(rx.ResponseError):
        await lean.register_script("return redis.call('NOPE')")()


async def test_a_paused_redis_times_out_the_waiting_commands(own_redis: Node, admin: Redis) -> None:
    """Redis paused past the socket timeout: the commands waiting fail with TimeoutError, not
    retried; once Redis answers again, the next command works on a new connection."""
    client = LeanRedis(own_redis.url, socket_timeout=0.3)
    try:
        assert await client.set("counter", "0") is True
        await admin.client_pause(1500, all=True)
        started = asyncio.get_running_loop().time()
        results = await asyncio.gather(
            *(client.execute_command("INCR", "counter") for _ in range(3)), return_exceptions=True
        )
        waited = asyncio.get_running_loop().time() - started
        assert all(isinstance(r, rx.TimeoutError) for r in results), results
        assert 0.3 <= waited < 1.2
        await asyncio.sleep(1.4)
        # Each INCR was sent once: Redis dropped them with the closed connection (0), or ran
        # them before it saw the close (3); a resend would make it more.
        assert await client.get("counter") in ("0", "3")
    finally:
        await client.aclose()


async def test_a_killed_connection_fails_its_commands_and_the_next_one_reconnects(
    own_lean: LeanRedis, admin: Redis
) -> None:
    assert await own_lean.ping() is True
    await admin.client_pause(500, all=True)
    waiting = asyncio.ensure_future(own_lean.get("k"))
    await asyncio.sleep(0.1)
    killed = await admin.client_kill_filter(_type="normal", skipme=True)
    assert killed == 1
    with pytest.raises(rx.ConnectionError):
        await waiting
    assert await own_lean.set("k", "v") is True
    assert await own_lean.get("k") == "v"


async def test_a_redis_that_is_not_there_is_a_connection_error(own_redis: Node) -> None:
    own_redis.stop()
    client = LeanRedis(own_redis.url, socket_connect_timeout=0.5)
    with pytest.raises(rx.ConnectionError):
        await client.get("k")
    own_redis.start()
    assert await client.ping() is True
    await client.aclose()


async def test_password_and_database_from_the_url(own_redis: Node, admin: Redis) -> None:
    await admin.config_set("requirepass", "s3cret")
    wrong = LeanRedis(f"redis://:nope@127.0.0.1:{own_redis.port}/0")
    with pytest.raises(rx.AuthenticationError):  # a ConnectionError: the store answers 503
        await wrong.ping()
    await wrong.aclose()
    none = LeanRedis(own_redis.url)
    with pytest.raises(rx.AuthenticationError, match="Authentication required"):  # NOAUTH
        await none.get("in-three")
    await none.aclose()
    client = LeanRedis(f"redis://default:s3cret@127.0.0.1:{own_redis.port}/3")
    assert await client.set("in-three", "yes") is True
    await client.aclose()
    check = Redis(port=own_redis.port, db=3, password="s3cret", decode_responses=True)
    assert await check.get("in-three") == "yes"
    await check.aclose()


async def test_what_redis_cannot_be_sent_is_refused_and_the_connection_goes_on(
    lean: LeanRedis,
) -> None:
    with pytest.raises(rx.DataError):
        await lean.execute_command("SET", "k", None)
    assert await lean.ping() is True


def test_other_schemes_are_left_to_redis_py() -> None:
    assert LeanRedis.accepts("redis://127.0.0.1:6379/0")
    assert not LeanRedis.accepts("rediss://127.0.0.1:6379/0")
    assert not LeanRedis.accepts("unix:///run/redis.sock")
    with pytest.raises(ValueError, match="plain TCP"):
        LeanRedis("rediss://127.0.0.1:6379/0")


async def test_a_replica_refuses_writes_with_redis_pys_read_only_error(
    own_redis: Node, admin: Redis, tmp_path: Path
) -> None:
    """What a former primary answers after a failover: READONLY, as redis-py's ReadOnlyError
    (which the store turns into a 503, like an outage); reads go on, nothing is written."""
    replica = lone_redis(tmp_path / "replica", aof=False)
    client = LeanRedis(replica.url)
    try:
        await client.execute_command("REPLICAOF", "127.0.0.1", own_redis.port)
        with pytest.raises(rx.ReadOnlyError):
            await client.set("k", "v")
        async with client.pipeline(transaction=False) as pipe:
            pipe.get("k").set("k", "v")
            with pytest.raises(rx.ReadOnlyError):
                await pipe.execute()
        assert await client.get("k") is None and await admin.get("k") is None
    finally:
        await client.aclose()
        replica.stop()


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("LOADING Redis is loading the dataset in memory", rx.BusyLoadingError),
        ("NOSCRIPT No matching script. Please use EVAL.", rx.NoScriptError),
        ("WRONGPASS invalid username-password pair", rx.AuthenticationError),
        ("MASTERDOWN Link with MASTER is down", rx.MasterDownError),
        ("WRONGTYPE Operation against a key holding the wrong kind of value", rx.ResponseError),
    ],
)
def test_error_replies_get_redis_pys_classes(reply: str, error: type[Exception]) -> None:
    """The replies a real Redis sends in states a test cannot cheaply bring about (loading a
    large dataset at start, a replica cut off from its primary), decoded as the connection
    decodes them."""
    reader = hiredis.Reader(replyError=resp._reply_error, encoding="utf-8")
    reader.feed(f"-{reply}\r\n".encode())
    assert type(reader.gets()) is error


def test_on_uvloop_too() -> None:
    """AUTHSVC_EVENT_LOOP=uvloop: uvloop's transports are no asyncio.Transport instances, and
    a check for one made every command fail ("connection closed")."""

    async def round_trip() -> list[Any]:
        client = LeanRedis(REDIS_URL)
        try:
            await client.set(f"qrauth-test:uvloop:{secrets.token_hex(4)}", "v", px=10_000)
            return [await client.ping(), *await asyncio.gather(client.get("nope"), client.ping())]
        finally:
            await client.aclose()

    assert uvloop.run(round_trip()) == [True, None, True]
