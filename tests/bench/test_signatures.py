"""bench/signatures.py says what the server signs and verifies in one login, read from the code;
this counts the server's own calls to `core.crypto.sign` and `verify` during a real login (the
phone runs in the same process, so only calls made under an authsvc handler count) and holds
the table to them."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import aiohttp
import pytest

from authsvc.core import crypto
from bench import signatures
from tests.conftest import PhoneFactory
from tests.support.browser import BrowserLogin, wait_for_state
from tests.support.servers import Broker

_COUNTED = {crypto.sign.__code__: "sign", crypto.verify.__code__: "verify"}


def _under_a_handler(frame: FrameType | None) -> bool:
    while frame is not None:
        if "/authsvc/http/" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


@contextmanager
def _server_crypto_calls() -> Iterator[Counter[str]]:
    calls: Counter[str] = Counter()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        op = _COUNTED.get(frame.f_code) if event == "call" else None
        if op and _under_a_handler(frame.f_back):
            calls[op] += 1

    sys.setprofile(profile)
    try:
        yield calls
    finally:
        sys.setprofile(None)


async def _login(broker: Broker, http: aiohttp.ClientSession, phone: Any) -> None:
    browser = BrowserLogin(broker.url, http)
    await browser.start()
    ws = await browser.socket()
    await wait_for_state(ws, "pending")
    result = await phone.scan(browser.ticket["qr_text"])
    await phone.choose(result.account("personal")["key"], with_face_check=True)
    await phone.face_check()
    await phone.confirm()
    await wait_for_state(ws, "confirmed")
    await ws.close()


@pytest.mark.parametrize("store_kind", ["memory"], indirect=True)
async def test_the_table_counts_every_signature_a_broker_login_makes(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    phone = await phones(authsvc.url)
    await _login(authsvc, http, phone)  # the first login also checks the e-card (joserfc)
    with _server_crypto_calls() as calls:
        await _login(authsvc, http, phone)
    expected: Counter[str] = Counter()
    for op in signatures.ops(accounts_endpoint=False):
        if op.broker_login and op.name != "ecard_verify":  # cached after the first request
            expected[op.op] += op.count
    assert calls == expected
