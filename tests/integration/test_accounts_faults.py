"""A relying portal's accounts endpoint that is slow (never answers within
AUTHSVC_ACCOUNTS_TIMEOUT) or down (nothing listens): the phone gets the clean
accounts_unavailable refusal, the ticket stays pending and scannable, nothing else changes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from mobile_sim import PhoneError
from tests.conftest import PhoneFactory
from tests.support.browser import BrowserLogin
from tests.support.servers import free_port, running_authsvc

TIMEOUT = 0.5


@pytest.fixture
async def stuck_endpoint(aiohttp_server: Any) -> AsyncIterator[str]:
    """An accounts endpoint that accepts the request and never answers (until teardown)."""
    release = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({"accounts": []})

    app = web.Application()
    app.router.add_post("/api/accounts", handle)
    server = await aiohttp_server(app)
    yield str(server.make_url("/api/accounts"))
    release.set()


@pytest.mark.parametrize("kind", ["slow", "down"])
async def test_accounts_endpoint_slow_or_down_refuses_cleanly(
    kind: str,
    stuck_endpoint: str,
    tmp_path: Path,
    http: aiohttp.ClientSession,
    phones: PhoneFactory,
) -> None:
    """The scan is refused with accounts_unavailable (the slow one by the timeout), the
    ticket is pending again with nobody on it (only version, expiry and update time moved: held
    while the broker asked) and the audit says it was released."""
    endpoint = stuck_endpoint if kind == "slow" else f"http://127.0.0.1:{free_port()}/api/accounts"
    async with running_authsvc(
        tmp_path, accounts_endpoint=endpoint, accounts_timeout=TIMEOUT
    ) as broker:
        browser = BrowserLogin(broker.url, http)
        await browser.start("legal_rep")
        phone = await phones(broker.url)
        before = await broker.store.get_ticket(browser.ticket["ticket_id"])
        started = time.monotonic()
        with pytest.raises(PhoneError) as refused:
            await phone.scan(browser.ticket["qr_text"])
        waited = time.monotonic() - started
        assert refused.value.code == "accounts_unavailable"
        assert refused.value.zh and refused.value.en
        after = await broker.store.get_ticket(browser.ticket["ticket_id"])
        assert before is not None and after is not None and after.state == "pending"
        # the broker held the ticket while it asked and released it: pending again, no device
        changed = {
            f for f in before.__dataclass_fields__ if getattr(before, f) != getattr(after, f)
        }
        assert changed <= {"version", "expires_at", "updated_at"}, changed
        story = [
            r["outcome"]
            for r in await broker.store.audit_records(100)
            if r.get("ticket") == browser.ticket["ticket_id"]
        ]
        assert story[-1] != "scanned", story  # the hold is audited as released
    print(f"accounts endpoint {kind}: refused after {waited:.2f} s (timeout {TIMEOUT} s)")
