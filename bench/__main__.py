"""`python -m bench` (`make bench`): start authsvc and the floor on Redis, drive them from a
separate load-generator process, print ONE JSON object on stdout, stop and clean up.

Progress goes to stderr. bench/README.md says what each figure means and how it is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp

from authsvc.config import EVENT_LOOPS, default_of
from authsvc.core.crypto import Algorithm
from bench import micro, signatures
from bench.harness import REDIS_OVERRIDE, T0, Quiet, Remote, log, measured, measured_one
from bench.load import raise_nofile
from bench.redisstats import Probe
from bench.report import compose, table
from bench.servers import (
    Profiler,
    Server,
    purge,
    start_authsvc,
    start_floor,
    wait_ready,
)
from tests.support.redis_cluster import lone_redis

# authsvc's RedisStore has redis-py's default asyncio pool: 100 connections, and the 101st
# concurrent command fails at once ("Too many connections" → 503). Stay well below it.
IDLE_OPEN_CONCURRENCY = 64
BENCH_CLIENT = "hall"  # tests.support.browser.BrowserLogin's default client
LONGPOLL_MAX_CONCURRENCY = 32
PAIRS = 4  # pairs of alternating turns: broker and OIDC logins; authsvc's and the floor's
OIDC_WARMUP = 20  # OIDC logins before the measured ones: the token endpoint's first calls


@dataclass(frozen=True)
class Plan:
    logins: int
    main_seconds: float
    oidc_logins: int
    oidc_seconds: float
    idle_sockets: int
    phones: int
    levels: tuple[int, ...]
    level_seconds: float
    latency_seconds: float
    latency_samples: int
    micro_samples: int
    quiet_wait: float
    algorithm: str
    profile: str
    idle_tickets: str
    extra_logins: int
    extra_warmup: int
    extra_latency_seconds: float

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Plan:
        quick = args.quick
        return cls(
            logins=args.logins or (200 if quick else 1000),
            main_seconds=args.max_seconds or (20.0 if quick else 60.0),
            oidc_logins=args.oidc_logins or args.logins or (200 if quick else 1000),
            oidc_seconds=args.oidc_max_seconds or (5.0 if quick else 25.0),
            idle_sockets=args.idle_sockets or (500 if quick else 10_000),
            phones=args.phones or (4 if quick else 20),
            levels=tuple(
                int(c) for c in (args.concurrency or ("4,16" if quick else "8,32,64")).split(",")
            ),
            level_seconds=2.0 if quick else 3.0,
            latency_seconds=3.0 if quick else 6.0,
            latency_samples=50 if quick else 250,
            micro_samples=1000,
            quiet_wait=args.quiet_wait if args.quiet_wait >= 0 else (10.0 if quick else 60.0),
            algorithm=args.device_alg,
            profile=args.profile,
            idle_tickets=args.idle_tickets,
            extra_logins=args.extra_logins or (60 if quick else 500),
            extra_warmup=10 if quick else 30,
            extra_latency_seconds=1.5 if quick else 4.0,
        )


async def drive(
    remote: Remote, server: Server, plan: Plan, quiet: Quiet, probe: Probe
) -> dict[str, Any]:
    """Ramp the closed loop, run N logins at the best concurrency, then latency at half of it."""
    target = server.name
    await remote.call(120, op="closed", target=target, concurrency=8, count=50, seconds=10)
    ramp: dict[str, Any] = {}
    for level in plan.levels:
        answer = await remote.call(
            plan.level_seconds + 60,
            op="closed",
            target=target,
            concurrency=level,
            count=10**6,
            seconds=plan.level_seconds,
        )
        ramp[str(level)] = answer["logins_per_s"]
        log(
            f"{target}: concurrency {level:3d} → {answer['logins_per_s']} logins/s, "
            f"errors {answer['errors']}"
        )
    best = max(plan.levels, key=lambda c: ramp[str(c)])
    profile = _profile_path(plan, target)
    runs = await measure(
        remote, server, quiet, probe, Shape.of(plan), target=target, best=best, profile=profile
    )
    return {"ramp": ramp, "best_concurrency": best} | runs


@dataclass(frozen=True)
class Shape:
    """How long the measured closed-loop run and the half-load run of a login variant are."""

    logins: int
    seconds: float
    latency_seconds: float
    latency_samples: int
    latency_cap: float  # the half-load run's most seconds

    @classmethod
    def of(cls, plan: Plan) -> Shape:
        return cls(
            plan.logins,
            plan.main_seconds,
            plan.latency_seconds,
            plan.latency_samples,
            4 * plan.latency_seconds,
        )

    @classmethod
    def extra(cls, plan: Plan) -> Shape:
        """The shorter runs of the embedded store and the long-poll path."""
        latency = plan.extra_latency_seconds
        samples = round(plan.latency_samples * latency / plan.latency_seconds)
        return cls(plan.extra_logins, plan.main_seconds / 6, latency, samples, 2 * latency)


async def measure(
    remote: Remote,
    server: Server,
    quiet: Quiet,
    probe: Probe,
    shape: Shape,
    *,
    target: str,
    best: int,
    profile: Path | None = None,
) -> dict[str, Any]:
    """The measured closed-loop run at concurrency `best`, then the open loop at half its rate."""
    name = server.name if target == "authsvc" else target  # the embedded server's logins too
    profiler = Profiler(server.process.pid, profile) if profile is not None else None
    main_gate = await quiet.wait()
    try:
        main = await measured_one(
            remote,
            server,
            probe,
            300,
            op="closed",
            target=target,
            concurrency=best,
            count=shape.logins,
            seconds=shape.seconds,
        )
    finally:
        if profiler is not None and profile is not None:
            profiler.stop()
            log(f"py-spy profile of the measured {name} run → {profile} (figures inflated)")
    if profile is not None:
        write_profile_meta(profile, target, main)
    main["requested"] = shape.logins
    log(
        f"{name}: {main['done']} logins at concurrency {best}: {main['logins_per_s']}/s, "
        f"server CPU {main['cpu_s']['server']} s, Redis {main['redis']['commands_per_login']} "
        f"commands / {main['redis']['round_trips_per_login']} round trips per login, "
        f"errors {main['errors']}"
    )
    rate = max(main["logins_per_s"] / 2, 1.0)
    # Enough logins for a p99 worth the name, within the cap (4 × the planned time).
    seconds = min(max(shape.latency_seconds, shape.latency_samples / rate), shape.latency_cap)
    half_gate = await quiet.wait()
    half = await measured_one(
        remote,
        server,
        probe,
        seconds + 90,
        op="open",
        target=target,
        rate=rate,
        count=shape.logins,
        seconds=seconds,
        max_in_flight=1000,
    )
    log(
        f"{name}: open loop at {rate:.1f}/s: push p50 {half['push_ms']['p50']} ms "
        f"p99 {half['push_ms']['p99']} ms, errors {half['errors']}"
    )
    main["quiet_gate"], half["quiet_gate"] = main_gate, half_gate
    return {"main": main, "half": half}


def _profile_path(plan: Plan, target: str) -> Path | None:
    """Where py-spy writes the measured run of authsvc (FILE) and of the floor (FILE.floor)."""
    if not plan.profile or target not in ("authsvc", "floor"):
        return None
    return Path(plan.profile + (".floor" if target == "floor" else ""))


def write_profile_meta(profile: Path, target: str, run: dict[str, Any]) -> None:
    """Beside the collapsed stacks: how many logins and how much server CPU they sampled
    (`python -m bench.profile FILE --steps` turns shares into ms per login with it)."""
    meta = {
        "target": target,
        "logins": run["done"],
        "server_cpu_s": run["cpu_s"]["server"],
        "elapsed_s": run["elapsed_s"],
    }
    profile.with_name(profile.name + ".meta.json").write_text(json.dumps(meta) + "\n")


async def drive_oidc(
    remote: Remote, server: Server, plan: Plan, quiet: Quiet, probe: Probe, concurrency: int
) -> dict[str, Any]:
    """Complete OIDC logins (the broker login, the code redeemed at /token, the ID token
    verified), closed loop at the broker logins' best concurrency."""
    warm = await remote.call(
        60, op="closed", target="oidc", concurrency=concurrency, count=OIDC_WARMUP, seconds=10
    )
    profile = Path(plan.profile + ".oidc") if plan.profile else None
    profiler = Profiler(server.process.pid, profile) if profile is not None else None
    gate = await quiet.wait()
    try:
        main = await measured_one(
            remote,
            server,
            probe,
            plan.oidc_seconds + 60,
            op="closed",
            target="oidc",
            concurrency=concurrency,
            count=plan.oidc_logins,
            seconds=plan.oidc_seconds,
        )
    finally:
        if profiler is not None:
            profiler.stop()
    if profile is not None:
        write_profile_meta(profile, "oidc", main)
        log(f"py-spy profile of the OIDC run → {profile} (figures inflated)")
    main |= {"requested": plan.oidc_logins, "quiet_gate": gate, "warmup_errors": warm["errors"]}
    log(
        f"oidc: {main['done']} logins with verified ID tokens at concurrency {concurrency}: "
        f"{main['logins_per_s']}/s, server CPU {main['cpu_s']['server']} s, token p50 "
        f"{main.get('token_ms', {}).get('p50')} ms, errors {main['errors']}"
    )
    main["paired"] = await paired_oidc_turns(remote, server, plan, probe, concurrency)
    return main


