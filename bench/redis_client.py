"""`python -m bench.redis_client`: CPU per Redis call from this process, redis-py's asyncio
client against store/resp.py's LeanRedis, on the same Redis in the same run — a GET, a pipeline
of three GETs, and an EVALSHA (what the store's hot path sends). Prints ONE JSON object."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from authsvc.store.resp import LeanRedis

Call = Callable[[], Awaitable[Any]]


async def _cpu_us(call: Call, count: int) -> float:
    for _ in range(min(200, count)):
        await call()
    start = time.process_time()
    for _ in range(count):
        await call()
    return round(1e6 * (time.process_time() - start) / count, 1)


def _calls(client: Redis | LeanRedis, key: str) -> dict[str, Call]:
    script = client.register_script("return redis.call('GET', KEYS[1])")

    async def pipeline() -> Any:
        async with client.pipeline(transaction=False) as pipe:
            pipe.get(key)
            pipe.get(key)
            pipe.get(key)
            return await pipe.execute()

    return {
        "get": lambda: client.get(key),
        "pipeline_of_3": pipeline,
        "evalsha": lambda: script(keys=[key]),
    }


async def _main(url: str, count: int) -> dict[str, Any]:
    key = f"qrauth-bench:{uuid.uuid4()}:k"
    clients: dict[str, Redis | LeanRedis] = {
        "redis_py": Redis.from_url(url, decode_responses=True, protocol=2),
        "lean": LeanRedis(url),
    }
    out: dict[str, Any] = {}
    try:
        await clients["lean"].set(key, "v", px=600_000)
        for name, client in clients.items():
            out[name] = {op: await _cpu_us(call, count) for op, call in _calls(client, key).items()}
        await clients["lean"].delete(key)
    finally:
        for client in clients.values():
            await client.aclose()
    out["redis_py_over_lean"] = {
        op: round(out["redis_py"][op] / out["lean"][op], 2) for op in out["lean"]
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.redis_client", description=__doc__)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(_main(args.redis_url, args.count))))


if __name__ == "__main__":
    main()
