"""The bench's Redis counting (bench/redisstats.py) on a known workload, on a Redis of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bench.redisstats import Probe, delta
from tests.support.redis_cluster import lone_redis

pytestmark = pytest.mark.redis

TWO_CALLS = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])"


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    node = lone_redis(tmp_path / "redis", aof=False)
    try:
        yield node.url
    finally:
        node.stop()


async def _workload(client: Redis, *, sha: str = "") -> None:
    await client.set("a", "1")
    await client.get("a")
    await client.incr("n")
    if sha:
        await client.evalsha(sha, 1, "k", "v")
    else:
        await client.eval(TWO_CALLS, 1, "k", "v")
    async with client.pipeline(transaction=False) as pipe:
        for _ in range(4):
            pipe.incr("p")
        await pipe.execute()


async def test_plain_eval_and_pipeline_counted_as_commands_and_round_trips(redis_url: str) -> None:
    """3 commands + an EVAL of 2 calls + a pipeline of 4: 10 commands, 5 round trips."""
    client, probe = Redis.from_url(redis_url, protocol=2), Probe(redis_url)
    try:
        await client.ping()  # the connection is open before the first sample
        before = await probe.sample()
        await _workload(client)
        got = delta(before, await probe.sample())
    finally:
        await client.aclose()
        await probe.close()
    assert got.calls == {"set": 2, "get": 2, "incrby": 5, "eval": 1}
    assert (got.commands, got.round_trips, got.connections) == (10, 5, 0)
    assert got.per_login(5)["round_trips_per_login"] == 1.0


async def test_evalsha_and_multi_exec_are_one_round_trip_each(redis_url: str) -> None:
    """EVALSHA is one round trip; a MULTI/EXEC block of 2 is one, and 4 commands."""
    client, probe = Redis.from_url(redis_url, protocol=2), Probe(redis_url)
    try:
        sha = await client.script_load(TWO_CALLS)
        before = await probe.sample()
        await _workload(client, sha=sha)
        async with client.pipeline(transaction=True) as pipe:
            pipe.set("t", "1").get("t")
            await pipe.execute()
        got = delta(before, await probe.sample())
    finally:
        await client.aclose()
        await probe.close()
    assert got.calls == {"set": 3, "get": 3, "incrby": 5, "evalsha": 1, "multi": 1, "exec": 1}
    assert (got.commands, got.round_trips) == (14, 6)


async def test_nothing_counts_nothing(redis_url: str) -> None:
    """Back-to-back samples: the probe's own INFO is taken out."""
    probe = Probe(redis_url)
    try:
        first = await probe.sample()
        got = delta(first, await probe.sample())
    finally:
        await probe.close()
    assert (got.calls, got.round_trips, got.connections) == ({}, 0, 0)
