"""`python -m bench.cluster`: the broker login (bench/logins.py) through nginx in front of one and
of three authsvc processes on one Redis, and of three on a three-master Redis Cluster, beside
the floor (bench/floor.py) driven in the same run, directly and through the same nginx in front
of one and of three floor processes (what more processes cost on this machine when the server
does no work of its own). Prints ONE JSON object on stdout.

Per scenario: server CPU per login (every authsvc process, nginx, and Redis — `used_cpu_*` of
every master), Redis commands, round trips and publishes per login counted at the servers
(bench.redisstats; the one-Redis scenarios run on a redis-server of their own unless
`--redis-url`), push latency (phone's confirm sent → the browser's `confirmed` event; nginx
sends the confirmation to the process holding the browser's socket, deploy/README.md) and
login latency. Closed loop: `--concurrency` users.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import tomllib
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from authsvc.core.crypto import Algorithm
from bench.load import summary_ms
from bench.logins import Logins, PhoneRequest, Sample, session
from bench.redisstats import Counters, Probe, delta
from bench.servers import AUTHSVC_BENCH_ENV, bench_registry, start_floor, wait_ready
from tests.support.redis_cluster import RedisCluster, lone_redis
from tests.support.servers import TEST_CLIENTS
from tools.cluster import Cluster, Process
from tools.ports import free_port

# The tests' confidential client `hall` (its scopes and identities), as the bench logs in with it.
HALL = next(
    c
    for c in tomllib.loads(TEST_CLIENTS.format(accounts=""))["clients"]
    if c["client_id"] == "hall"
)


Flow = Callable[[], Awaitable[Sample]]  # one login, as bench/logins.py makes it


def log(message: str) -> None:
    print(f"[bench.cluster] {message}", file=sys.stderr, flush=True)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes (and of children they waited for) so far."""
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system + times.children_user + times.children_system
    return total


