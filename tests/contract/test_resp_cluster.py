"""store/resp_cluster.py's LeanCluster on a real Redis Cluster (three masters, a replica each):
one Redis's replies for what the store sends, each command on its slot's master, a pipeline
across masters answered in order with one write per master, MOVED and ASK followed without
running a command twice, and a cluster that is not there failing cleanly."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis import Redis
from redis import exceptions as rx

from authsvc.store.keys import key_slot
from authsvc.store.resp import LeanRedis, RespCommands
from authsvc.store.resp_cluster import LeanCluster, command_slot, units
from tests.support.redis import REDIS_URL
from tests.support.redis_cluster import RedisCluster
from tools.ports import free_port

pytestmark = pytest.mark.redis


@pytest.fixture
async def lean(redis_cluster: RedisCluster, redis_prefix: str) -> AsyncIterator[LeanCluster]:
    client = LeanCluster(redis_cluster.url)
    yield client
    await client.aclose()
    redis_cluster.purge(redis_prefix)


def _on_every_master(cluster: RedisCluster, prefix: str) -> list[str]:
    keys = [f"{prefix}k{i}" for i in range(12)]
    assert len({cluster.master_of(key_slot(k)).port for k in keys}) == 3
    return keys


def _reads(masters: list[Redis]) -> list[int]:
    """Each master's count of socket reads (a request a client sent and waited for)."""
    return [int(client.info("stats")["total_reads_processed"]) for client in masters]


Call = Callable[[RespCommands, str], Any]


async def test_replies_are_one_rediss(
    lean: LeanCluster, redis_cluster: RedisCluster, redis_prefix: str
) -> None:
    """The store's commands, singles, pipelines and a transaction, keys on every master: the
    same replies as LeanRedis gives on one Redis."""
    one = LeanRedis(REDIS_URL)
    k = redis_prefix
    keys = _on_every_master(redis_cluster, f"{k}c:")
    try:
        calls: list[Call] = [
            lambda c, t: c.set(f"{k}{t}:s", "v", px=60_000),
            lambda c, t: c.set(f"{k}{t}:s", "w", px=60_000, nx=True),
            lambda c, t: c.get(f"{k}{t}:s"),
            lambda c, t: c.getdel(f"{k}{t}:s"),
            lambda c, t: c.get(f"{k}{t}:s"),
            lambda c, t: c.hgetall(f"{k}{t}:missing"),
            lambda c, t: c.zrange(f"{k}{t}:missing", 0, -1, withscores=True),
            lambda c, t: c.ping(),
            lambda c, t: c.delete(f"{k}{t}:nope"),
        ]
        for call in calls:
            assert await call(lean, "c") == await call(one, "o")
        for client, tag in ((one, "o"), (lean, "c")):
            async with client.pipeline(transaction=False) as pipe:
                for i, key in enumerate(keys):
                    pipe.set(f"{key}{tag}", str(i), px=60_000)
                    pipe.zadd(f"{key}{tag}:z", {"a": 1.5, "b": 0.25})
                    pipe.xadd(f"{key}{tag}:x", {"r": str(i)}, maxlen=10)
                    pipe.eval("return redis.call('HSET', KEYS[1], 'f', ARGV[1])", 1,
                              f"{key}{tag}:h", str(i))  # fmt: skip
                replies = await pipe.execute()
            assert replies[0::4] == [True] * 12 and replies[1::4] == [2] * 12
            async with client.pipeline(transaction=True) as pipe:
                pipe.set(f"{k}{{tx}}{tag}", "5", px=60_000).get(f"{k}{{tx}}{tag}")
                pipe.sadd(f"{k}{{tx}}{tag}:m", "a").delete(f"{k}{{tx}}{tag}:m")
                assert await pipe.execute() == [True, "5", 1, 1]
        for call in [
            lambda c, t: c.zrange(f"{keys[3]}{t}:z", 0, -1, withscores=True),
            lambda c, t: c.hmget(f"{keys[7]}{t}:h", ["f", "nope"]),
            lambda c, t: c.xrevrange(f"{keys[9]}{t}:x", count=5),
        ]:
            mine, theirs = await call(lean, "c"), await call(one, "o")
            assert (mine, theirs) != (None, None)
            if isinstance(mine, list) and mine and isinstance(mine[0], tuple):
                mine, theirs = [v for _, v in mine], [v for _, v in theirs]  # stream ids differ
            assert mine == theirs
    finally:
        async with one.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.delete(f"{key}o", f"{key}o:z", f"{key}o:x", f"{key}o:h")
            await pipe.execute()
        await one.aclose()


