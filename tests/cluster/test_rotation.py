"""Key rotation on three authsvc processes behind nginx during a stream of logins: publish
first (`keys add`), sign later (`keys promote`), every purpose — and not one refusal."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from mobile_sim import PhoneApp
from tests.cluster.conftest import LIMITS, portal_login
from tests.support.databases import fresh_database
from tests.support.hall import C1, LIU, WANG
from tests.support.people import world
from tools.cluster import Cluster

PUBLISH_WAIT = 6.0  # > the processes' 5 s key reload + the portals' 1 s JWKS max age


@pytest.fixture
async def rotating_cluster(tmp_path: Path, redis_prefix: str) -> AsyncIterator[Cluster]:
    env = {
        "AUTHSVC_KEY_PUBLISH_WAIT": str(PUBLISH_WAIT),
        "PORTAL_JWKS_MAX_AGE": "1",
        **LIMITS,  # the stream logs the same two phones in back to back, from one address
    }
    async with fresh_database("postgresql", tmp_path) as url:
        running = Cluster(
            tmp_path / "cluster",
            registry_file=world(tmp_path),
            redis_prefix=redis_prefix,
            database_url=url,
            extra_env=env,
        )
        try:
            await running.start()
            yield running
        finally:
            await running.stop()


def keys_cli(cluster: Cluster, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "authsvc", "keys", *args],
        env={**os.environ, **cluster.authsvc_env(0)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def current_kids(cluster: Cluster) -> dict[str, str]:
    return {
        line.split()[0]: line.split()[1]
        for line in keys_cli(cluster, "list").splitlines()
        if line.split()[-1] == "current"
    }


async def test_rotating_every_key_refuses_no_login(
    rotating_cluster: Cluster, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Two browsers log in over and over while qr, token and ecard keys are each added,
    waited for, and promoted; e-cards signed by the old ecard key keep working, a card issued
    after the promotion is signed by the new one; every login completes."""
    cluster = rotating_cluster
    phones = []
    for who in (WANG, LIU):
        phone = PhoneApp.open(tmp_path / f"phone-{who[0]}", cluster.authsvc_url, session=http)
        await phone.apply_ecard(who[1], who[0], who[2])
        phones.append(phone)
    roles = [("legal_rep", "legal_rep"), ("agent", "agent")]
    completed: list[str] = []
    refused: list[str] = []
    stop = asyncio.Event()
    era = ["before"]

    async def stream(phone: PhoneApp, identity: str, role: str) -> None:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            while not stop.is_set():
                jar.clear()
                try:
                    landed = await portal_login(
                        cluster, browser, phone, identity=identity, role=role, credit_code=C1
                    )
                    ok = landed.status == 200 and landed.url.path.startswith(f"/uc/{C1}")
                    (completed if ok else refused).append(f"{era[0]} {landed.status}")
                except Exception as exc:  # any refusal counts
                    refused.append(f"{era[0]} {type(exc).__name__}: {exc}")

    before = current_kids(cluster)
    streams = [
        asyncio.create_task(stream(p, identity, role))
        for p, (identity, role) in zip(phones, roles, strict=True)
    ]
    try:
        for purpose in ("qr", "token", "ecard"):
            keys_cli(cluster, "add", purpose)
            await asyncio.sleep(PUBLISH_WAIT + 0.5)  # the operator waits as `add` told them
            keys_cli(cluster, "promote", purpose)
            era[0] = f"after {purpose}"
            await asyncio.sleep(6)  # every process reloads (5 s) while logins go on
        late = PhoneApp.open(tmp_path / "phone-late", cluster.authsvc_url, session=http)
        await late.apply_ecard("陈静", "230102199504021561", "13804510006")
        assert late.state.ecard
        stop.set()
        await asyncio.gather(*streams)
    finally:
        stop.set()
        for task in streams:
            task.cancel()
    after = current_kids(cluster)
    assert all(after[p] != before[p] for p in ("qr", "token", "ecard"))
    assert refused == [], sorted(set(refused))[:10]
    assert sum(1 for c in completed if c.startswith("after ecard")) >= 2, completed
    assert len(completed) >= 10, completed
    print(f"rotation: {len(completed)} logins completed, {len(refused)} refused")
