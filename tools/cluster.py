"""nginx in front of three authsvc and two portal processes on 127.0.0.1 — the production shape
on one machine. Used by tests/cluster and by `make cluster` (`python -m tools.cluster`).

Everything lives in one folder: the rendered nginx config (deploy/nginx.conf.template), its
logs and temp paths, the shared keys folder, the clients file, the portal's uploads and each
process's log. Nothing needs root and nothing outside the folder is written but Redis keys under
the given prefix and the given database.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tools import people
from tools.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
NGINX = os.environ.get("NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
PORTAL_SECRET = "portal-cluster-secret"  # noqa: S105 — the cluster's registered client secret
ACCESS = re.compile(r'^(\S+) "(\S+) (\S+)" (\d+) (\S+) (\S+)$')


@dataclass
class Process:
    name: str
    port: int
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            self.popen.send_signal(sig)
        self.popen.wait(timeout=15)


@dataclass
class Hit:
    """One line of nginx's access log."""

    client: str
    method: str
    path: str
    status: int
    upstream: str


@dataclass
class Cluster:
    folder: Path
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "qrauth-cluster:"
    database_url: str = ""
    authsvc_count: int = 3
    portal_count: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    extra_clients: list[dict[str, object]] = field(default_factory=list)
    #: The card registry every authsvc process reads; None: the demo people, seeded into
    #: `folder` with their faces in `folder/faces` (the phones' --faces).
    registry_file: Path | None = None
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    session_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    authsvc: list[Process] = field(default_factory=list)
    portals: list[Process] = field(default_factory=list)
    nginx: subprocess.Popen[bytes] | None = None
    ports: dict[str, int] = field(default_factory=dict)

    # --- addresses -----------------------------------------------------------------------
    @property
    def authsvc_url(self) -> str:
        """The issuer: authsvc as browsers and phones see it, through nginx."""
        return f"http://127.0.0.1:{self.ports['authsvc']}"

    @property
    def portal_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['portal']}"

    @property
    def ops_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['ops']}"

    # --- environment ---------------------------------------------------------------------
    def registry(self) -> Path:
        if self.registry_file is None:
            self.registry_file = self.folder / "registry.json"
            people.seed(self.registry_file, self.folder / "faces", people.demo_people())
        return self.registry_file

    def authsvc_env(self, port: int) -> dict[str, str]:
        env = {
            **os.environ,
            "AUTHSVC_HOST": "127.0.0.1",
            "AUTHSVC_PORT": str(port),
            "AUTHSVC_ISSUER": self.authsvc_url,
            "AUTHSVC_REDIS_PREFIX": self.redis_prefix,
            "AUTHSVC_KEYS_DIR": str(self.folder / "keys"),
            "AUTHSVC_CLIENTS": str(self.folder / "clients.json"),
            "AUTHSVC_AUDIT_LOG": str(self.folder / "audit.jsonl"),
            "AUTHSVC_ADMIN_TOKEN": self.admin_token,
            "AUTHSVC_REGISTRY": str(self.registry()),
            "AUTHSVC_DB": "",  # every record is in Redis
            "AUTHSVC_TRUSTED_PROXIES": "127.0.0.1/32",  # nginx on 127.0.0.1, the one proxy
            **self.extra_env,
        }
        if "REDIS_CLUSTER_URL" not in env:
            env["REDIS_URL"] = self.redis_url
        return env

    def portal_env(self, port: int) -> dict[str, str]:
        return {
            **os.environ,
            "PORTAL_HOST": "127.0.0.1",
            "PORTAL_PORT": str(port),
            "PORTAL_PUBLIC_URL": self.portal_url,
            "PORTAL_CLUSTER": "1",
            "PORTAL_SESSION_SECRET": self.session_secret,
            "PORTAL_CLIENT_SECRET": PORTAL_SECRET,
            "PORTAL_UPLOAD_DIR": str(self.folder / "uploads"),
            "PORTAL_JWKS_MIN_REFETCH": "1",
            "DATABASE_URL": self.database_url or f"sqlite+aiosqlite:///{self.folder / 'portal.db'}",
            "AUTHSVC_ISSUER": self.authsvc_url,
            **self.extra_env,
        }

    def write_clients(self) -> None:
        portal = self.portal_url
        client = {
            "client_id": "portal",
            "client_secret": PORTAL_SECRET,
            "name": {"zh": "人社网上服务大厅", "en": "HR & Social Security Online Service Hall"},
            "redirect_uris": [f"{portal}/auth/callback"],
            "post_logout_redirect_uris": [f"{portal}/"],
            "accounts_endpoint": f"{portal}/api/accounts",
            "backchannel_logout_uri": f"{portal}/auth/backchannel-logout",
            "identities": ["personal", "legal_rep", "agent"],
            "scopes": ["openid", "profile", "id_number", "phone", "account", "ecard"],
        }
        text = json.dumps({"clients": [client, *self.extra_clients]}, ensure_ascii=False)
        (self.folder / "clients.json").write_text(text, encoding="utf-8")

    # --- nginx ---------------------------------------------------------------------------
    def render_nginx(self) -> Path:
        prefix = self.folder / "nginx"
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / sub).mkdir(parents=True, exist_ok=True)
        servers = "\n".join(
            f"        server {p.address} max_fails=1 fail_timeout=2s;" for p in self.authsvc
        )
        portals = "\n".join(
            f"        server {p.address} max_fails=1 fail_timeout=2s;" for p in self.portals
        )
        user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
        text = (
            TEMPLATE.read_text()
            .replace("@@USER@@", user)
            .replace("@@PREFIX@@", str(prefix))
            .replace("@@AUTHSVC_SERVERS@@", servers)
            .replace("@@PORTAL_SERVERS@@", portals)
            .replace("@@AUTHSVC_LISTEN@@", f"127.0.0.1:{self.ports['authsvc']}")
            .replace("@@PORTAL_LISTEN@@", f"127.0.0.1:{self.ports['portal']}")
            .replace("@@OPS_LISTEN@@", f"127.0.0.1:{self.ports['ops']}")
        )
        conf = prefix / "nginx.conf"
        conf.write_text(text)
        return conf

    def _nginx_args(self, conf: Path) -> list[str]:
        return [
            NGINX,
            "-p",
            str(conf.parent),
            "-e",
            str(conf.parent / "error.log"),
            "-c",
            str(conf),
        ]

    def reload_nginx(self) -> None:
        conf = self.render_nginx()
        subprocess.run([*self._nginx_args(conf), "-s", "reload"], check=True)

    def hits(self) -> list[Hit]:
        """nginx's access log so far (which process answered what)."""
        path = self.folder / "nginx" / "access.log"
        found = []
        for line in path.read_text().splitlines() if path.exists() else []:
            match = ACCESS.match(line)
            if match:
                client, method, uri, status, upstream, _ = match.groups()
                found.append(Hit(client, method, uri, int(status), upstream))
        return found

    # --- lifecycle -----------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str], env: dict[str, str], port: int) -> Process:
        log = self.folder / f"{name}.log"
        out = log.open("ab")
        popen = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        out.close()
        return Process(name, port, popen, log)

    def _run(self, args: list[str], env: dict[str, str]) -> None:
        done = subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.decode(errors='replace')}")

    def start_authsvc(self, index: int, port: int | None = None) -> Process:
        port = port or free_port()
        return self._spawn(
            f"authsvc-{index}", ["-m", "authsvc", "serve"], self.authsvc_env(port), port
        )

    async def start(self, *, demo_data: bool = True) -> None:
        """Keys and schema first (explicit steps, never raced by starting processes), then the
        processes, then nginx in front of them."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ports = self.ports or {name: free_port() for name in ("authsvc", "portal", "ops")}
        self.write_clients()
        self._run(["-m", "authsvc", "keys", "list"], self.authsvc_env(0))
        portal_env = self.portal_env(0)
        self._run(["-m", "portal", "db", "upgrade"], portal_env)
        if demo_data:
            self._run(["-m", "portal", "demo-data"], portal_env)
        self.authsvc = [self.start_authsvc(i) for i in range(self.authsvc_count)]
        self.portals = []
        for i in range(self.portal_count):
            port = free_port()
            self.portals.append(
                self._spawn(f"portal-{i}", ["-m", "portal", "serve"], self.portal_env(port), port)
            )
        await asyncio.gather(*(wait_ready(p.url, p) for p in [*self.authsvc, *self.portals]))
        conf = self.render_nginx()
        with (self.folder / "nginx-stderr.log").open("ab") as errors:  # nginx keeps its copy
            self.nginx = subprocess.Popen(
                [*self._nginx_args(conf), "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        await wait_ready(self.authsvc_url, None, nginx=self.nginx)
        await wait_ready(self.portal_url, None, nginx=self.nginx)

    async def stop(self) -> None:
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)
            try:
                await asyncio.to_thread(self.nginx.wait, 10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
        for process in [*self.authsvc, *self.portals]:
            if process.alive():
                process.popen.send_signal(signal.SIGINT)
        for process in [*self.authsvc, *self.portals]:
            try:
                await asyncio.to_thread(process.popen.wait, 10)
            except subprocess.TimeoutExpired:
                process.kill()


async def wait_ready(
    url: str,
    process: Process | None,
    *,
    nginx: subprocess.Popen[bytes] | None = None,
    timeout: float = 60.0,
) -> None:
    """Until `url`/readyz answers 200; a process that exits first is an error."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            for popen in (process.popen if process else None, nginx):
                if popen is not None and popen.poll() is not None:
                    where = process.log if process else "nginx-stderr.log"
                    raise RuntimeError(f"{url}: exited with {popen.returncode}; see {where}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url + "/readyz") as response:
                    if response.status == 200:
                        return
            if loop.time() > deadline:
                raise TimeoutError(f"{url} not ready after {timeout} s")
            await asyncio.sleep(0.1)


async def _main() -> None:
    folder = ROOT / "var" / "cluster"
    cluster = Cluster(
        folder,
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        database_url=os.environ.get("DATABASE_URL", ""),
        ports={
            "authsvc": int(os.environ.get("CLUSTER_AUTHSVC_PORT", 8800)),
            "portal": int(os.environ.get("CLUSTER_PORTAL_PORT", 8801)),
            "ops": int(os.environ.get("CLUSTER_OPS_PORT", 8802)),
        },
    )
    await cluster.start()
    try:
        print(
            f"\n  人社网上服务大厅 (portal, behind nginx)   {cluster.portal_url}\n"
            f"  统一身份认证 (authsvc, behind nginx)      {cluster.authsvc_url}\n"
            f"  admin API (operators only)                {cluster.ops_url}/api/admin/"
            f"  (Bearer {cluster.admin_token})\n"
            f"  processes: {', '.join(p.url for p in [*cluster.authsvc, *cluster.portals])}\n"
            f"  logs: {folder}\n\n"
            "  Log in as 王建国 (legal representative): open the portal, 登录 → 企业用户,\n"
            "  save the"
            " QR image as qr.png, then\n"
            f"  .venv/bin/mobile-sim --home var/cluster/phone --faces {folder}/faces"
            f" --broker {cluster.authsvc_url} ecard apply --name 王建国\n"
            "      --id-number 230102197503121019 --phone 13804510001\n"
            f"  .venv/bin/mobile-sim --home var/cluster/phone --faces {folder}/faces scan qr.png "
            "--account legal_rep:91230100MA1BX2K306 --confirm\n\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        while all(p.alive() for p in [*cluster.authsvc, *cluster.portals]):
            await asyncio.sleep(0.5)
        print(f"a process stopped; see {folder}/*.log", file=sys.stderr)
    finally:
        await cluster.stop()


def main() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main())


if __name__ == "__main__":
    main()
