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


async def test_phone_page_offers_the_three_numbers_and_sends_the_pick(
    tmp_path: Path, numbered: Broker, http: aiohttp.ClientSession
) -> None:
    """The page's view shows the three numbers before the account step; picking the browser's
    number lets the login confirm; a wrong pick ends on the outcome screen (number_mismatch)."""
    from mobile_sim.web import create_app
    from tests.mobile_sim.support import ZHANG, serve
    from tests.mobile_sim.test_web_api import PageClient

    async with serve(create_app(tmp_path / "web-phone", numbered.url, place="本机")) as base:
        page = PageClient(base, http)
        await page.open()
        assert (await page.post("/api/ecard", {**ZHANG, "face": {"mode": "pass"}}))[0] == 200
        for right in (True, False):
            browser, ws = await _scanned_page(numbered, http)
            status, view = await page.post("/api/scan", {"text": browser.ticket["qr_text"]})
            assert status == 200, view
            login = view["login"]
            shown = (await wait_for_state(ws, "scanned"))["number"]
            assert login["number_matched"] is False and shown in login["number_choices"]
            pick = shown if right else next(n for n in login["number_choices"] if n != shown)
            status, view = await page.post("/api/number", {"number": pick})
            if right:
                assert status == 200 and view["login"]["number_matched"] is True
                await page.post("/api/account", {"key": view["login"]["accounts"][0]["key"]})
                await page.post("/api/face", {"mode": "pass"})
                assert (await page.post("/api/confirm", {}))[0] == 200
                assert "code=" in (await wait_for_state(ws, "confirmed"))["redirect"]
            else:
                assert (status, view["error"]) == (403, "number_mismatch")
                status, state = await page.post("/api/done", {})
                assert status == 200 and state["login"] is None
                assert (await wait_for_state(ws, "rejected"))["reason"] == "number_mismatch"
            await page.post("/api/done", {})
