"""The processes under test: authsvc (`python -m authsvc serve`) on RedisStore, a second one on
EmbeddedStore (no REDIS_URL: tickets in memory, e-cards in SQLite), and the floor, each on a
free 127.0.0.1 port (the Redis ones under a fresh key prefix), logs in the run's temp folder."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil
from redis.asyncio import Redis

from tests.support.servers import free_port, write_clients
from tools.ready import wait_until_ready

# Limits that would throttle one load generator on one IP are lifted; everything else is as
# `authsvc serve` runs by default. Pending tickets live 10 minutes so idle sockets stay idle.
AUTHSVC_BENCH_ENV = {
    "AUTHSVC_TICKETS_PER_IP_PER_MINUTE": "1000000000",
    "AUTHSVC_SCANS_PER_DEVICE_PER_MINUTE": "1000000000",
    "AUTHSVC_AUTHORIZE_PER_IP_PER_MINUTE": "1000000000",
    "AUTHSVC_TOKEN_PER_IP_PER_MINUTE": "1000000000",
    "AUTHSVC_WS_PER_IP": "1000000000",
    "AUTHSVC_WS_UNAUTHENTICATED": "1000000000",
    "AUTHSVC_ECARD_APPLY_PER_IP": "1000000000",
    "AUTHSVC_TICKET_TTL": "600",
}


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    clients_file: Path | None = None  # authsvc's AUTHSVC_CLIENTS

    @property
    def psutil(self) -> psutil.Process:
        return psutil.Process(self.process.pid)

    def cpu_split(self) -> tuple[float, float]:
        """CPU seconds (user, system) used by the process and its children so far."""
        proc = self.psutil
        user = system = 0.0
        for p in [proc, *proc.children(recursive=True)]:
            times = p.cpu_times()
            user, system = user + times.user, system + times.system
        return user, system

    def cpu_s(self) -> float:
        return sum(self.cpu_split())

    def rss(self) -> int:
        return int(self.psutil.memory_info().rss)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


ROOT = Path(__file__).resolve().parent.parent


def _spawn(
    name: str, args: list[str], env: dict[str, str], folder: Path, port: int, root: Path = ROOT
) -> Server:
    """`python ARGS` run in `root` (this checkout, or another one's code for `bench.ab`)."""
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # our own modules, fixed arguments
            [sys.executable, *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
    return Server(name=name, url=f"http://127.0.0.1:{port}", process=process, log=log)


def bench_registry(folder: Path) -> Path:
    """The card registry of the bench's made-up people (faces derived from the bench seed)."""
    from bench.logins import BENCH_FACES, registry_people
    from tools.people import seed

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "registry.json"
    seed(path, folder / "registry-faces", registry_people(), derive_from=BENCH_FACES)
    return path


def start_authsvc(
    folder: Path,
    redis_url: str,
    prefix: str,
    *,
    name: str = "authsvc",
    root: Path = ROOT,
    settings: dict[str, str] | None = None,
) -> Server:
    """authsvc on RedisStore at `redis_url`, or with `redis_url` empty on EmbeddedStore (its
    SQLite file in `folder`); the same settings otherwise (`settings`: AUTHSVC_* variables on
    top of those)."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    clients = write_clients(folder)
    env = {
        **os.environ,
        **AUTHSVC_BENCH_ENV,
        "AUTHSVC_HOST": "127.0.0.1",
        "AUTHSVC_PORT": str(port),
        "AUTHSVC_ISSUER": f"http://127.0.0.1:{port}",
        "REDIS_URL": redis_url,
        "REDIS_CLUSTER_URL": "",
        "AUTHSVC_REDIS_PREFIX": prefix,
        "AUTHSVC_KEYS_DIR": str(folder / "keys"),
        "AUTHSVC_CLIENTS": str(clients),
        "AUTHSVC_AUDIT_LOG": str(folder / "audit.jsonl"),
        "AUTHSVC_REGISTRY": str(bench_registry(folder)),
        "AUTHSVC_DB": "" if redis_url else str(folder / "authsvc.db"),
        **(settings or {}),
    }
    server = _spawn(name, ["-m", "authsvc", "serve"], env, folder, port, root)
    server.clients_file = clients
    return server


def start_floor(folder: Path, redis_url: str, prefix: str) -> Server:
    port = free_port()
    args = ["-m", "bench.floor", "--port", str(port), "--redis-url", redis_url, "--prefix", prefix]
    return _spawn("floor", args, dict(os.environ), folder, port)


async def wait_ready(server: Server, timeout: float = 30.0) -> None:
    """The server answers /readyz with 200 (tools/ready.py, shared with demo and tests)."""
    await wait_until_ready(
        server.url + "/readyz", process=server.process, timeout=timeout, describe=server.tail
    )


async def purge(redis_url: str, prefix: str) -> int:
    """Delete every key under `prefix` (SCAN + UNLINK); returns how many."""
    client = Redis.from_url(redis_url, decode_responses=True, protocol=2)
    deleted = 0
    try:
        batch: list[str] = []
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += await client.unlink(*batch)
                batch.clear()
        if batch:
            deleted += await client.unlink(*batch)
    finally:
        await client.aclose()
    return deleted


class Profiler:
    """py-spy sampling one process into a collapsed-stack file (`python -m bench.profile` reads it).

    It stops the target briefly at each sample: figures measured while it runs are inflated."""

    def __init__(self, pid: int, output: Path, rate: int = 200) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.output = output
        self.process = subprocess.Popen(  # fixed arguments
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--rate",
                str(rate),
                "--output",
                str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
