"""The whole system on 127.0.0.1: authsvc, the portal (demo data loaded) registered as its
client, and phones — for the portal's integration and end-to-end tests."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from portal.app import create_app as create_portal
from portal.clock import Clock
from portal.config import Settings as PortalSettings
from portal.demo import load_demo
from portal.http.keys import DB, REGISTRIES
from tests.support.servers import Broker, free_socket, running_authsvc

WANG = ("230102197503121019", "王建国", "13804510001")  # legal rep of C1 and C2
LI = ("230103198207211125", "李秀梅", "13804510002")  # admin of C1 and C3
ZHANG = ("230104199001051235", "张伟", "13804510003")  # agent of C1
LIU = ("23010219881130134X", "刘洋", "13804510004")  # agent of C1 and C3
CHEN = ("230102199504021561", "陈静", "13804510006")  # no company
SUN = ("230103198506141673", "孙丽", "13804510007")  # agency staff
C1, C2, C3 = "91230100MA1BX2K306", "91230103MA1CQ7L509", "12230000MB0N4R8P09"


@dataclass
class Hall:
    authsvc: Broker
    portal_url: str
    portal: web.Application


def portal_client(portal_url: str) -> dict[str, object]:
    return {
        "client_id": "portal",
        "client_secret": "portal-test-secret",
        "name": {"zh": "人社网上服务大厅", "en": "HR & Social Security Online Service Hall"},
        "redirect_uris": [f"{portal_url}/auth/callback"],
        "post_logout_redirect_uris": [f"{portal_url}/"],
        "accounts_endpoint": f"{portal_url}/api/accounts",
        "backchannel_logout_uri": f"{portal_url}/auth/backchannel-logout",
        "identities": ["personal", "legal_rep", "agent"],
        "scopes": ["openid", "profile", "id_number", "phone", "account"],
    }


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
    async with running_authsvc(
        folder, extra_clients=[portal_client(portal_url)], **authsvc_overrides
    ) as broker:
        settings = PortalSettings(
            database_url=database_url or f"sqlite+aiosqlite:///{folder / 'portal.db'}",
            authsvc_issuer=broker.url,
            client_id="portal",
            client_secret="portal-test-secret",
            session_secret=secrets.token_bytes(32),
            upload_dir=folder / "uploads",
            public_url=portal_url,
            jwks_min_refetch_seconds=0.0,
        )
        app = create_portal(settings, business_clock=business_clock)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        try:
            await load_demo(app[DB], app[REGISTRIES])
            yield Hall(authsvc=broker, portal_url=portal_url, portal=app)
        finally:
            await runner.cleanup()
