"""`python -m bench.event_cost`: the CPU one event message costs an idle authsvc process that
does not hold its ticket — what each process paid for every other process's events before
events were routed to the ticket's holders (store/redis.py), when all shared one channel.

It starts `authsvc serve` on a Redis prefix of its own, measures the process's CPU (psutil) for
`--seconds` idle, then for `--seconds` while events of tickets it does not hold are published to
its own channel at `--rate` per second (each arrives alone, as at low load), and prints the
difference per event as ONE JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bench.cluster import cpu_seconds
from bench.servers import purge, start_authsvc, wait_ready


async def _publish(redis: Redis, channel: str, rate: float, seconds: float) -> int:
    body = json.dumps({"type": "state", "state": "scanned", "version": 3, "published_at": 0.0})
    started, sent = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        await redis.publish(channel, f"{uuid.uuid4().hex[:22]} {body}")
        sent += 1
        await asyncio.sleep(max(started + sent / rate - time.perf_counter(), 0.0))
    return sent


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    prefix = f"qrauth-bench:{uuid.uuid4()}:"
    redis = Redis.from_url(args.redis_url, decode_responses=True)
    with tempfile.TemporaryDirectory(prefix="bench-event-cost-") as tmp:
        server = start_authsvc(Path(tmp), args.redis_url, prefix)
        try:
            await wait_ready(server)
            (channel,) = await redis.pubsub_channels(f"{prefix}*")
            pid = server.process.pid
            await asyncio.sleep(1.0)
            before = cpu_seconds([pid])
            await asyncio.sleep(args.seconds)
            idle = (cpu_seconds([pid]) - before) / args.seconds
            before, started = cpu_seconds([pid]), time.perf_counter()
            sent = await _publish(redis, channel, args.rate, args.seconds)
            busy = (cpu_seconds([pid]) - before) / (time.perf_counter() - started)
        finally:
            server.stop()
            await purge(args.redis_url, prefix)
            await redis.aclose()
    return {
        "events": sent,
        "rate_per_s": args.rate,
        "idle_cpu_ms_per_s": round(idle * 1000, 2),
        "cpu_ms_per_s_with_events": round(busy * 1000, 2),
        "cpu_us_per_event": round((busy - idle) / args.rate * 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.event_cost")
    parser.add_argument("--rate", type=float, default=140.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(_main(args)), indent=2))


if __name__ == "__main__":
    main()
