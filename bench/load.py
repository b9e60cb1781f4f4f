"""The load generator: its own process, driven by bench.__main__ one JSON line at a time.

stdin gets commands, stdout answers (one JSON line each), stderr is for progress. Every phase is
bounded by a count and by a deadline, and every login by a timeout.

  {"op": "setup", "authsvc": URL, "floor": URL, "home": DIR, "phones": N, "algorithm": "ES256",
   "redis_url": URL, "prefixes": {"authsvc": P, "floor": P}}
  {"op": "closed", "target": T, "concurrency": C, "count": N, "seconds": S}
      T: authsvc | oidc | floor | authsvc_longpoll | floor_longpoll
  {"op": "open", "target": …, "rate": R, "count": N, "seconds": S, "max_in_flight": M}
  {"op": "tickets", "targets": {"authsvc": N, "floor": N}, "via": "redis"|"http"}
  {"op": "idle_open", "targets": ["authsvc", "floor"], "concurrency": C, "seconds": S}
  {"op": "idle_close"}
  {"op": "quit"}
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from authsvc.core.crypto import Algorithm
from bench import seed
from bench.logins import USER_AGENT, LoginFailed, Logins, Sample, session
from bench.rawws import IdleSocket
from mobile_sim.phone import PhoneError


def raise_nofile() -> int:
    """Soft limit on open files up to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of unsorted values (NaN when empty)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {f"p{p}": round(percentile(values, p) * 1e3, 3) for p in (50, 90, 99)} | {
        "max": round(max(values) * 1e3, 3) if values else math.nan
    }


def _cpu() -> float:
    """CPU seconds this generator process has used."""
    return time.process_time()


def _error_name(exc: BaseException) -> str:
    if isinstance(exc, PhoneError):
        return f"PhoneError:{exc.code}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP{exc.status}"
    if isinstance(exc, LoginFailed | AssertionError | OSError):
        return f"{type(exc).__name__}:{str(exc)[:60]}"
    return type(exc).__name__


