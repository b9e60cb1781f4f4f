"""The orchestrator's side of the processes: the load generator's pipe, CPU accounting around
a phase, and the quiet gate."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.redisstats import Delta, Probe, delta
from bench.servers import Server

# Empty: the bench starts a redis-server of its own (its counters are then ours alone).
REDIS_OVERRIDE = os.environ.get("QRAUTH_BENCH_REDIS_URL", "")
T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - T0:6.1f}s] {message}", file=sys.stderr, flush=True)


class Remote:
    """The load generator process, one JSON line per command and per answer."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls) -> Remote:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.load",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 22,
            cwd=Path(__file__).resolve().parent.parent,
        )
        return cls(process)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def call(self, timeout: float, **cmd: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.process.stdin.drain()
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"load generator exited during {cmd['op']}")
        answer: dict[str, Any] = json.loads(line)
        if "failed" in answer:
            raise RuntimeError(f"load generator failed {cmd['op']}: {answer['failed']}")
        return answer

    async def stop(self) -> None:
        if self.process.returncode is None:
            assert self.process.stdin is not None
            try:
                self.process.stdin.write(b'{"op": "quit"}\n')
                await self.process.stdin.drain()
                await asyncio.wait_for(self.process.wait(), 60)
            except (TimeoutError, ConnectionError):
                self.process.kill()
                await self.process.wait()


def _cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _machine_cpu_s() -> tuple[float, float]:
    """Whole-machine CPU seconds: (busy, stolen by the hypervisor)."""
    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
    return busy, getattr(t, "steal", 0.0)


@dataclass
class Quiet:
    """Before a measured phase, wait until processes other than ours use less than `threshold`
    cores (on a shared machine other people's tests come and go): at most `budget` seconds in
    all, at most a third of it at one gate."""

    pids: list[int]
    budget: float
    threshold: float = 0.25

    async def wait(self) -> dict[str, float]:
        start, limit = time.monotonic(), min(self.budget, self.budget / 3 + 1.0)
        while True:
            busy, ours = _machine_cpu_s()[0], sum(_cpu(p) for p in self.pids)
            await asyncio.sleep(1.0)
            others = _machine_cpu_s()[0] - busy - (sum(_cpu(p) for p in self.pids) - ours)
            waited = time.monotonic() - start
            if others < self.threshold or waited >= limit:
                break
        self.budget = max(self.budget - (waited - 1.0), 0.0)
        if others >= self.threshold:
            log(f"{others:.2f} cores busy elsewhere (waited {waited - 1.0:.0f} s); going on")
        return {"waited_s": round(waited - 1.0, 1), "others_cores": round(others, 2)}


Call = tuple[Remote, float, dict[str, Any]]


async def measured(
    servers: list[Server], calls: list[Call], probe: Probe
) -> tuple[list[dict[str, Any]], dict[str, float], Delta]:
    """Generator commands run at once, with the CPU seconds used meanwhile by each server (by
    name, or as `server` when there is one), the generators, Redis, the whole machine, and
    `others`: the machine minus all of those (other people's work on a shared machine, py-spy);
    and the Redis commands and round trips meanwhile."""
    names = ["server"] if len(servers) == 1 else [s.name for s in servers]
    names += ["server_system", "generator", "redis", "machine", "steal"]

    async def sample() -> list[float]:
        system = sum(s.cpu_split()[1] for s in servers)
        generators = sum(_cpu(remote.pid) for remote, _, _ in calls)
        return [*(s.cpu_s() for s in servers), system, generators, 0.0, *_machine_cpu_s()]

    before, redis_before = await sample(), await probe.sample()
    answers = await asyncio.gather(*(remote.call(t, **cmd) for remote, t, cmd in calls))
    redis = delta(redis_before, await probe.sample())
    after = await sample()
    used = {n: round(b - a, 3) for n, a, b in zip(names, before, after, strict=True)}
    used["redis"] = redis.cpu_s
    ours = sum(used[s] for s in names[: len(servers)]) + used["generator"] + used["redis"]
    used["others"] = round(max(used["machine"] - ours, 0.0), 3)
    return list(answers), used, redis


async def measured_one(
    remote: Remote, server: Server, probe: Probe, timeout: float, **cmd: Any
) -> dict[str, Any]:
    """One generator command, its CPU (`cpu_s`) and its Redis work per login (`redis`)."""
    (answer,), used, redis = await measured([server], [(remote, timeout, cmd)], probe)
    return answer | {"cpu_s": used, "redis": redis.per_login(answer.get("done", 0))}