def _switches(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        switches = psutil.Process(pid).num_ctx_switches()
        total += switches.voluntary + switches.involuntary
    return total


def _redis_work(before: list[Counters], after: list[Counters], logins: int) -> dict[str, Any]:
    """CPU, commands and round trips per login, summed over the masters."""
    deltas = [delta(b, a) for b, a in zip(before, after, strict=True)]
    each = max(logins, 1)
    return {
        "cpu_ms_per_login": sum(d.cpu_s for d in deltas) / each * 1000,
        "commands_per_login": round(sum(d.commands for d in deltas) / each, 2),
        "round_trips_per_login": round(sum(d.round_trips for d in deltas) / each, 2),
        "publishes_per_login": round(
            sum(d.calls.get("publish", 0) + d.calls.get("spublish", 0) for d in deltas) / each, 2
        ),
    }


async def _closed(flow: Any, count: int, concurrency: int) -> tuple[list[Sample], int, float]:
    samples: list[Sample] = []
    failed = 0
    todo = iter(range(count))

    async def user() -> None:
        nonlocal failed
        for _ in todo:
            try:
                samples.append(await asyncio.wait_for(flow(), 15))
            except Exception:  # counted, never fatal
                failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    return samples, failed, time.perf_counter() - started


async def _open(flow: Any, count: int, rate: float) -> tuple[list[Sample], int, float]:
    """`count` logins started on a fixed schedule of `rate` per second, whatever the servers do
    (at most 200 in flight): each process sees the same load however many there are."""
    samples: list[Sample] = []
    failed = 0
    room = asyncio.Semaphore(200)

    async def one() -> None:
        nonlocal failed
        try:
            samples.append(await asyncio.wait_for(flow(), 15))
        except Exception:  # counted, never fatal
            failed += 1
        finally:
            room.release()

    started = time.perf_counter()
    running = []
    for i in range(count):
        await asyncio.sleep(max(started + i / rate - time.perf_counter(), 0.0))
        await room.acquire()
        running.append(asyncio.create_task(one()))
    await asyncio.gather(*running)
    return samples, failed, time.perf_counter() - started


async def _measure(
    flow: Any,
    pids: dict[str, list[int]],
    redis_urls: list[str],
    args: argparse.Namespace,
    processes: int = 1,
) -> dict[str, Any]:
    await _closed(flow, args.warmup, args.concurrency)
    probes = [Probe(url) for url in redis_urls]  # one connection each, for both samples
    try:
        return await _measured(flow, pids, probes, args, processes)
    finally:
        for probe in probes:
            await probe.close()


async def _measured(
    flow: Any,
    pids: dict[str, list[int]],
    probes: list[Probe],
    args: argparse.Namespace,
    processes: int,
) -> dict[str, Any]:
    before = {name: cpu_seconds(p) for name, p in pids.items()}
    switched = {name: _switches(p) for name, p in pids.items()}
    redis_before = [await probe.sample() for probe in probes]
    if args.rate_per_process:
        rate = args.rate_per_process * processes
        samples, failed, elapsed = await _open(flow, args.logins * processes, rate)
    else:
        samples, failed, elapsed = await _closed(flow, args.logins, args.concurrency)
    done = max(len(samples), 1)
    cpu = {name: (cpu_seconds(p) - before[name]) / done * 1000 for name, p in pids.items()}
    switches = {name: (_switches(p) - switched[name]) / done for name, p in pids.items()}
    redis = _redis_work(redis_before, [await probe.sample() for probe in probes], done)
    cpu["redis"] = redis.pop("cpu_ms_per_login")
    return {
        "done": len(samples),
        "failed": failed,
        "logins_per_s": round(len(samples) / elapsed, 1),
        "cpu_ms_per_login": {k: round(v, 2) for k, v in cpu.items()},
        "context_switches_per_login": {k: round(v, 1) for k, v in switches.items()},
        "push_ms": summary_ms([s.push_s for s in samples]),
        "login_ms": summary_ms([s.login_s for s in samples]),
        "redis": redis,
    }


# The phone calls of the first authsvc scenario's recorded login (Logins.setup), which the
# floor scenarios send so that the floor parses what authsvc parses.
PhoneCalls = dict[str, PhoneRequest]


async def _scenario(
    name: str,
    folder: Path,
    processes: int,
    redis_urls: list[str],
    args: argparse.Namespace,
    recorded: PhoneCalls,
) -> dict[str, Any]:
    env = dict(AUTHSVC_BENCH_ENV)
    if name == "redis_cluster":
        env["REDIS_CLUSTER_URL"] = redis_urls[0]
    cluster = Cluster(
        folder / name,
        redis_url=redis_urls[0],
        redis_prefix=f"qrauth-bench:{uuid.uuid4()}:",
        authsvc_count=processes,
        portal_count=1,
        extra_env=env,
        extra_clients=[HALL],
        registry_file=bench_registry(folder / f"{name}-registry"),
    )

    async def flow(http: aiohttp.ClientSession) -> Flow:
        logins = Logins(http, cluster.authsvc_url, "")
        await logins.setup(folder / name / "phones", args.phones, Algorithm.ES256)
        if not recorded:
            recorded.update(logins.phone_requests)
        return logins.authsvc_login

    return await _behind_nginx(name, cluster, "authsvc", flow, redis_urls, args, processes)


async def _behind_nginx(
    name: str,
    cluster: Cluster,
    server: str,
    flow: Callable[[aiohttp.ClientSession], Awaitable[Flow]],
    redis_urls: list[str],
    args: argparse.Namespace,
    processes: int,
) -> dict[str, Any]:
    """Start `cluster`, measure the login `flow` makes (CPU of its `server` processes and of
    nginx), stop it."""
    log(f"{name}: starting nginx + {processes} {server}")
    await cluster.start(demo_data=False)
    try:
        async with session() as http:
            login = await flow(http)
            assert cluster.nginx is not None
            nginx = psutil.Process(cluster.nginx.pid)
            pids = {
                server: [p.popen.pid for p in cluster.authsvc],
                "nginx": [c.pid for c in nginx.children()] + [nginx.pid],
            }
            result = await _measure(login, pids, redis_urls, args, processes)
    finally:
        await cluster.stop()
    result[f"{server}_processes"] = processes
    log(f"{name}: {json.dumps(result)}")
    return result


class FloorCluster(Cluster):
    """The same nginx in front of floor processes (sharing one Redis prefix) instead of authsvc."""

    def start_authsvc(self, index: int, port: int | None = None) -> Process:
        port = port or free_port()
        args = ["-m", "bench.floor", "--port", str(port), "--redis-url", self.redis_url]
        args += ["--prefix", self.redis_prefix]
        return self._spawn(f"floor-{index}", args, dict(os.environ), port)


def _floor_logins(http: aiohttp.ClientSession, url: str, recorded: PhoneCalls) -> Logins:
    logins = Logins(http, "", url)
    logins.phone_requests = recorded
    return logins


async def _floor_behind_nginx(
    name: str, folder: Path, processes: int, args: argparse.Namespace, recorded: PhoneCalls
) -> dict[str, Any]:
    cluster = FloorCluster(
        folder / name,
        redis_url=args.redis_url,
        redis_prefix=f"qrauth-bench:{uuid.uuid4()}:floor:",
        authsvc_count=processes,
        portal_count=1,
    )

    async def flow(http: aiohttp.ClientSession) -> Flow:
        return _floor_logins(http, cluster.authsvc_url, recorded).floor_login

    return await _behind_nginx(name, cluster, "floor", flow, [args.redis_url], args, processes)


async def _floor(folder: Path, args: argparse.Namespace, recorded: PhoneCalls) -> dict[str, Any]:
    server = start_floor(folder, args.redis_url, f"qrauth-bench:{uuid.uuid4()}:floor:")
    try:
        await wait_ready(server)
        async with session() as http:
            logins = _floor_logins(http, server.url, recorded)
            result = await _measure(
                logins.floor_login, {"floor": [server.process.pid]}, [args.redis_url], args
            )
    finally:
        server.stop()
    log(f"floor: {json.dumps(result)}")
    return result


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    load = psutil.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        folder = Path(tmp)
        own = None if args.redis_url else lone_redis(folder / "redis", aof=False)
        try:
            url = own.url if own is not None else args.redis_url
            return await _scenarios(
                folder, argparse.Namespace(**{**vars(args), "redis_url": url}), load
            )
        finally:
            if own is not None:
                own.stop()


async def _scenarios(
    folder: Path, args: argparse.Namespace, load: tuple[float, ...]
) -> dict[str, Any]:
    recorded: PhoneCalls = {}  # by the first scenario, for the floor's
    results = {
        "one_process": await _scenario("one_process", folder, 1, [args.redis_url], args, recorded),
        "floor": await _floor(folder, args, recorded),
    }
    if not args.no_floor_behind_nginx:
        for name, count in (("floor_one_process", 1), ("floor_three_processes", 3)):
            results[name] = await _floor_behind_nginx(name, folder, count, args, recorded)
    results["three_processes"] = await _scenario(
        "three_processes", folder, 3, [args.redis_url], args, recorded
    )
    if not args.no_redis_cluster:
        redis_cluster = RedisCluster(folder / "redis-cluster")
        redis_cluster.start()
        try:
            masters = sorted({redis_cluster.master_of(s).url for s in (0, 8000, 16000)})
            results["redis_cluster"] = await _scenario(
                "redis_cluster", folder, 3, masters, args, recorded
            )
        finally:
            redis_cluster.stop()
    return {
        "logins_per_scenario": args.logins,
        "concurrency": args.concurrency,
        "rate_per_process": args.rate_per_process,
        "machine": {"cpus": psutil.cpu_count(), "load_avg_at_start": [round(x, 2) for x in load]},
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.cluster")
    parser.add_argument("--logins", type=int, default=300)
    parser.add_argument(
        "--rate-per-process",
        type=float,
        default=0.0,
        help="open loop at this many logins/s per authsvc process (--logins per process) "
        "instead of the closed loop: the same load on each process, one or three",
    )
    parser.add_argument(
        "--no-redis-cluster", action="store_true", help="skip the Redis Cluster scenario"
    )
    parser.add_argument(
        "--no-floor-behind-nginx",
        action="store_true",
        help="skip the floor behind nginx (one and three floor processes)",
    )
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument("--phones", type=int, default=12)
    parser.add_argument(
        "--redis-url",
        default="",
        help="the Redis of the one-Redis scenarios (default: a redis-server of its own, so that "
        "its counters are the bench's alone)",
    )
    args = parser.parse_args()
    print(json.dumps(asyncio.run(_main(args)), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