class Generator:
    def __init__(self) -> None:
        self.http: aiohttp.ClientSession | None = None
        self.logins: Logins | None = None
        self.tickets: dict[str, list[tuple[str, str]]] = {}
        self.idle: dict[str, list[IdleSocket]] = {}
        self.redis: tuple[str, dict[str, str]] = ("", {})

    def _flow(self, target: str) -> Callable[[], Awaitable[Sample]]:
        """authsvc: the broker login; oidc: it and the code redeemed, the ID token verified;
        *_longpoll: the browser long-polls instead of holding a WebSocket."""
        assert self.logins is not None
        flows = {
            "authsvc": self.logins.authsvc_login,
            "oidc": self.logins.oidc_login,
            "floor": self.logins.floor_login,
            "authsvc_longpoll": self.logins.authsvc_longpoll_login,
            "floor_longpoll": self.logins.floor_longpoll_login,
        }
        return flows[target]

    async def setup(self, cmd: dict[str, Any]) -> dict[str, Any]:
        self.redis = cmd["redis_url"], cmd["prefixes"]
        self.http = session()
        self.logins = Logins(self.http, cmd["authsvc"], cmd["floor"])
        started = time.perf_counter()
        await self.logins.setup(Path(cmd["home"]), cmd["phones"], Algorithm(cmd["algorithm"]))
        return {
            "phones": cmd["phones"],
            "seconds": round(time.perf_counter() - started, 2),
            "nofile": raise_nofile(),
        }

    async def _one(
        self,
        flow: Callable[[], Awaitable[Sample]],
        samples: list[Sample],
        errors: Counter[str],
        timeout: float,
    ) -> None:
        try:
            async with asyncio.timeout(timeout):
                samples.append(await flow())
        except Exception as exc:  # counted and reported, never fatal
            errors[_error_name(exc)] += 1

    def _report(
        self, samples: list[Sample], errors: Counter[str], elapsed: float, cpu: float
    ) -> dict[str, Any]:
        done = len(samples)
        token = [s.token_s for s in samples if not math.isnan(s.token_s)]
        return {
            "done": done,
            "errors": dict(errors),
            "elapsed_s": round(elapsed, 3),
            "logins_per_s": round(done / elapsed, 1) if elapsed > 0 else 0.0,
            "push_ms": summary_ms([s.push_s for s in samples]),
            "after_response_ms": summary_ms([s.after_response_s for s in samples]),
            "login_ms": summary_ms([s.login_s for s in samples]),
            "generator_cpu_s": round(cpu, 3),
        } | ({"token_ms": summary_ms(token)} if token else {})

    async def closed(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Closed loop: `concurrency` users, each starting its next login when one ends."""
        flow, count = self._flow(cmd["target"]), cmd["count"]
        samples: list[Sample] = []
        errors: Counter[str] = Counter()
        started = 0
        deadline = time.monotonic() + cmd["seconds"]

        async def user() -> None:
            nonlocal started
            while started < count and time.monotonic() < deadline:
                started += 1
                await self._one(flow, samples, errors, cmd.get("timeout", 15.0))

        cpu, t0 = _cpu(), time.perf_counter()
        await asyncio.gather(*(user() for _ in range(cmd["concurrency"])))
        return self._report(samples, errors, time.perf_counter() - t0, _cpu() - cpu)

    async def open(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Open loop: logins start on a fixed schedule (`rate` per second) whatever the server
        does; at most `max_in_flight` at once (a start beyond that is dropped and counted)."""
        flow, rate = self._flow(cmd["target"]), float(cmd["rate"])
        count = max(1, min(cmd["count"], int(rate * cmd["seconds"])))
        samples: list[Sample] = []
        errors: Counter[str] = Counter()
        tasks: set[asyncio.Task[None]] = set()
        lags: list[float] = []
        dropped = 0
        cpu, t0 = _cpu(), time.perf_counter()
        for i in range(count):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            lags.append(max(time.perf_counter() - due, 0.0))
            if len(tasks) >= cmd["max_in_flight"]:
                dropped += 1
                continue
            task = asyncio.create_task(self._one(flow, samples, errors, cmd.get("timeout", 15.0)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        report = self._report(samples, errors, time.perf_counter() - t0, _cpu() - cpu)
        return report | {
            "offered_per_s": rate,
            "started": count - dropped,
            "dropped": dropped,
            "start_lag_ms": summary_ms(lags),
        }

    async def make_tickets(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Tickets for idle sockets, per target: {"targets": {name: count}, "via": …}."""
        return {
            target: await self._tickets(target, count, cmd["via"])
            for target, count in cmd["targets"].items()
        }

    async def _tickets(self, target: str, count: int, via: str) -> dict[str, Any]:
        """Written into Redis (bench.seed), or over HTTP (POST /api/tickets, or the floor's
        POST /tickets) when `via` is "http"."""
        assert self.logins is not None
        made: list[tuple[str, str]] = []
        errors: Counter[str] = Counter()
        t0 = time.perf_counter()
        if via == "redis":
            url, prefix = self.redis[0], self.redis[1][target]
            if target == "authsvc":
                request_id = self.logins.request_id
                made = await seed.authsvc_tickets(url, prefix, request_id, USER_AGENT, count)
            else:
                made = await seed.floor_tickets(url, prefix, count)
        else:
            make = self.logins.authsvc_ticket if target == "authsvc" else self.logins.floor_ticket
            gate = asyncio.Semaphore(32)

            async def one() -> None:
                async with gate:
                    try:
                        ws_url, secret, _ = await make()
                        made.append((ws_url, secret))
                    except Exception as exc:
                        errors[_error_name(exc)] += 1

            await asyncio.gather(*(one() for _ in range(count)))
        self.tickets[target] = made
        elapsed = time.perf_counter() - t0
        return {
            "made": len(made),
            "via": via,
            "errors": dict(errors),
            "elapsed_s": round(elapsed, 2),
            "per_s": round(len(made) / elapsed, 1),
        }

    async def idle_open(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """One authenticated WebSocket per ticket, for every target at once (bench.rawws)."""
        cpu, t0 = _cpu(), time.perf_counter()
        deadline = time.monotonic() + cmd["seconds"]
        answers = await asyncio.gather(
            *(self._open(t, cmd["concurrency"], deadline) for t in cmd["targets"])
        )
        return dict(zip(cmd["targets"], answers, strict=True)) | {
            "generator_cpu_s": round(_cpu() - cpu, 3),
            "elapsed_s": round(time.perf_counter() - t0, 2),
        }

    async def _open(self, target: str, concurrency: int, deadline: float) -> dict[str, Any]:
        assert self.logins is not None
        base = self.logins.authsvc if target == "authsvc" else self.logins.floor
        url = urlsplit(base)
        host, port = url.hostname or "127.0.0.1", url.port or 80
        pending, opened = self.tickets.pop(target, []), self.idle.setdefault(target, [])
        errors: Counter[str] = Counter()

        async def worker() -> None:
            while pending and time.monotonic() < deadline:
                path, secret = pending.pop()
                hello = {"type": "auth", "secret": secret}
                try:
                    opened.append(await IdleSocket.open(host, port, path, base, hello))
                except Exception as exc:
                    errors[_error_name(exc)] += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return {
            "open": len(opened),
            "errors": dict(errors),
            "elapsed_s": round(time.perf_counter() - t0, 2),
        }

    async def idle_close(self, _: dict[str, Any]) -> dict[str, Any]:
        """Close every idle socket; reports how many the server had ended on its own."""
        gate = asyncio.Semaphore(500)

        async def close(sock: IdleSocket) -> None:
            async with gate:
                await sock.close()

        answer = {}
        for target, socks in self.idle.items():
            ended = sum(1 for s in socks if s.ended_by_server)
            await asyncio.gather(*(close(s) for s in socks))
            answer[target] = {"closed": len(socks), "ended_early": ended}
        self.idle = {}
        return answer

    async def close(self) -> None:
        if self.idle:
            await self.idle_close({})
        if self.http is not None:
            await self.http.close()


async def serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    gen = Generator()
    ops: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
        "setup": gen.setup,
        "closed": gen.closed,
        "open": gen.open,
        "tickets": gen.make_tickets,
        "idle_open": gen.idle_open,
        "idle_close": gen.idle_close,
    }
    try:
        while line := await reader.readline():
            cmd = json.loads(line)
            if cmd["op"] == "quit":
                break
            try:
                answer = await ops[cmd["op"]](cmd)
            except Exception as exc:
                answer = {"failed": f"{type(exc).__name__}: {exc}"[:500]}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        await gen.close()


def main() -> None:
    raise_nofile()
    asyncio.run(serve())


if __name__ == "__main__":
    main()
