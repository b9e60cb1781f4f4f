"""Number matching on the `mobile-sim scan` command line, against a real authsvc whose client
registered it: the three numbers are shown, the pick is sent, a wrong pick cancels."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.mobile_sim.test_cli import Phone
from tests.security.test_number_matching import NUMBERED
from tests.support.browser import BrowserLogin, wait_for_state
from tests.support.servers import Broker, running_authsvc


@pytest.fixture
async def numbered(tmp_path: Path) -> AsyncIterator[Broker]:
    (tmp_path / "broker").mkdir()
    async with running_authsvc(tmp_path / "broker", extra_clients=[NUMBERED]) as broker:
        yield broker


async def _scanned_page(
    broker: Broker, http: aiohttp.ClientSession
) -> tuple[BrowserLogin, aiohttp.ClientWebSocketResponse]:
    browser = BrowserLogin(
        broker.url, http, client_id="numbered", redirect_uri=NUMBERED["redirect_uris"][0]
    )
    await browser.start()
    return browser, await browser.socket()


async def test_cli_shows_three_numbers_and_sends_the_pick(
    tmp_path: Path, numbered: Broker, http: aiohttp.ClientSession
) -> None:
    """Asked on stdin, the user picks choice [1]: the CLI listed three numbers, and the login
    confirms if [1] is the number the browser shows, else is cancelled number_mismatch."""
    cli = Phone(tmp_path / "cli", numbered)
    await cli.apply()
    browser, ws = await _scanned_page(numbered, http)
    run = await cli(
        "scan", browser.ticket["qr_text"], "--account", "personal", "--confirm", stdin="1\n"
    )
    shown = (await wait_for_state(ws, "scanned"))["number"]
    listed = re.findall(r"\[(\d)\] (\d\d)\b", run.out)
    assert [i for i, _ in listed[:3]] == ["1", "2", "3"] and shown in [n for _, n in listed[:3]]
    if listed[0][1] == shown:
        assert run.code == 0, run.err
        assert "code=" in (await wait_for_state(ws, "confirmed"))["redirect"]
    else:
        assert run.code != 0 and "所选数字与电脑屏幕上的数字不一致" in run.err + run.out
        assert (await wait_for_state(ws, "rejected"))["reason"] == "number_mismatch"


async def test_cli_wrong_number_cancels(
    tmp_path: Path, numbered: Broker, http: aiohttp.ClientSession
) -> None:
    """`--number 00` (never offered): refused number_mismatch, the browser is told."""
    cli = Phone(tmp_path / "cli", numbered)
    await cli.apply()
    browser, ws = await _scanned_page(numbered, http)
    run = await cli(
        "scan", browser.ticket["qr_text"], "--account", "personal", "--confirm", "--number", "00"
    )
    assert run.code != 0 and "所选数字与电脑屏幕上的数字不一致" in run.err + run.out
    assert (await wait_for_state(ws, "rejected"))["reason"] == "number_mismatch"
