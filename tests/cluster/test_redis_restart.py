"""Redis killed (-9) and restarted mid-login under the cluster (nginx, three authsvc
processes, a portal on PostgreSQL), with AOF and without persistence. The test prints its
figures (docs/operations.md quotes them)."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from mobile_sim import PhoneApp, PhoneError
from tests.cluster.conftest import LIMITS, open_qr_page, socket
from tests.support.browser import wait_for_state
from tests.support.databases import fresh_database
from tests.support.hall import C1, CHEN, LIU, WANG, ZHANG
from tests.support.people import world
from tests.support.redis_cluster import Node, lone_redis
from tools.cluster import PORTAL_SECRET, Cluster

PEOPLE = {  # who, identity, role, company
    "pending": (CHEN, "personal", "personal", ""),
    "scanned": (LIU, "agent", "agent", C1),
    "confirmed": (ZHANG, "agent", "agent", C1),
    "done": (WANG, "legal_rep", "legal_rep", C1),
}


@dataclass
class Login:
    """One browser + one phone, stopped at some stage of the login."""

    phone: PhoneApp
    browser: aiohttp.ClientSession
    identity: str
    role: str
    company: str
    ticket: dict[str, str] = field(default_factory=dict)
    redirect: str = ""


@pytest.fixture
async def outage_cluster(
    request: pytest.FixtureRequest, tmp_path: Path, redis_prefix: str
) -> AsyncIterator[tuple[Cluster, Node]]:
    redis = lone_redis(tmp_path / "redis", aof=request.param)
    async with fresh_database("postgresql", tmp_path) as url:
        cluster = Cluster(
            tmp_path / "cluster",
            registry_file=world(tmp_path),
            redis_url=redis.url,
            redis_prefix=redis_prefix,
            database_url=url,
            portal_count=1,
            extra_env=LIMITS,
        )
        try:
            await cluster.start()
            yield cluster, redis
        finally:
            await cluster.stop()
            redis.stop()


async def _card(cluster: Cluster, http: aiohttp.ClientSession, card_no: str) -> int:
    headers = {"Authorization": f"Bearer {cluster.admin_token}"}
    async with http.get(f"{cluster.ops_url}/api/admin/ecards/{card_no}", headers=headers) as r:
        await r.read()
        return r.status


async def _stage(cluster: Cluster, login: Login, stage: str) -> None:
    login.ticket = await open_qr_page(cluster, login.browser, login.identity)
    if stage == "pending":
        return
    result = await login.phone.scan(login.ticket["qr_text"])
    await login.phone.choose(result.account(login.role, login.company)["key"])
    if stage == "scanned":
        return
    await login.phone.face_check("pass")
    ws = await socket(cluster, login.browser, login.ticket)
    await login.phone.confirm()
    login.redirect = (await wait_for_state(ws, "confirmed", timeout=30))["redirect"]
    await ws.close()
    if stage == "done":
        landed = await login.browser.get(login.redirect)
        assert landed.status == 200


async def _finish(cluster: Cluster, login: Login, stage: str) -> str:
    """Carry on from where the login stopped; 'completed' or the clean refusal's code."""
    try:
        if stage == "pending":
            result = await login.phone.scan(login.ticket["qr_text"])
            await login.phone.choose(result.account(login.role, login.company)["key"])
        if stage in ("pending", "scanned"):
            await login.phone.face_check("pass")
            ws = await socket(cluster, login.browser, login.ticket)
            await login.phone.confirm()
            login.redirect = (await wait_for_state(ws, "confirmed", timeout=30))["redirect"]
            await ws.close()
        if stage == "done":
            landed = await login.browser.get(f"{cluster.portal_url}/uc/{C1}")
        else:
            landed = await login.browser.get(login.redirect)
        await landed.read()
    except PhoneError as exc:
        return exc.code
    if landed.status != 200:
        return f"portal {landed.status}"
    return "completed"


