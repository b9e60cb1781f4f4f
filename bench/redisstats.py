"""Redis work per login, counted at the server: `INFO cpu stats commandstats` before and after
a phase, on the bench's own redis-server (no other user to pollute the counters).

What Redis 7.0 counts (measured: tests/bench/test_redis_counts.py):

* `commandstats` `calls` count every command executed, those a Lua script makes with
  `redis.call` included (an EVAL of two calls is eval + its two commands), and MULTI and EXEC
  as commands of their own; `total_commands_processed` is their sum. → commands.
* `total_reads_processed` counts read events on client sockets: a request the client sent and
  then waited for is one read, whatever it holds (one command, a pipeline, a MULTI…EXEC block,
  an EVALSHA). → round trips. It over-counts a little: a request over 16 KiB takes more than
  one read, and opening or closing a connection costs reads of its own
  (`total_connections_received` is reported beside it, so churn shows).

Each sample is one INFO command on one connection of our own: its own call and read fall in
the next delta, and `delta` takes them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

SECTIONS = ("cpu", "stats", "commandstats")


@dataclass(frozen=True)
class Counters:
    cpu_s: float
    reads: int
    connections: int
    calls: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, info: dict[str, Any]) -> Counters:
        calls = {
            key.removeprefix("cmdstat_"): int(value["calls"])
            for key, value in info.items()
            if key.startswith("cmdstat_") and isinstance(value, dict)
        }
        return cls(
            cpu_s=float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
            reads=int(info["total_reads_processed"]),
            connections=int(info["total_connections_received"]),
            calls=calls,
        )


@dataclass(frozen=True)
class Delta:
    """Redis work between two samples, our own INFO taken out."""

    cpu_s: float
    round_trips: int
    connections: int
    calls: dict[str, int]

    @property
    def commands(self) -> int:
        return sum(self.calls.values())

    def per_login(self, logins: int) -> dict[str, Any]:
        def each(n: int) -> float | None:
            return round(n / logins, 2) if logins else None

        return {
            "commands_per_login": each(self.commands),
            "round_trips_per_login": each(self.round_trips),
            "commands_by_name_per_login": {
                name: each(n) for name, n in sorted(self.calls.items(), key=lambda c: -c[1])
            },
            "commands": self.commands,
            "round_trips": self.round_trips,
            "connections_opened": self.connections,
        }


def delta(before: Counters, after: Counters) -> Delta:
    calls = {
        name: n - before.calls.get(name, 0)
        for name, n in after.calls.items()
        if n - before.calls.get(name, 0) > 0
    }
    calls["info"] = calls.get("info", 0) - 1  # the `before` sample's own INFO
    if calls["info"] <= 0:
        del calls["info"]
    return Delta(
        cpu_s=round(after.cpu_s - before.cpu_s, 3),
        round_trips=after.reads - before.reads - 1,
        connections=after.connections - before.connections,
        calls=calls,
    )


class Probe:
    """One connection of our own to the Redis under test, sampling its counters."""

    def __init__(self, url: str) -> None:
        self.client = Redis.from_url(url, decode_responses=True, protocol=2)

    async def sample(self) -> Counters:
        return Counters.parse(await self.client.info(*SECTIONS))

    async def close(self) -> None:
        await self.client.aclose()