async def test_a_pipeline_across_masters_is_one_write_each_and_answers_in_order(
    lean: LeanCluster, redis_cluster: RedisCluster, redis_prefix: str
) -> None:
    keys = _on_every_master(redis_cluster, redis_prefix)
    for i, key in enumerate(keys):
        assert await lean.set(key, str(i), px=60_000) is True
    masters = [node.client() for node in map(redis_cluster.master_of, (0, 8000, 16000))]
    try:
        before = _reads(masters)
        async with lean.pipeline(transaction=False) as pipe:
            for key in keys * 3:
                pipe.get(key)
            replies = await pipe.execute()
        after = _reads(masters)
    finally:
        for client in masters:
            client.close()
    assert replies == [str(i) for i in range(12)] * 3
    # one read on each master for the 36 GETs and one for the INFO that counts them (and at
    # most one more: a replica's REPLCONF ACK, once a second)
    assert all(2 <= a - b <= 3 for a, b in zip(after, before, strict=True)), (before, after)


async def test_concurrent_callers_get_their_own_replies(
    lean: LeanCluster, redis_cluster: RedisCluster, redis_prefix: str
) -> None:
    keys = [f"{redis_prefix}n{i}" for i in range(300)]
    async with lean.pipeline(transaction=False) as pipe:
        for i, key in enumerate(keys):
            pipe.set(key, str(i), px=60_000)
        await pipe.execute()

    async def read(i: int) -> None:
        if i % 2:
            assert await lean.get(keys[i]) == str(i)
            return
        async with lean.pipeline(transaction=False) as pipe:
            pipe.get(keys[i]).get(f"{redis_prefix}missing").get(keys[(i + 7) % 300])
            assert await pipe.execute() == [str(i), None, str((i + 7) % 300)]

    await asyncio.gather(*(read(i) for i in range(300)))


