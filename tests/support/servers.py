"""Real authsvc servers on 127.0.0.1 with ephemeral ports, in-process or as subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aiohttp import web

from authsvc.app import create_app
from authsvc.clients import ClientRegistry
from authsvc.config import Limits, Settings
from authsvc.core.clock import Clock
from authsvc.core.tickets import Lifetimes
from authsvc.http.appkeys import BROKER
from authsvc.store import MemoryStore
from authsvc.store.base import Store
from tests.support import people
from tests.support.redis import REDIS_URL, connect_redis
from tools.ports import free_port
from tools.ready import wait_until_ready

TEST_CLIENTS = """
[[clients]]
client_id = "hall"
client_secret = "hall-secret"
name = {{ zh = "测试服务大厅", en = "Test service hall" }}
redirect_uris = ["http://127.0.0.1:9/cb"]
post_logout_redirect_uris = ["http://127.0.0.1:9/"]
{accounts}
identities = ["personal", "legal_rep", "agent"]
scopes = ["openid", "profile", "id_number", "phone", "account", "ecard"]

[[clients]]
client_id = "spa"
name = {{ zh = "演示应用", en = "Demo app" }}
redirect_uris = ["http://127.0.0.1:9/spa"]
identities = ["personal"]
scopes = ["openid", "profile"]
"""


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def write_clients(
    folder: Path, accounts_endpoint: str = "", extra: list[dict[str, Any]] | None = None
) -> Path:
    """The test clients `hall` (confidential, optionally with an accounts endpoint) and `spa`
    (public), plus `extra` registrations."""
    accounts = f'accounts_endpoint = "{accounts_endpoint}"' if accounts_endpoint else ""
    text = TEST_CLIENTS.format(accounts=accounts)
    if not extra:
        path = folder / "clients.toml"
        path.write_text(text, encoding="utf-8")
        return path
    path = folder / "clients.json"
    clients = tomllib.loads(text)["clients"] + extra
    path.write_text(json.dumps({"clients": clients}), encoding="utf-8")
    return path


@dataclass
class Broker:
    url: str
    app: web.Application
    settings: Settings
    store: Store

    @property
    def broker(self) -> Any:
        return self.app[BROKER]


def test_settings(folder: Path, port: int, **overrides: Any) -> Settings:
    settings = Settings(
        port=port,
        issuer=f"http://127.0.0.1:{port}",
        keys_dir=str(folder / "keys"),
        clients_file=str(
            write_clients(
                folder, overrides.pop("accounts_endpoint", ""), overrides.pop("extra_clients", None)
            )
        ),
        audit_log=str(folder / "audit.jsonl"),
        admin_token="test-admin-token",
        registry_file=str(people.world(folder)),
    )
    return replace(settings, **overrides)


@asynccontextmanager
async def running_authsvc(
    folder: Path,
    *,
    store_kind: str = "memory",
    prefix: str = "",
    clock: Clock | None = None,
    lifetimes: Lifetimes | None = None,
    limits: Limits | None = None,
    **overrides: Any,
) -> AsyncIterator[Broker]:
    """An in-process authsvc on a real socket; the store is memory or Redis under `prefix`."""
    sock = free_socket()
    port = sock.getsockname()[1]
    given: Store | None = overrides.pop("store", None)
    settings = test_settings(folder, port, **overrides)
    if lifetimes:
        settings = replace(settings, lifetimes=lifetimes)
    if limits:
        settings = replace(settings, limits=limits)
    store: Store = given or (
        MemoryStore() if store_kind == "memory" else await connect_redis(prefix)
    )
    app = create_app(
        settings, store=store, clock=clock, clients=ClientRegistry.load(settings.clients_file)
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield Broker(url=settings.issuer, app=app, settings=settings, store=store)
    finally:
        await runner.cleanup()
        await store.close()


@dataclass
class BrokerProcess:
    url: str
    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


async def start_process(
    folder: Path,
    *,
    port: int,
    issuer: str,
    prefix: str,
    clients_file: Path,
    redis_cluster_url: str = "",
    env: dict[str, str] | None = None,
) -> BrokerProcess:
    """`python -m authsvc serve` on Redis (or a Redis Cluster), as a load balancer would run
    several; `env` adds settings (e.g. limits)."""
    extra = env or {}
    env = {
        **os.environ,
        "AUTHSVC_PORT": str(port),
        "AUTHSVC_ISSUER": issuer,
        "REDIS_URL": REDIS_URL,
        "AUTHSVC_REDIS_PREFIX": prefix,
        "AUTHSVC_KEYS_DIR": str(folder / "keys"),
        "AUTHSVC_CLIENTS": str(clients_file),
        "AUTHSVC_AUDIT_LOG": str(folder / "audit.jsonl"),
        "AUTHSVC_REGISTRY": str(people.world(folder)),
        "AUTHSVC_DB": "",
        "REDIS_CLUSTER_URL": redis_cluster_url,
        **extra,
    }
    with (folder / f"authsvc-{port}.log").open("wb") as log:  # the child keeps its own copy
        process = subprocess.Popen(
            [sys.executable, "-m", "authsvc", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    await wait_ready(url, process)
    return BrokerProcess(url=url, process=process)


@asynccontextmanager
async def broker_processes(
    folder: Path, prefix: str, count: int = 2, env: dict[str, str] | None = None
) -> AsyncIterator[list[BrokerProcess]]:
    """`count` authsvc processes sharing Redis, the keys folder and the public issuer name
    (the first one's URL), killed afterwards."""
    clients = write_clients(folder)
    ports = [free_port() for _ in range(count)]
    issuer = f"http://127.0.0.1:{ports[0]}"
    started: list[BrokerProcess] = []
    try:
        for port in ports:
            started.append(
                await start_process(
                    folder, port=port, issuer=issuer, prefix=prefix, clients_file=clients, env=env
                )
            )
        yield started
    finally:
        for process in started:
            if process.process.poll() is None:
                process.kill()


async def wait_ready(
    url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 20.0
) -> None:
    """authsvc at `url` answers /readyz with 200 (tools/ready.py, shared with demo and bench)."""
    await wait_until_ready(url + "/readyz", process=process, timeout=timeout)
