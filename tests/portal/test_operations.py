"""The portal as one of several processes: shared session secret, explicit migrations, and the
operator's endpoints (/healthz, /readyz, /metrics)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp

from portal.config import Settings, deployment_problems
from tests.support.servers import free_port, wait_ready

SECRET = "s" * 40


def test_a_cluster_process_needs_the_shared_session_secret(tmp_path: Path) -> None:
    """PORTAL_CLUSTER=1 without PORTAL_SESSION_SECRET(_FILE) is refused; with a file it is not."""
    alone = Settings.from_env({"PORTAL_CLUSTER": "1"})
    assert any("PORTAL_SESSION_SECRET" in p for p in deployment_problems(alone))
    secret_file = tmp_path / "session-secret"
    secret_file.write_text(SECRET + "\n")
    shared = Settings.from_env(
        {"PORTAL_CLUSTER": "1", "PORTAL_SESSION_SECRET_FILE": str(secret_file)}
    )
    assert shared.session_secret == SECRET.encode()
    assert deployment_problems(shared) == []


def test_migrating_on_start_is_for_the_embedded_demo_only() -> None:
    """SQLite alone migrates at start; a cluster or PostgreSQL in production does not."""
    assert Settings.from_env({}).migrate_on_start is True
    assert Settings.from_env({"PORTAL_CLUSTER": "1"}).migrate_on_start is False
    assert Settings.from_env({"PORTAL_PRODUCTION": "1"}).migrate_on_start is False
    forced = Settings.from_env({"PORTAL_CLUSTER": "1", "PORTAL_MIGRATE_ON_START": "1"})
    assert forced.migrate_on_start is True


def test_production_refuses_every_demo_value() -> None:
    """Production mode names each demo value still in place."""
    problems = deployment_problems(Settings.from_env({"PORTAL_PRODUCTION": "1"}))
    text = "\n".join(problems)
    for needle in ("PORTAL_SESSION_SECRET", "PORTAL_CLIENT_SECRET", "https://", "PostgreSQL"):
        assert needle in text
    good = Settings.from_env(
        {
            "PORTAL_PRODUCTION": "1",
            "PORTAL_SESSION_SECRET": SECRET,
            "PORTAL_CLIENT_SECRET": "a-real-secret-from-the-vault",
            "PORTAL_PUBLIC_URL": "https://hall.example.gov.cn",
            "DATABASE_URL": "postgresql+asyncpg://hall@db/hall",
        }
    )
    assert deployment_problems(good) == []


def _serve(env: dict[str, str], tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    with (tmp_path / "portal.log").open("ab") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "portal", *args],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _log(tmp_path: Path) -> str:
    return (tmp_path / "portal.log").read_text(errors="replace")


async def _exit_code(process: subprocess.Popen[bytes]) -> int:
    return await asyncio.to_thread(process.wait, 30)


async def test_a_second_process_without_a_secret_does_not_start(tmp_path: Path) -> None:
    """`portal serve` in cluster mode with no shared secret exits 2 and touches no database."""
    db = tmp_path / "hall.db"
    env = {"PORTAL_CLUSTER": "1", "DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
    process = _serve({**env, "PORTAL_PORT": str(free_port())}, tmp_path, "serve")
    assert await _exit_code(process) == 2
    assert "PORTAL_SESSION_SECRET" in _log(tmp_path)
    assert not db.exists()


async def test_a_cluster_process_waits_for_db_upgrade_then_serves(tmp_path: Path) -> None:
    """Not migrated → refused with the command to run; after `portal db upgrade` it serves
    /healthz, /readyz and /metrics."""
    db = tmp_path / "hall.db"
    port = free_port()
    env = {
        "PORTAL_CLUSTER": "1",
        "PORTAL_SESSION_SECRET": SECRET,
        "DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "PORTAL_PORT": str(port),
        "PORTAL_UPLOAD_DIR": str(tmp_path / "uploads"),
    }
    assert await _exit_code(_serve(env, tmp_path, "serve")) == 2
    assert "python -m portal db upgrade" in _log(tmp_path)
    assert await _exit_code(_serve(env, tmp_path, "db", "upgrade")) == 0
    process = _serve(env, tmp_path, "serve")
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url, process)
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/healthz") as response:
                assert (await response.json())["status"] == "ok"
            async with http.get(url + "/") as response:
                assert response.status == 200
            async with http.get(url + "/metrics") as response:
                metrics = await response.text()
        assert 'portal_http_requests_total{method="GET",route="/",status="2xx"} 1.0' in metrics
    finally:
        process.terminate()
        await _exit_code(process)
