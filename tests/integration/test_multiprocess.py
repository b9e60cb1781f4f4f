"""Several authsvc processes behind one Redis: the browser on one, the phone on another."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import PhoneFactory
from tests.support.browser import BrowserLogin, next_state, wait_for_state
from tests.support.servers import BrokerProcess, broker_processes

pytestmark = pytest.mark.redis


@pytest.fixture
async def two_brokers(
    tmp_path: Path, redis_prefix: str
) -> AsyncIterator[tuple[BrokerProcess, BrokerProcess]]:
    """Processes A and B share Redis, the keys folder and the public issuer name (A's URL)."""
    async with broker_processes(tmp_path, redis_prefix) as (a, b):
        yield a, b


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
