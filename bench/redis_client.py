"""`python -m bench.redis_client`: CPU per Redis call from this process, redis-py's asyncio
client against store/resp.py's LeanRedis, on the same Redis in the same run — a GET, a pipeline
of three GETs, and an EVALSHA (what the store's hot path sends). `--cluster` starts a Redis
Cluster of its own (three masters, a replica each) and compares redis-py's cluster client with
store/resp_cluster.py's LeanCluster there, the pipeline's three keys on three masters. Prints
ONE JSON object."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster as RedisPyCluster

from authsvc.store.keys import key_slot
from authsvc.store.resp import LeanRedis, RespCommands
from authsvc.store.resp_cluster import LeanCluster
from tests.support.redis_cluster import RedisCluster

Call = Callable[[], Awaitable[Any]]


async def _cpu_us(call: Call, count: int) -> float:
    for _ in range(min(200, count)):
        await call()
    start = time.process_time()
    for _ in range(count):
        await call()
    return round(1e6 * (time.process_time() - start) / count, 1)


Client = Redis | RedisPyCluster | RespCommands


def _calls(client: Client, keys: list[str]) -> dict[str, Call]:
    key = keys[0]
    script = client.register_script("return redis.call('GET', KEYS[1])")

    async def pipeline() -> Any:
        async with client.pipeline(transaction=False) as pipe:
            for each in keys:
                pipe.get(each)
            return await pipe.execute()

    return {
        "get": lambda: client.get(key),
        "pipeline_of_3": pipeline,
        "evalsha": lambda: script(keys=[key]),
    }


async def _compare(clients: dict[str, Client], keys: list[str], count: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lean = clients["lean"]
    try:
        for key in keys:
            await lean.set(key, "v", px=600_000)
        for name, client in clients.items():
            calls = _calls(client, keys)
            out[name] = {op: await _cpu_us(call, count) for op, call in calls.items()}
        for key in keys:
            await lean.delete(key)
    finally:
        for client in clients.values():
            await client.aclose()
    out["redis_py_over_lean"] = {
        op: round(out["redis_py"][op] / out["lean"][op], 2) for op in out["lean"]
    }
    return out


async def _one_redis(url: str, count: int) -> dict[str, Any]:
    key = f"qrauth-bench:{uuid.uuid4()}:k"
    clients: dict[str, Client] = {
        "redis_py": Redis.from_url(url, decode_responses=True, protocol=2),
        "lean": LeanRedis(url),
    }
    return await _compare(clients, [key] * 3, count)


def _on_three_masters(prefix: str) -> list[str]:
    """Three keys, one in each third of the slots (a new cluster's three masters)."""
    found: dict[int, str] = {}
    for i in range(1000):
        key = f"{prefix}k{i}"
        found.setdefault(key_slot(key) * 3 // 16384, key)
        if len(found) == 3:
            break
    return [found[third] for third in sorted(found)]


async def _cluster(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="qrauth-bench-cluster-") as folder:
        cluster = RedisCluster(Path(folder))
        await asyncio.to_thread(cluster.start)
        try:
            py = RedisPyCluster.from_url(cluster.url, decode_responses=True, protocol=2)
            await py.initialize()
            lean = LeanCluster(cluster.url)
            await lean.initialize()
            keys = _on_three_masters(f"qrauth-bench:{uuid.uuid4()}:")
            return {"cluster": True, **await _compare({"redis_py": py, "lean": lean}, keys, count)}
        finally:
            await asyncio.to_thread(cluster.stop)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.redis_client", description=__doc__)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--cluster", action="store_true", help="on a Redis Cluster of its own")
    args = parser.parse_args()
    run = _cluster(args.count) if args.cluster else _one_redis(args.redis_url, args.count)
    print(json.dumps(asyncio.run(run)))


if __name__ == "__main__":
    main()