class Side(NamedTuple):
    """One side of alternating turns: a login variant on a server, at a concurrency."""

    target: str
    server: Server
    concurrency: int


class TurnFigures(NamedTuple):
    cpu_ms: float  # server CPU per login
    logins_per_s: float


async def paired_turns(
    remote: Remote, probe: Probe, sides: tuple[Side, Side], *, count: int, seconds: float
) -> dict[str, list[TurnFigures]]:
    """Alternating turns (a, b, b, a, …), PAIRS pairs of `count` logins, seconds apart: per
    side, each turn's (server CPU ms per login, logins/s). Separate measured runs are a minute
    or more apart, and the machine's drift between them (±30 %) is larger than what is
    compared."""
    turns: dict[str, list[TurnFigures]] = {side.target: [] for side in sides}
    for pair in range(PAIRS):
        for side in sides if pair % 2 == 0 else sides[::-1]:
            run = await measured_one(
                remote, side.server, probe, seconds + 60, op="closed", target=side.target,
                concurrency=side.concurrency, count=count, seconds=seconds / PAIRS,
            )  # fmt: skip
            if run["errors"] or not run["done"]:
                raise RuntimeError(f"paired {side.target} turn: {run['done']}, {run['errors']}")
            cpu_ms = 1e3 * run["cpu_s"]["server"] / run["done"]
            turns[side.target].append(TurnFigures(cpu_ms, run["logins_per_s"]))
    return turns