async def _redeem_again(cluster: Cluster, http: aiohttp.ClientSession, redirect: str) -> str:
    """Present an already redeemed code at /token again (as the portal would)."""
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": f"{cluster.portal_url}/auth/callback",
        "code_verifier": "x" * 43,
    }
    pair = base64.b64encode(f"portal:{PORTAL_SECRET}".encode()).decode()
    headers = {"Authorization": f"Basic {pair}"}
    async with http.post(f"{cluster.authsvc_url}/token", data=form, headers=headers) as response:
        return str((await response.json()).get("error"))


@pytest.mark.parametrize(
    "outage_cluster", [True, False], ids=["aof", "no-persistence"], indirect=True
)
async def test_redis_killed_and_restarted_mid_login(
    outage_cluster: tuple[Cluster, Node], http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Four logins stopped at pending, scanned, confirmed (code not yet redeemed) and done;
    Redis is killed (-9): every request that needs it is a clean 503; Redis restarts on its
    folder. With AOF (appendfsync always) every login completes, nothing confirmed is lost, no
    code is redeemed twice, no ticket confirmed twice, every e-card survives. Without
    persistence exactly the Redis state is lost: tickets, codes and e-card records; portal
    sessions (PostgreSQL) survive."""
    cluster, redis = outage_cluster
    logins: dict[str, Login] = {}
    for stage, (who, identity, role, company) in PEOPLE.items():
        phone = PhoneApp.open(tmp_path / f"phone-{stage}", cluster.authsvc_url, session=http)
        await phone.apply_ecard(who[1], who[0], who[2])
        jar = aiohttp.CookieJar(unsafe=True)
        browser = aiohttp.ClientSession(cookie_jar=jar)
        logins[stage] = Login(phone, browser, identity, role, company)
        await _stage(cluster, logins[stage], stage)
    try:
        redis.process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        redis.process.wait()  # type: ignore[union-attr]
        during: list[int] = []
        for _ in range(5):
            async with http.post(
                f"{cluster.authsvc_url}/api/tickets", json={"request": "x", "identity": "personal"}
            ) as response:
                body = await response.json()
                during.append(response.status)
                assert response.status == 503 and body["error"] == "service_unavailable", body
        for process in cluster.authsvc:
            async with http.get(process.url + "/readyz") as response:
                assert response.status == 503
        redis.start()
        for process in cluster.authsvc:
            await _ready(http, process.url)
        outcomes = {stage: await _finish(cluster, logins[stage], stage) for stage in PEOPLE}
        cards = {
            stage: await _card(cluster, http, login.phone.state.card_no)
            for stage, login in logins.items()
        }
        replay = await _redeem_again(cluster, http, logins["confirmed"].redirect)
        confirm_again = await _code_of(logins["confirmed"].phone.confirm())
    finally:
        for login in logins.values():
            await login.browser.close()
    figures = {"aof": redis.aof, "503s_during": during, "outcomes": outcomes, "cards": cards}
    print("redis restart:", json.dumps(figures, ensure_ascii=False))
    assert replay == "invalid_grant" and confirm_again != "ok"
    if redis.aof:
        assert outcomes == dict.fromkeys(PEOPLE, "completed")
        assert cards == dict.fromkeys(PEOPLE, 200)
    else:
        assert outcomes == {
            "pending": "ecard_invalid",  # the card record is gone: the phone is refused first
            "scanned": "ecard_invalid",
            "confirmed": "portal 400",  # the code is gone: the portal's callback refuses
            "done": "completed",  # the portal session lives in PostgreSQL
        }
        assert cards == dict.fromkeys(PEOPLE, 404)  # every e-card record is gone


async def _code_of(awaitable: object) -> str:
    try:
        await awaitable  # type: ignore[misc]
    except PhoneError as exc:
        return exc.code
    return "ok"


async def _ready(http: aiohttp.ClientSession, url: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with http.get(url + "/readyz") as response:
            if response.status == 200:
                return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(url)
        await asyncio.sleep(0.1)
