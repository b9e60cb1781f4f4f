"""Fixtures: a real portal server on SQLite AND PostgreSQL, its provider, logins.

The provider is the real authsvc on 127.0.0.1, and `login` scans the QR with a real mobile_sim
phone holding the person's e-card. Modules that set `OP_DOUBLE = True` get the provider double
of op_double.py instead, for what the real authsvc cannot be made to produce (see its
docstring): tokens signed wrongly, expired, foreign, accounts the tables do not hold.

PostgreSQL (127.0.0.1:5432, trust auth, user postgres) gets a fresh database per test,
dropped afterwards. A missing PostgreSQL fails the test; it never skips.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from mobile_sim import PhoneApp
from portal.app import create_app
from portal.config import Settings
from portal.demo import load_demo
from portal.http.keys import DB, REGISTRIES
from tests.conftest import PhoneFactory
from tests.support.databases import KINDS, fresh_database
from tests.support.hall import portal_client, scan
from tests.support.servers import Broker, free_port, running_authsvc

from .op_double import CLIENT_ID, CLIENT_SECRET, OpDouble

DEMO_PHONES = {
    p["id_number"]: p["phone"]
    for p in json.loads((Path(__file__).parents[2] / "portal/data/demo.json").read_text())["people"]
}
CSRF_RE = re.compile(r'name="_csrf" value="([^"]+)"')

# Demo people (portal/data/demo.json)
WANG = ("230102197503121019", "王建国")  # legal rep of C1 and C2
LI = ("230103198207211125", "李秀梅")  # admin of C1 and C3
ZHANG = ("230104199001051235", "张伟")  # agent of C1
LIU = ("23010219881130134X", "刘洋")  # agent of C1 and C3
ZHAO = ("230108197009181452", "赵志强")  # legal rep of C3
CHEN = ("230102199504021561", "陈静")  # no company
SUN = ("230103198506141673", "孙丽")  # agency staff
C1 = "91230100MA1BX2K306"  # several unit numbers under one code
C2 = "91230103MA1CQ7L509"
C3 = "12230000MB0N4R8P09"
C4 = "91230102MA1DT6W200"  # in the registries, not registered yet (enterprise pension)
C5 = "12230100MB1E8H3J0K"  # institutional pension only, not registered yet
C6 = "91230199MA1FP9G402"  # market regulation only, not registered yet
C_UNKNOWN = "91230100MA1GG1Y70R"  # valid check character, no registry knows it


@pytest.fixture(params=KINDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database(request.param, tmp_path) as url:  # no PostgreSQL → a failure
        yield url


@dataclass
class RealOp:
    """The real authsvc with the portal registered at `portal_url`, and a phone per person."""

    broker: Broker
    portal_url: str
    port: int
    phones: PhoneFactory
    made: dict[str, PhoneApp] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return self.broker.url

    async def phone(self, who: tuple[str, str]) -> PhoneApp:
        """The person's phone with their e-card, applied for with the phone number the demo
        data gives them (the number reserved at their card)."""
        if who[0] not in self.made:
            number = DEMO_PHONES.get(who[0], "13800138000")
            self.made[who[0]] = await self.phones(
                self.issuer, id_number=who[0], name=who[1], phone=number
            )
        return self.made[who[0]]


Provider = OpDouble | RealOp


@pytest.fixture
async def provider(
    request: pytest.FixtureRequest, aiohttp_server: Any, tmp_path: Path, phones: PhoneFactory
) -> AsyncIterator[Provider]:
    if getattr(request.module, "OP_DOUBLE", False):
        op = OpDouble()
        server = await aiohttp_server(op.app())
        op.issuer = str(server.make_url("")).rstrip("/")
        yield op
        return
    port = free_port()
    portal_url = f"http://127.0.0.1:{port}"
    folder = tmp_path / "authsvc"
    folder.mkdir()
    async with running_authsvc(folder, extra_clients=[portal_client(portal_url)]) as broker:
        yield RealOp(broker, portal_url, port, phones)


@pytest.fixture
def settings(database_url: str, provider: Provider, tmp_path: Path) -> Settings:
    real = isinstance(provider, RealOp)
    return Settings(
        database_url=database_url,
        authsvc_issuer=provider.issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        session_secret=secrets.token_bytes(32),
        upload_dir=tmp_path / "uploads",
        cert_keys_dir=tmp_path / "cert-keys",
        max_upload_bytes=64 * 1024,
        public_url=provider.portal_url if real else "http://127.0.0.1:8701",
        jwks_min_refetch_seconds=0.0,
    )


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, provider: Provider) -> TestClient:
    """A real portal server on 127.0.0.1 with the demo data loaded (on the port the real
    authsvc has registered for it)."""
    app = create_app(settings)
    port = provider.port if isinstance(provider, RealOp) else None
    cli: TestClient = await aiohttp_client(TestServer(app, host="127.0.0.1", port=port))
    await load_demo(cli.app[DB], cli.app[REGISTRIES])
    return cli


async def csrf_of(client: TestClient, path: str) -> str:
    resp = await client.get(path)
    match = CSRF_RE.search(await resp.text())
    assert match, f"no CSRF token on {path} ({resp.status})"
    return match.group(1)


async def login(
    client: TestClient,
    provider: Provider,
    who: tuple[str, str],
    role: str,
    credit_code: str = "",
    identity: str | None = None,
) -> Any:
    """Log in through the real /auth/login → provider → /auth/callback path: with the real
    authsvc the person's phone scans and confirms; the callback's response is returned."""
    identity = identity or {"legal_rep": "legal_rep", "admin": "legal_rep", "agent": "agent"}.get(
        role, "personal"
    )
    if isinstance(provider, RealOp):
        phone = await provider.phone(who)
        return await scan(
            client.session,
            provider.portal_url,
            provider.issuer,
            phone,
            identity,
            role,
            credit_code,
            follow=False,
        )
    resp = await client.get(f"/auth/login?identity={identity}", allow_redirects=False)
    assert resp.status == 303, await resp.text()
    params = dict(parse_qsl(urlsplit(resp.headers["Location"]).query))
    account: dict[str, Any] = {"role": role, "id_number": who[0], "name": who[1]}
    if credit_code:
        account["company"] = {"credit_code": credit_code}
    code = provider.authorize(params, account)
    return await client.get(
        f"/auth/callback?code={code}&state={params['state']}&iss={provider.issuer}",
        allow_redirects=False,
    )


def error_code(html: str) -> str | None:
    match = re.search(r'data-code="([a-z_]+)"', html) or re.search(r"<code>([a-z_]+)</code>", html)
    return match.group(1) if match else None
