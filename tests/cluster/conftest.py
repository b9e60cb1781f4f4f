"""A cluster per test: nginx (Debian's package) in front of three authsvc and two portal
processes on 127.0.0.1, on the shared Redis (own key prefix) and a fresh PostgreSQL database.
A missing nginx is a failure, never a skip (`make system-deps` installs it)."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from mobile_sim import PhoneApp
from tests.support.browser import CONFIG, wait_for_state
from tests.support.databases import fresh_database
from tests.support.people import world
from tools.cluster import NGINX, Cluster

#: Tests that log the same phones in back to back need room above the rate limits.
LIMITS = {
    "AUTHSVC_SCANS_PER_DEVICE_PER_MINUTE": "100000",
    "AUTHSVC_TICKETS_PER_IP_PER_MINUTE": "100000",
    "AUTHSVC_AUTHORIZE_PER_IP_PER_MINUTE": "100000",
    "AUTHSVC_TOKEN_PER_IP_PER_MINUTE": "100000",
    "AUTHSVC_WS_PER_IP": "100000",
    "AUTHSVC_ECARD_APPLY_PER_IP": "100000",  # the burst provisions 20 phones from one address
}


@pytest.fixture
async def cluster(tmp_path: Path, redis_prefix: str) -> AsyncIterator[Cluster]:
    if shutil.which(NGINX) is None:
        pytest.fail("nginx is not installed: run `make system-deps` (apt-get install nginx)")
    async with fresh_database("postgresql", tmp_path) as url:
        running = Cluster(
            tmp_path / "cluster",
            registry_file=world(tmp_path),
            redis_prefix=redis_prefix,
            database_url=url,
        )
        try:
            await running.start()
            yield running
        finally:
            await running.stop()


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    """A browser profile: its own cookie jar."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def open_qr_page(
    cluster: Cluster, browser: aiohttp.ClientSession, identity: str
) -> dict[str, str]:
    """Portal 登录 → authsvc's QR page → a ticket, all through nginx."""
    async with browser.get(f"{cluster.portal_url}/auth/login?identity={identity}") as page:
        html = await page.text()
        assert page.status == 200, html
    match = CONFIG.search(html)
    assert match, html[:500]
    request_id = json.loads(match.group(1))["request"]
    async with browser.post(
        cluster.authsvc_url + "/api/tickets", json={"request": request_id, "identity": identity}
    ) as response:
        ticket: dict[str, str] = await response.json()
        assert response.status == 201, ticket
    return ticket


async def socket(
    cluster: Cluster, browser: aiohttp.ClientSession, ticket: dict[str, str]
) -> aiohttp.ClientWebSocketResponse:
    ws = await browser.ws_connect(
        cluster.authsvc_url + ticket["ws_url"], headers={"Origin": cluster.authsvc_url}
    )
    await ws.send_json({"type": "auth", "secret": ticket["browser_secret"]})
    return ws


async def portal_login(
    cluster: Cluster,
    browser: aiohttp.ClientSession,
    phone: PhoneApp,
    *,
    identity: str = "legal_rep",
    role: str = "legal_rep",
    credit_code: str = "",
) -> aiohttp.ClientResponse:
    """The whole login: QR page, WebSocket, the phone's steps, the pushed redirect, the
    portal's callback and its user centre."""
    ticket = await open_qr_page(cluster, browser, identity)
    ws = await socket(cluster, browser, ticket)
    try:
        await phone.login(ticket["qr_text"], role=role, credit_code=credit_code)
        redirect = (await wait_for_state(ws, "confirmed", timeout=30))["redirect"]
    finally:
        await ws.close()
    response = await browser.get(redirect)
    await response.read()
    return response