def _paired(turns: dict[str, list[TurnFigures]], a: str, b: str, figure: str) -> list[float]:
    """b ÷ a of `figure` (a TurnFigures field), turn by turn."""
    return [
        getattr(y, figure) / getattr(x, figure) for x, y in zip(turns[a], turns[b], strict=True)
    ]


def _summary(ratios: list[float]) -> dict[str, Any]:
    return {
        "median": round(statistics.median(ratios), 3),
        "range": [round(min(ratios), 3), round(max(ratios), 3)],
    }


def _turns_ms(turns: dict[str, list[TurnFigures]]) -> dict[str, list[float]]:
    return {k: [round(t.cpu_ms, 3) for t in ts] for k, ts in turns.items()}


async def paired_oidc_turns(
    remote: Remote, server: Server, plan: Plan, probe: Probe, concurrency: int
) -> dict[str, Any]:
    """The OIDC login's CPU against the broker login's, in alternating turns: what /token adds
    (~10-25 %) is smaller than the drift between the two measured runs."""
    count = max(plan.oidc_logins // PAIRS, 150)  # CPU times tick in 10 ms
    sides = (Side("authsvc", server, concurrency), Side("oidc", server, concurrency))
    turns = await paired_turns(remote, probe, sides, count=count, seconds=plan.oidc_seconds)
    ratio = _summary(_paired(turns, "authsvc", "oidc", "cpu_ms"))
    log(f"oidc ÷ broker login in {PAIRS} paired turns of {count} logins: {ratio['median']:.3f}")
    return {
        "logins_per_turn": count,
        "ms_per_login": _turns_ms(turns),
        "oidc_over_broker": ratio["median"],
        "oidc_over_broker_range": ratio["range"],
    }


async def paired_floor_turns(
    remote: Remote, probe: Probe, plan: Plan, authsvc: Side, floor: Side
) -> dict[str, Any]:
    """authsvc's broker login against the floor's, each at its own best concurrency, in
    alternating turns: the ratios of server CPU per login and of logins/s that issue 14's
    targets are read on (the measured runs' ratios drift with the machine between them)."""
    count = max(plan.logins // PAIRS, 150)
    turns = await paired_turns(
        remote, probe, (authsvc, floor), count=count, seconds=plan.main_seconds
    )
    cpu = _summary(_paired(turns, "floor", "authsvc", "cpu_ms"))
    rate = _summary(_paired(turns, "floor", "authsvc", "logins_per_s"))
    log(
        f"authsvc ÷ floor in {PAIRS} paired turns of {count} logins: CPU per login "
        f"{cpu['median']:.3f}, logins/s {rate['median']:.3f}"
    )
    return {
        "logins_per_turn": count,
        "concurrency": {"authsvc": authsvc.concurrency, "floor": floor.concurrency},
        "ms_per_login": _turns_ms(turns),
        "logins_per_s": {k: [round(t.logins_per_s, 1) for t in ts] for k, ts in turns.items()},
        "server_cpu_over_floor": cpu,
        "logins_per_s_over_floor": rate,
    }


async def drive_extra(
    remote: Remote,
    server: Server,
    plan: Plan,
    quiet: Quiet,
    probe: Probe,
    *,
    target: str,
    best: int,
) -> dict[str, Any]:
    """A login variant (embedded store, long-poll) at a concurrency found for the WebSocket
    login on Redis: a warm-up, then the shorter measured and half-load runs."""
    warm = await remote.call(
        60, op="closed", target=target, concurrency=8, count=plan.extra_warmup, seconds=10
    )
    runs = await measure(remote, server, quiet, probe, Shape.extra(plan), target=target, best=best)
    return {"best_concurrency": best, "warmup_errors": warm["errors"]} | runs


async def idle(
    remotes: dict[str, Remote],
    servers: list[Server],
    count: int,
    via: str,
    quiet: Quiet,
    probe: Probe,
) -> dict:
    """RSS growth per authenticated idle WebSocket, `count` sockets on each server, opened for
    both servers at once (their RSS are separate, and it halves the wait), each server's from
    its own generator process (one process may hold only RLIMIT_NOFILE sockets)."""
    names = [s.name for s in servers]
    made = {}
    for name in names:
        answer = await remotes[name].call(600, op="tickets", targets={name: count}, via=via)
        made[name] = answer[name]
    log(f"tickets via {via}: " + ", ".join(f"{n} {made[n]['made']}" for n in names))
    gate = await quiet.wait()
    before = {s.name: s.rss() for s in servers}
    command = {"op": "idle_open", "concurrency": IDLE_OPEN_CONCURRENCY, "seconds": 300}
    answers, used, _ = await measured(
        servers, [(remotes[n], 600, command | {"targets": [n]}) for n in names], probe
    )
    window = max(a["elapsed_s"] for a in answers)
    opened = {n: a[n] | {"window_s": window} for n, a in zip(names, answers, strict=True)}
    await asyncio.sleep(2.0)
    after = {s.name: s.rss() for s in servers}
    closed = {}
    for name in names:
        closed[name] = (await remotes[name].call(300, op="idle_close"))[name]
    out: dict[str, Any] = {}
    for name in names:
        n = opened[name]["open"]
        kib = (after[name] - before[name]) / 1024 / n if n else float("nan")
        log(
            f"{name}: {n} idle sockets: RSS {before[name] >> 20} → {after[name] >> 20} MiB "
            f"= {kib:.1f} KiB each; errors {opened[name]['errors']}, "
            f"ended early {closed[name]['ended_early']}"
        )
        out[name] = {
            "tickets": made[name],
            "open": opened[name] | {"cpu_s": used, "server": name, "quiet_gate": gate},
            "closed": closed[name],
            "rss_before": before[name],
            "rss_after": after[name],
            "kib": kib,
        }
    return out


async def run(plan: Plan) -> dict[str, Any]:
    prefix = f"qrauth-bench:{uuid.uuid4().hex}:"
    facts: dict[str, Any] = {"nofile": raise_nofile(), "load_avg_before": os.getloadavg()}
    servers: list[Server] = []
    remotes: list[Remote] = []
    quiet = Quiet([os.getpid()], plan.quiet_wait)  # the whole run's budget
    with tempfile.TemporaryDirectory(prefix="qrauth-bench-") as tmp:
        folder = Path(tmp)
        redis = None if REDIS_OVERRIDE else lone_redis(folder / "redis", aof=False)
        redis_url = REDIS_OVERRIDE or (redis.url if redis is not None else "")
        probe = Probe(redis_url)
        facts["redis"] = {"url": redis_url, "own_server": redis is not None}
        if redis is not None and redis.process is not None:
            quiet.pids.append(redis.process.pid)
        try:
            authsvc = start_authsvc(folder, redis_url, prefix)
            servers.append(authsvc)
            floor_prefix = prefix + "floor:"
            floor = start_floor(folder, redis_url, floor_prefix)
            servers.append(floor)
            embedded = start_authsvc(folder / "embedded", "", "", name="embedded")
            servers.append(embedded)
            await asyncio.gather(wait_ready(authsvc), wait_ready(floor), wait_ready(embedded))
            log(
                f"authsvc {authsvc.url} (pid {authsvc.process.pid}), floor {floor.url} "
                f"(pid {floor.process.pid}), Redis {redis_url} prefix {prefix}; "
                f"embedded-store authsvc {embedded.url} (pid {embedded.process.pid})"
            )
            await _micro(facts, folder, authsvc, plan)
            setup = {
                "op": "setup", "authsvc": authsvc.url, "floor": floor.url,
                "home": str(folder / "phones"), "phones": plan.phones,
                "algorithm": plan.algorithm, "redis_url": redis_url,
                "prefixes": {"authsvc": prefix, "floor": floor_prefix},
            }  # fmt: skip
            # The second generator logs in on the embedded store (its phones get their e-cards
            # there), then holds the floor's idle sockets: see idle().
            remotes += [await Remote.start(), await Remote.start()]
            answers = await asyncio.gather(
                remotes[0].call(300, **setup),
                remotes[1].call(
                    300, **setup | {"authsvc": embedded.url, "home": str(folder / "idle")}
                ),
            )
            log(f"{answers[0]['phones']} phones with e-cards in {answers[0]['seconds']} s")
            quiet.pids += [s.process.pid for s in servers] + [r.pid for r in remotes]
            facts["authsvc"] = await drive(remotes[0], authsvc, plan, quiet, probe)
            best = facts["authsvc"]["best_concurrency"]
            facts["oidc"] = await drive_oidc(remotes[0], authsvc, plan, quiet, probe, best)
            facts["floor"] = await drive(remotes[0], floor, plan, quiet, probe)
            facts["paired_floor"] = await paired_floor_turns(
                remotes[0], probe, plan, Side("authsvc", authsvc, best),
                Side("floor", floor, facts["floor"]["best_concurrency"]),
            )  # fmt: skip
            facts["embedded"] = await drive_extra(
                remotes[1], embedded, plan, quiet, probe, target="authsvc", best=best
            )
            embedded.stop()  # its CPU and memory out of the way of what follows
            quiet.pids.remove(embedded.process.pid)
            # A long-poll login has up to two requests in flight (a poll and a phone step):
            # at most 64 at once (the limit when both ran on redis-py pools of 100).
            polling = min(best, LONGPOLL_MAX_CONCURRENCY)
            facts["longpoll"] = {
                name: await drive_extra(
                    remotes[0], server, plan, quiet, probe, target=f"{name}_longpoll", best=polling
                )
                for name, server in (("authsvc", authsvc), ("floor", floor))
            }
            both = await idle(
                {"authsvc": remotes[0], "floor": remotes[1]}, [authsvc, floor], plan.idle_sockets,
                plan.idle_tickets, quiet, probe,
            )  # fmt: skip
            facts["authsvc_idle"], facts["floor_idle"] = both["authsvc"], both["floor"]
        except BaseException:
            for server in servers:
                if server.process.poll() is not None and server.process.returncode != -15:
                    log(f"{server.name} exited ({server.process.returncode}):\n{server.tail()}")
            raise
        finally:
            for remote in remotes:
                await remote.stop()
            for server in servers:
                server.stop()
            try:
                facts["purged_keys"] = await purge(redis_url, prefix)
                log(f"stopped; purged {facts['purged_keys']} Redis keys under {prefix}")
            except Exception as exc:  # never hide the run's own error behind this one
                log(f"could not purge {prefix}*: {exc!r}")
            await probe.close()
            if redis is not None:
                redis.stop()
    facts["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "event_loop": os.environ.get("AUTHSVC_EVENT_LOOP", str(default_of("event_loop"))),
        "platform": platform.platform(),
        "ephemeral_ports": _port_range(),
        "run_seconds": round(time.monotonic() - T0, 1),
    }
    out = compose(plan.__dict__, facts)
    print(table(out), file=sys.stderr, flush=True)
    return out


async def _micro(facts: dict[str, Any], folder: Path, authsvc: Server, plan: Plan) -> None:
    """QR, signature and JOSE-call CPU, in this process, before any load."""
    facts["qr"] = micro.qr_cost(folder / "keys", authsvc.url, plan.micro_samples)
    facts["sign_verify_us"] = micro.sign_verify(plan.micro_samples * 2)
    facts["jose_us"] = micro.jose_us(
        folder / "keys", authsvc.url, Algorithm(plan.algorithm), plan.micro_samples
    )
    facts["signatures"] = signatures.per_login(
        facts["sign_verify_us"],
        micro.key_algorithms(folder / "keys") | {"device": plan.algorithm, "face": "Ed25519"},
        signatures.has_accounts_endpoint(authsvc.clients_file, BENCH_CLIENT),
        facts["jose_us"],
    )
    log(
        f"QR {facts['qr']['qr_ms_per_ticket']} ms/ticket; "
        f"sign/verify µs {facts['sign_verify_us']}; JOSE µs {facts['jose_us']}"
    )


def _port_range() -> str:
    path = Path("/proc/sys/net/ipv4/ip_local_port_range")
    return " ".join(path.read_text().split()) if path.exists() else "?"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--logins", type=int, default=0, help="logins in the measured run (1000; quick 200)"
    )
    parser.add_argument(
        "--extra-logins",
        type=int,
        default=0,
        help="logins in each measured run of the embedded store and the long-poll path "
        "(500; quick 60)",
    )
    parser.add_argument(
        "--idle-sockets", type=int, default=0, help="idle WebSockets per server (10000; quick 500)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="small numbers for a smoke run (< 60 s)"
    )
    parser.add_argument(
        "--phones", type=int, default=0, help="phones with an e-card (20; quick 4; ≤ 30)"
    )
    parser.add_argument(
        "--concurrency", default="", help="closed-loop levels to try (8,32,64; quick 4,16)"
    )
    parser.add_argument(
        "--event-loop",
        default=str(default_of("event_loop")),
        choices=EVENT_LOOPS,
        help="authsvc's and the floor's event loop (AUTHSVC_EVENT_LOOP; default asyncio)",
    )
    parser.add_argument(
        "--device-alg",
        default="ES256",
        choices=["ES256", "Ed25519"],
        help="phones' device key algorithm",
    )
    parser.add_argument(
        "--profile",
        default="",
        metavar="FILE",
        help="py-spy the measured authsvc run into FILE and the floor's into FILE.floor "
        "(collapsed stacks; read them with python -m bench.profile FILE)",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=0,
        help="time cap on the measured run (60; quick 20): it stops at N logins or then",
    )
    parser.add_argument(
        "--oidc-logins",
        type=int,
        default=0,
        help="complete OIDC logins (with /token and the ID token verified); default --logins",
    )
    parser.add_argument(
        "--oidc-max-seconds",
        type=float,
        default=0,
        help="time cap on the OIDC logins (25; quick 5)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=-1,
        help="seconds the run may wait, in all, before measured phases for other processes to "
        "use < 0.25 cores (60; quick 10; 0 = never wait)",
    )
    parser.add_argument(
        "--idle-tickets",
        default="redis",
        choices=["redis", "http"],
        help="make the idle sockets' tickets in Redis with authsvc's own code (fast) or over HTTP",
    )
    args = parser.parse_args()
    os.environ["AUTHSVC_EVENT_LOOP"] = args.event_loop  # both servers inherit it
    plan = Plan.from_args(args)
    if plan.phones > 30:
        parser.error("authsvc issues at most 30 e-cards per minute per IP")
    print(json.dumps(asyncio.run(run(plan)), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
