"""The whole system on 127.0.0.1: authsvc, the portal (demo data loaded) registered as its
client, and phones — for the portal's integration, security and end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from mobile_sim import PhoneApp
from portal.app import create_app as create_portal
from portal.clock import Clock
from portal.config import Settings as PortalSettings
from portal.demo import load_demo
from portal.http.keys import DB, REGISTRIES
from tests.support.browser import CONFIG, wait_for_state
from tests.support.databases import KINDS, fresh_database
from tests.support.servers import Broker, free_socket, running_authsvc

WANG = ("230102197503121019", "王建国", "13804510001")  # legal rep of C1 and C2
LI = ("230103198207211125", "李秀梅", "13804510002")  # admin of C1 and C3
ZHANG = ("230104199001051235", "张伟", "13804510003")  # agent of C1
LIU = ("23010219881130134X", "刘洋", "13804510004")  # agent of C1 and C3
CHEN = ("230102199504021561", "陈静", "13804510006")  # no company
SUN = ("230103198506141673", "孙丽", "13804510007")  # agency staff
ZHAO = ("230108197009181452", "赵志强", "13613610004")  # legal rep of C3
C1, C2, C3 = "91230100MA1BX2K306", "91230103MA1CQ7L509", "12230000MB0N4R8P09"
CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


@dataclass
class Hall:
    authsvc: Broker
    portal_url: str
    portal: web.Application


def portal_client(portal_url: str, client_id: str = "portal") -> dict[str, object]:
    return {
        "client_id": client_id,
        "client_secret": "portal-test-secret",
        "name": {"zh": "人社网上服务大厅", "en": "HR & Social Security Online Service Hall"},
        "redirect_uris": [f"{portal_url}/auth/callback"],
        "post_logout_redirect_uris": [f"{portal_url}/"],
        "accounts_endpoint": f"{portal_url}/api/accounts",
        "backchannel_logout_uri": f"{portal_url}/auth/backchannel-logout",
        "identities": ["personal", "legal_rep", "agent"],
        "scopes": ["openid", "profile", "id_number", "phone", "account", "ecard"],
    }


@asynccontextmanager
async def _portal(
    sock: socket.socket,
    issuer: str,
    client_id: str,
    database_url: str,
    upload_dir: Path,
    business_clock: Clock | None = None,
) -> AsyncIterator[tuple[web.Application, str]]:
    """One portal on `sock`, registered at `issuer` as `client_id`, demo data loaded."""
    portal_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = PortalSettings(
        database_url=database_url,
        authsvc_issuer=issuer,
        client_id=client_id,
        client_secret="portal-test-secret",
        session_secret=secrets.token_bytes(32),
        upload_dir=upload_dir,
        cert_keys_dir=upload_dir.parent / f"cert-keys-{client_id}",
        public_url=portal_url,
        jwks_min_refetch_seconds=0.0,
    )
    app = create_portal(settings, business_clock=business_clock)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        await load_demo(app[DB], app[REGISTRIES])
        yield app, portal_url
    finally:
        await runner.cleanup()


@asynccontextmanager
async def running_two_halls(folder: Path, **authsvc_overrides: object) -> AsyncIterator[list[Hall]]:
    """One authsvc and two portals (`portal`, `portal-b`), each with its own SQLite database
    and back channel: a person may have a session at both."""
    socks = {"portal": free_socket(), "portal-b": free_socket()}
    clients = [
        portal_client(f"http://127.0.0.1:{s.getsockname()[1]}", client_id)
        for client_id, s in socks.items()
    ]
    async with (
        running_authsvc(folder, extra_clients=clients, **authsvc_overrides) as broker,
        contextlib.AsyncExitStack() as stack,
    ):
        halls = []
        for client_id, sock in socks.items():
            database = f"sqlite+aiosqlite:///{folder / (client_id + '.db')}"
            app, url = await stack.enter_async_context(
                _portal(sock, broker.url, client_id, database, folder / f"uploads-{client_id}")
            )
            halls.append(Hall(authsvc=broker, portal_url=url, portal=app))
        yield halls


@asynccontextmanager
async def running_hall(
    folder: Path,
    *,
    database_url: str = "",
    business_clock: Clock | None = None,
    **authsvc_overrides: object,
) -> AsyncIterator[Hall]:
    sock = free_socket()
    portal_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with (
        running_authsvc(
            folder, extra_clients=[portal_client(portal_url)], **authsvc_overrides
        ) as broker,
        _portal(
            sock,
            broker.url,
            "portal",
            database_url or f"sqlite+aiosqlite:///{folder / 'portal.db'}",
            folder / "uploads",
            business_clock,
        ) as (app, _),
    ):
        yield Hall(authsvc=broker, portal_url=portal_url, portal=app)


@pytest.fixture(params=KINDS)
async def hall(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hall]:
    """authsvc + the portal on SQLite and on PostgreSQL (import it into a test module)."""
    async with (
        fresh_database(request.param, tmp_path) as url,
        running_hall(tmp_path, database_url=url) as running,
    ):
        yield running


def new_browser() -> aiohttp.ClientSession:
    """A browser profile: its own cookie jar (127.0.0.1 cookies included)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def scan(
    browser: aiohttp.ClientSession,
    portal_url: str,
    authsvc_url: str,
    phone: PhoneApp,
    identity: str,
    role: str,
    credit_code: str = "",
    *,
    follow: bool = True,
) -> aiohttp.ClientResponse:
    """Portal 登录 → authsvc QR page → the phone confirms → pushed redirect → the portal's
    callback (followed to the landing page unless `follow` is False)."""
    async with browser.get(f"{portal_url}/auth/login?identity={identity}") as page:
        request_id = json.loads(CONFIG.search(await page.text()).group(1))["request"]  # type: ignore[union-attr]
    async with browser.post(
        authsvc_url + "/api/tickets", json={"request": request_id, "identity": identity}
    ) as response:
        ticket = await response.json()
    ws = await browser.ws_connect(authsvc_url + ticket["ws_url"])
    await ws.send_json({"type": "auth", "secret": ticket["browser_secret"]})
    try:
        await phone.login(ticket["qr_text"], role=role, credit_code=credit_code)
        redirect = (await wait_for_state(ws, "confirmed"))["redirect"]
    finally:
        await ws.close()
    response = await browser.get(redirect, allow_redirects=follow)
    await response.read()
    return response


async def scan_login(
    hall: Hall,
    browser: aiohttp.ClientSession,
    phone: PhoneApp,
    identity: str,
    role: str,
    credit_code: str = "",
) -> aiohttp.ClientResponse:
    """Log `phone`'s person in at the hall's portal by scanning; the landing page."""
    return await scan(
        browser, hall.portal_url, hall.authsvc.url, phone, identity, role, credit_code
    )


async def csrf(browser: aiohttp.ClientSession, url: str) -> str:
    """The CSRF token of the form on `url`, as this browser's session has it."""
    async with browser.get(url) as page:
        match = CSRF.search(await page.text())
    assert match, url
    return match.group(1)
