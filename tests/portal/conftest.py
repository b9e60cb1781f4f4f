"""Fixtures: a real portal server on SQLite AND PostgreSQL, a stand-in OIDC provider, logins.

PostgreSQL (127.0.0.1:5432, trust auth, user postgres) gets a fresh database per test,
dropped afterwards. A missing PostgreSQL fails the test; it never skips.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from aiohttp.test_utils import TestClient

from portal.app import create_app
from portal.config import Settings
from portal.demo import load_demo
from portal.http.keys import DB, REGISTRIES
from tests.support.databases import KINDS, fresh_database

from .fake_op import CLIENT_ID, CLIENT_SECRET, FakeProvider

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


@pytest.fixture
async def provider(aiohttp_server: Any) -> FakeProvider:
    op = FakeProvider()
    server = await aiohttp_server(op.app())
    op.issuer = str(server.make_url("")).rstrip("/")
    return op


@pytest.fixture
def settings(database_url: str, provider: FakeProvider, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        authsvc_issuer=provider.issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        session_secret=secrets.token_bytes(32),
        upload_dir=tmp_path / "uploads",
        cert_keys_dir=tmp_path / "cert-keys",
        max_upload_bytes=64 * 1024,
        public_url="http://127.0.0.1:8701",
        jwks_min_refetch_seconds=0.0,
    )


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    """A real portal server on 127.0.0.1 with the demo data loaded."""
    cli: TestClient = await aiohttp_client(create_app(settings))
    await load_demo(cli.app[DB], cli.app[REGISTRIES])
    return cli


async def csrf_of(client: TestClient, path: str) -> str:
    resp = await client.get(path)
    match = CSRF_RE.search(await resp.text())
    assert match, f"no CSRF token on {path} ({resp.status})"
    return match.group(1)


async def login(
    client: TestClient,
    provider: FakeProvider,
    who: tuple[str, str],
    role: str,
    credit_code: str = "",
    identity: str | None = None,
) -> Any:
    """Log in through the real /auth/login → provider → /auth/callback path."""
    identity = identity or {"legal_rep": "legal_rep", "admin": "legal_rep", "agent": "agent"}.get(
        role, "personal"
    )
    resp = await client.get(f"/auth/login?identity={identity}", allow_redirects=False)
    assert resp.status == 303, await resp.text()
    params = dict(parse_qsl(urlsplit(resp.headers["Location"]).query))
    account: dict[str, Any] = {"role": role, "id_number": who[0], "name": who[1]}
    if credit_code:
        account["company"] = {"credit_code": credit_code}
    code = provider.authorize(params, account)
    return await client.get(
        f"/auth/callback?code={code}&state={params['state']}", allow_redirects=False
    )


def error_code(html: str) -> str | None:
    match = re.search(r'data-code="([a-z_]+)"', html) or re.search(r"<code>([a-z_]+)</code>", html)
    return match.group(1) if match else None