async def test_key_slots_are_rediss(redis_cluster: RedisCluster) -> None:
    """The slot of a key as CLUSTER KEYSLOT computes it, hash tags and non-ASCII included."""
    names = ["", "a", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap", "{}x", "张三:卡"]
    names += [secrets.token_urlsafe(n) for n in range(1, 60)]
    with redis_cluster.nodes[0].client() as client:
        for name in names:
            assert key_slot(name) == client.execute_command("CLUSTER", "KEYSLOT", name), name


async def test_a_moved_slot_is_followed_once_and_the_map_corrected(
    lean: LeanCluster, redis_cluster: RedisCluster, redis_prefix: str
) -> None:
    """The slot moves after the client read its map: the old master answers MOVED (it did not
    run the command), the command runs once on the new one, and later commands go there."""
    key = f"{redis_prefix}moving"
    slot = key_slot(key)
    assert await lean.set(key, "before", px=60_000) is True
    before = lean.node_of(slot)
    await asyncio.to_thread(lambda: redis_cluster.start_moving(slot).finish())
    assert lean.node_of(slot) == before  # the client has not heard of it yet
    assert await lean.set(key, "again", px=60_000, nx=True) is None  # ran once, found the key
    moved_to = redis_cluster.master_of(slot)
    assert lean.node_of(slot) == ("127.0.0.1", moved_to.port)
    async with lean.pipeline(transaction=True) as pipe:
        pipe.set(key, "after", px=60_000).get(key)
        assert await pipe.execute() == [True, "after"]
    with moved_to.client() as client:
        assert client.get(key) == "after"


async def test_a_slot_being_migrated_is_asked_for_key_by_key(
    lean: LeanCluster, redis_cluster: RedisCluster, redis_prefix: str
) -> None:
    """Mid-migration the source still serves the keys it holds and answers ASK for the keys
    already moved: those are read on the target (after ASKING), a block on them too, and the
    slot map stays as it is until the slot itself has moved."""
    stay, gone = f"{redis_prefix}{{m}}stay", f"{redis_prefix}{{m}}gone"
    slot = key_slot(stay)
    for key in (stay, gone):
        assert await lean.set(key, key[-4:], px=60_000) is True
    source = lean.node_of(slot)
    move = await asyncio.to_thread(redis_cluster.start_moving, slot)
    try:
        await asyncio.to_thread(move.migrate, [gone])
        assert await lean.get(stay) == "stay"
        assert await lean.get(gone) == "gone"
        async with lean.pipeline(transaction=True) as pipe:
            pipe.set(gone, "new", px=60_000).get(gone)
            assert await pipe.execute() == [True, "new"]
        assert lean.node_of(slot) == source
        with move.target.client() as client:
            client.execute_command("ASKING")
            assert client.get(gone) == "new"
    finally:
        await asyncio.to_thread(move.finish)
    assert await lean.get(stay) == "stay"


async def test_a_cluster_that_is_not_there_is_a_connection_error() -> None:
    client = LeanCluster(f"redis://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(rx.ConnectionError):
            await client.get("k")
        with pytest.raises(rx.ConnectionError):
            await client.initialize()
    finally:
        await client.aclose()


async def test_errors_are_replies_of_their_command_and_the_rest_runs(
    lean: LeanCluster, redis_cluster: RedisCluster, redis_prefix: str
) -> None:
    """A wrong-type error is raised for the command that met it; a pipeline's other commands,
    on other masters too, ran."""
    keys = _on_every_master(redis_cluster, redis_prefix)
    with redis_cluster.master_of(key_slot(keys[0])).client() as client:
        client.hset(keys[0], "f", "v")
    with pytest.raises(rx.ResponseError, match="WRONGTYPE"):
        await lean.get(keys[0])
    async with lean.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.set(f"{key}:s", "1", px=60_000)
        pipe.get(keys[0])
        with pytest.raises(rx.ResponseError, match="WRONGTYPE"):
            await pipe.execute()
    for key in keys:
        assert await lean.get(f"{key}:s") == "1"


async def test_a_block_across_masters_runs_nothing(
    lean: LeanCluster, redis_cluster: RedisCluster, redis_prefix: str
) -> None:
    """MULTI … EXEC goes to the master of its first key; a key another master serves is
    refused there (MOVED), so EXEC aborts: nothing of the block ran, and it is not sent on."""
    await lean.initialize()
    keys = _on_every_master(redis_cluster, redis_prefix)
    first = keys[0]
    other = next(k for k in keys if lean.node_of(key_slot(k)) != lean.node_of(key_slot(first)))
    async with lean.pipeline(transaction=True) as pipe:
        pipe.set(first, "1", px=60_000).set(other, "2", px=60_000)
        with pytest.raises(rx.ResponseError):
            await pipe.execute()
    assert (await lean.get(first), await lean.get(other)) == (None, None)


def test_commands_are_routed_by_their_first_key() -> None:
    assert command_slot(("GET", "{t}a")) == key_slot("t")
    assert command_slot(("EVALSHA", "ab", 2, "{t}x", "y", "arg")) == key_slot("t")
    assert command_slot(("EVALSHA", "ab", 0, "arg")) is None
    assert command_slot(("PING",)) is None
    assert units([("GET", "a"), ("MULTI",), ("SET", "b", "1"), ("EXEC",), ("GET", "c")]) == [
        [0],
        [1, 2, 3],
        [4],
    ]
    with pytest.raises(rx.DataError):
        units([("MULTI",), ("SET", "b", "1")])


def test_only_plain_tcp() -> None:
    with pytest.raises(ValueError, match="redis://"):
        LeanCluster("rediss://127.0.0.1:7000")
