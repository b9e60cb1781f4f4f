"""PostgreSQL stopped and restarted under the portal: clean 503s while it is away, recovery by
itself, and no half-written agent or grant. The PostgreSQL is this test's own (initdb and
pg_ctl from Debian's postgresql package, a free port, a temp folder), never the shared one."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from sqlalchemy import func, select

from portal.db.models import Agent
from portal.http.keys import DB
from tests.conftest import PhoneFactory
from tests.integration.test_portal_with_authsvc import csrf, login, person
from tests.support.hall import C1, CHEN, WANG, Hall, running_hall
from tests.support.servers import free_port

PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, run as the `postgres` user (initdb refuses
    root) in a folder it owns."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="qrauth-pg-"))
        shutil.chown(self.folder, "postgres", "postgres")
        self.data = self.folder / "data"
        self.port = free_port()

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True)

    def init(self) -> None:
        self._as_postgres(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-w",
            "-l", str(self.folder / "log"), "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/hall"

    async def create_database(self) -> None:
        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres")
        try:
            await conn.execute('CREATE DATABASE "hall"')
        finally:
            await conn.close()

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
async def hall_on_private_pg(postgres: PrivatePostgres, tmp_path: Path) -> AsyncIterator[Hall]:
    await postgres.create_database()
    async with running_hall(tmp_path, database_url=postgres.url) as hall:
        yield hall


async def _agents(hall: Hall, id_number: str) -> int:
    async with hall.portal[DB]() as db:
        return int(await db.scalar(select(func.count()).where(Agent.id_number == id_number)) or 0)


async def test_postgres_restarted_under_the_portal(
    hall_on_private_pg: Hall, postgres: PrivatePostgres, phones: PhoneFactory
) -> None:
    """Logged in, PostgreSQL stops (immediate: a crash): pages and the form are clean 503s
    (database_unavailable), /readyz is 503, nothing is half-written; PostgreSQL starts again:
    the same session works and the form then writes exactly one agent."""
    hall = hall_on_private_pg
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        await login(hall, browser, await person(phones, hall, WANG), "legal_rep", "legal_rep", C1)
        token = await csrf(browser, f"{hall.portal_url}/uc/{C1}/agents")
        form = {"_csrf": token, "id_number": CHEN[0], "name": CHEN[1], "phone": CHEN[2]}
        before = await _agents(hall, CHEN[0])
        await asyncio.to_thread(postgres.stop, "immediate")
        statuses = []
        for path in (f"/uc/{C1}", f"/uc/{C1}/agents"):
            async with browser.get(hall.portal_url + path) as page:
                statuses.append(page.status)
                assert page.status == 503 and "database_unavailable" in await page.text()
        async with browser.post(f"{hall.portal_url}/uc/{C1}/agents", data=form) as response:
            statuses.append(response.status)
            assert response.status == 503
        async with browser.get(hall.portal_url + "/readyz") as response:
            assert response.status == 503
        await asyncio.to_thread(postgres.start)
        for _ in range(100):
            async with browser.get(hall.portal_url + "/readyz") as response:
                if response.status == 200:
                    break
            await asyncio.sleep(0.1)
        assert await _agents(hall, CHEN[0]) == before  # the refused form wrote nothing
        async with browser.get(f"{hall.portal_url}/uc/{C1}") as page:
            assert page.status == 200  # the session survived the restart
        token = await csrf(browser, f"{hall.portal_url}/uc/{C1}/agents")
        async with browser.post(
            f"{hall.portal_url}/uc/{C1}/agents", data={**form, "_csrf": token}
        ) as response:
            assert response.status == 200
        assert await _agents(hall, CHEN[0]) == before + 1
    print(f"postgres restart: during the outage {statuses}; after it 200, one agent written")
