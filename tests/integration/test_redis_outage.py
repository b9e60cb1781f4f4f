"""Redis going away gives clean 503s; when it returns, the broker recovers by itself."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from authsvc.store.redis import RedisStore
from tests.support.browser import BrowserLogin
from tests.support.redis_cluster import lone_redis
from tests.support.servers import free_port, running_authsvc, wait_ready

pytestmark = pytest.mark.redis


class PrivateRedis:
    """A redis-server of this test's own, so stopping it disturbs nobody else."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


async def connect(url: str) -> RedisStore:
    for _ in range(50):
        try:
            return await RedisStore.connect(url, prefix="outage:")
        except Exception:
            await asyncio.sleep(0.1)
    raise TimeoutError(url)


async def test_outage_is_a_clean_503_and_recovery_is_automatic(
    tmp_path: Path, private_redis: PrivateRedis, http: aiohttp.ClientSession
) -> None:
    """Store down: /readyz and the APIs answer 503 service_unavailable; back up: they work again."""
    store = await connect(private_redis.url)
    async with running_authsvc(tmp_path, store=store) as broker:
        browser = BrowserLogin(broker.url, http)
        await browser.start()
        private_redis.stop()
        async with http.get(broker.url + "/readyz") as response:
            assert response.status == 503
        async with http.post(
            broker.url + "/api/tickets", json={"request": browser.request_id}
        ) as response:
            body = await response.json()
            assert (response.status, body["error"]) == (503, "service_unavailable")
            assert body["message"]["zh"] == "服务暂时不可用，请稍后再试"
        private_redis.start()
        await wait_ready(broker.url, timeout=30.0)  # recovered by itself: /readyz is 200 again
        await browser.open_page()
        assert (await browser.new_ticket())["ticket_id"]


async def test_token_endpoint_outage_is_json_503_in_the_oauth_shape(
    tmp_path: Path, private_redis: PrivateRedis, http: aiohttp.ClientSession
) -> None:
    """Store down during /token and /userinfo: JSON 503 service_unavailable (RFC 6749 §5.2 shape,
    error and error_description), never the HTML error page a browser gets."""
    store = await connect(private_redis.url)
    async with running_authsvc(tmp_path, store=store) as broker:
        private_redis.stop()
        form = {
            "grant_type": "authorization_code",
            "code": "some-code",
            "redirect_uri": "http://127.0.0.1:9/cb",
            "code_verifier": "v" * 43,
        }
        async with http.post(
            broker.url + "/token",
            data=form,
            headers={"Authorization": aiohttp.encode_basic_auth("hall", "hall-secret")},
        ) as response:
            assert response.status == 503
            assert response.content_type == "application/json"
            body = await response.json()
        assert body["error"] == "service_unavailable" and body["error_description"]
        async with http.get(
            broker.url + "/userinfo", headers={"Authorization": "Bearer some-token"}
        ) as response:
            assert (response.status, response.content_type) == (503, "application/json")
            assert (await response.json())["error"] == "service_unavailable"


async def test_a_primary_turned_replica_is_a_clean_503_and_nothing_is_written(
    tmp_path: Path, private_redis: PrivateRedis, http: aiohttp.ClientSession
) -> None:
    """After a failover the old primary answers writes with READONLY: the broker answers 503
    service_unavailable, as for an outage, not 500; neither Redis gains a key."""
    new_primary = lone_redis(tmp_path / "new", aof=False)  # started: it answers
    old, new = Redis.from_url(private_redis.url), Redis.from_url(new_primary.url)
    store = await connect(private_redis.url)
    try:
        async with running_authsvc(tmp_path, store=store) as broker:
            browser = BrowserLogin(broker.url, http)
            await browser.start()
            before = set(await old.keys("*"))
            await old.replicaof("127.0.0.1", new_primary.port)
            async with http.post(
                broker.url + "/api/tickets", json={"request": browser.request_id}
            ) as response:
                body = await response.json()
                assert (response.status, body["error"]) == (503, "service_unavailable")
            assert set(await old.keys("*")) <= before  # the sync may have emptied it since
            assert await new.dbsize() == 0
    finally:
        await old.aclose()
        await new.aclose()
        new_primary.stop()
