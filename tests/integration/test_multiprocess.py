"""Several authsvc processes behind one Redis: the browser on one, the phone on another."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import PhoneFactory
from tests.support.browser import BrowserLogin, next_state, wait_for_state
from tests.support.servers import BrokerProcess, free_port, start_process, write_clients

pytestmark = pytest.mark.redis


@pytest.fixture(params=["redis", "redis-cluster"])
async def two_brokers(
    request: pytest.FixtureRequest, tmp_path: Path, redis_prefix: str
) -> AsyncIterator[tuple[BrokerProcess, BrokerProcess]]:
    """Processes A and B share Redis (or the Redis Cluster), the keys folder and the public
    issuer name (A's URL)."""
    clients = write_clients(tmp_path)
    port_a, port_b = free_port(), free_port()
    issuer = f"http://127.0.0.1:{port_a}"
    cluster = ""
    if request.param == "redis-cluster":
        cluster = request.getfixturevalue("redis_cluster").url
    common = {
        "issuer": issuer,
        "prefix": redis_prefix,
        "clients_file": clients,
        "redis_cluster_url": cluster,
    }
    a = await start_process(tmp_path, port=port_a, **common)
    try:
        b = await start_process(tmp_path, port=port_b, **common)
    except BaseException:
        a.kill()
        raise
    yield a, b
    for process in (a, b):
        if process.process.poll() is None:
            process.kill()


async def test_phone_on_b_reaches_browser_on_a(
    two_brokers: tuple[BrokerProcess, BrokerProcess],
    http: aiohttp.ClientSession,
    phones: PhoneFactory,
) -> None:
    """Scanned and confirmed, made through process B, are pushed by process A."""
    a, b = two_brokers
    browser = BrowserLogin(a.url, http)
    await browser.start()
    ws = await browser.socket(a.url)
    assert (await next_state(ws))["state"] == "pending"
    phone = await phones(b.url)
    result = await phone.scan(browser.ticket["qr_text"])
    assert (await wait_for_state(ws, "scanned"))["name"] == "张*"
    await phone.choose(result.account("personal")["key"])
    await phone.face_check()
    await phone.confirm()
    assert "code=" in (await wait_for_state(ws, "confirmed"))["redirect"]


async def test_browser_survives_the_death_of_its_process(
    two_brokers: tuple[BrokerProcess, BrokerProcess],
    http: aiohttp.ClientSession,
    phones: PhoneFactory,
) -> None:
    """Kill the process holding the browser's socket mid-login: reconnecting to the other one
    gives the current state and the login completes."""
    a, b = two_brokers
    browser = BrowserLogin(a.url, http)
    await browser.start()
    ws = await browser.socket(a.url)
    await next_state(ws)
    phone = await phones(b.url)
    result = await phone.scan(browser.ticket["qr_text"])
    await wait_for_state(ws, "scanned")
    a.kill()
    closed = await ws.receive(timeout=10)
    while closed.type is aiohttp.WSMsgType.TEXT:  # updates sent before the kill
        closed = await ws.receive(timeout=10)
    assert closed.type in (
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.CLOSED,
        aiohttp.WSMsgType.ERROR,
    )
    again = await browser.socket(b.url)
    assert (await next_state(again))["state"] == "scanned"
    await phone.choose(result.account("personal")["key"])
    await phone.face_check()
    await phone.confirm()
    assert "code=" in (await wait_for_state(again, "confirmed"))["redirect"]
