"""`python -m bench.ab --other DIR`: authsvc's server CPU per broker login, this checkout's code
against another checkout's (a lever's commit against its parent), measured in alternating rounds
in one sitting so that the machine's drift falls on both alike.

On a shared 2-core machine, two full `python -m bench` runs of one commit minutes apart differ by up
to ±30 % (the floor too), which hides any lever under 10 %. Here both servers run at once on the
bench's own Redis (separate prefixes; with `--store embedded` each on an embedded store of its own,
with `--store cluster` both on a Redis Cluster of three masters with a replica each, started for
the run),
each with its own load generator and phones, and take turns: this, other, other, this, … (`--rounds`
pairs), each turn a closed loop of `--logins` logins at `--concurrency`. Each server's CPU is read
around its own turns only. Prints ONE JSON object: ms per login of every turn, medians, the median
of the paired ratios other ÷ this (adjacent turns), and each turn's push p50 (confirm sent → the
browser's event). `--login longpoll` measures the long-poll login instead of the WebSocket one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import uuid
from pathlib import Path
from typing import Any, NamedTuple

from bench.harness import Remote, log, measured_one
from bench.redisstats import Probe
from bench.servers import Server, purge, start_authsvc, wait_ready
from tests.support.redis_cluster import RedisCluster, lone_redis

_TARGETS = {"broker": "authsvc", "longpoll": "authsvc_longpoll"}


class Turn(NamedTuple):
    cpu_ms: float  # server CPU per login
    push_p50_ms: float  # confirm sent → the browser's confirmed event (closed loop)


async def _turn(remote: Remote, server: Server, probe: Probe, args: argparse.Namespace) -> Turn:
    answer = await measured_one(
        remote, server, probe, 300, op="closed", target=_TARGETS[args.login],
        concurrency=args.concurrency, count=args.logins, seconds=args.seconds,
    )  # fmt: skip
    if answer["errors"] or not answer["done"]:
        raise RuntimeError(f"{server.name}: {answer['done']} logins, errors {answer['errors']}")
    return Turn(1000 * answer["cpu_s"]["server"] / answer["done"], answer["push_ms"]["p50"])


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    roots = {"this": Path(__file__).resolve().parent.parent, "other": Path(args.other).resolve()}
    with tempfile.TemporaryDirectory(prefix="qrauth-bench-ab-") as tmp:
        folder = Path(tmp)
        redis = lone_redis(folder / "redis", aof=False)
        probe = Probe(redis.url)
        prefix = f"qrauth-bench:{uuid.uuid4()}:"
        cluster = _cluster(folder) if args.store == "cluster" else None
        servers: dict[str, Server] = {}
        remotes: dict[str, Remote] = {}
        try:
            for name, root in roots.items():
                on_redis = args.store != "embedded"
                settings = {"REDIS_CLUSTER_URL": cluster.url, "AUTHSVC_DB": ""} if cluster else {}
                servers[name] = start_authsvc(
                    folder / name,
                    redis.url if args.store == "redis" else "",
                    f"{prefix}{name}:" if on_redis else "",
                    name=name,
                    root=root,
                    settings={**settings, **(dict(args.other_env) if name == "other" else {})},
                )
            await asyncio.gather(*(wait_ready(s) for s in servers.values()))
            for name, server in servers.items():
                remotes[name] = await Remote.start()
                await remotes[name].call(
                    300, op="setup", authsvc=server.url, floor=server.url,
                    home=str(folder / name / "phones"), phones=args.phones,
                    algorithm="ES256", redis_url=redis.url, prefixes={"authsvc": prefix},
                )  # fmt: skip
                await _turn(remotes[name], server, probe, args)  # warm-up, not counted
            turns: dict[str, list[Turn]] = {"this": [], "other": []}
            for round_no in range(args.rounds):
                order = ("this", "other") if round_no % 2 == 0 else ("other", "this")
                for name in order:
                    turns[name].append(await _turn(remotes[name], servers[name], probe, args))
                log(f"round {round_no + 1}: this {turns['this'][-1].cpu_ms:.2f} ms, "
                    f"other {turns['other'][-1].cpu_ms:.2f} ms per login")  # fmt: skip
        finally:
            for remote in remotes.values():
                await remote.stop()
            for server in servers.values():
                server.stop()
            await purge(redis.url, prefix)
            await probe.close()
            redis.stop()
            if cluster is not None:
                cluster.stop()
    cpu = {k: [t.cpu_ms for t in ts] for k, ts in turns.items()}
    push = {k: [t.push_p50_ms for t in ts] for k, ts in turns.items()}
    paired = [o / t for t, o in zip(cpu["this"], cpu["other"], strict=True)]
    return {
        "other": str(roots["other"]),
        "store": args.store,
        "login": args.login,
        "other_env": dict(args.other_env),
        "logins_per_turn": args.logins,
        "concurrency": args.concurrency,
        "ms_per_login": {k: [round(v, 3) for v in vs] for k, vs in cpu.items()},
        "median_ms_per_login": {k: round(statistics.median(v), 3) for k, v in cpu.items()},
        "other_over_this_paired_median": round(statistics.median(paired), 3),
        "other_over_this_paired_range": [round(min(paired), 3), round(max(paired), 3)],
        "push_p50_ms": push,
        "median_push_p50_ms": {k: round(statistics.median(v), 3) for k, v in push.items()},
    }


def _cluster(folder: Path) -> RedisCluster:
    cluster = RedisCluster(folder / "cluster")
    cluster.start()
    return cluster


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.startswith("AUTHSVC_"):
        raise argparse.ArgumentTypeError(f"not AUTHSVC_NAME=VALUE: {text!r}")
    return name, value


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.add_argument("--other", required=True, help="another checkout (git worktree)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--logins", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--phones", type=int, default=20)
    parser.add_argument(
        "--other-env", type=_setting, action="append", default=[], metavar="NAME=VALUE",
        help="a setting for the other side only (--other . --other-env AUTHSVC_EVENT_LOOP=uvloop "
        "measures a setting instead of a commit)",
    )  # fmt: skip
    parser.add_argument(
        "--store", choices=("redis", "embedded", "cluster"), default="redis",
        help="authsvc on the bench's Redis, on its embedded store (memory and SQLite), or on a "
        "Redis Cluster of its own",
    )  # fmt: skip
    parser.add_argument(
        "--login", choices=tuple(_TARGETS), default="broker",
        help="the broker login (the browser on a WebSocket) or the long-poll one",
    )  # fmt: skip
    print(json.dumps(asyncio.run(_main(parser.parse_args()))))


if __name__ == "__main__":
    main()
