"""A Redis Cluster master fails over mid-login under two authsvc processes."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp

from authsvc.store.keys import CLUSTER_SHARDS, KeyLayout, key_slot
from mobile_sim import PhoneApp, PhoneError
from tests.support.browser import BrowserLogin, next_state, wait_for_state
from tests.support.redis_cluster import RedisCluster
from tests.support.servers import free_port, start_process, write_clients


async def _retrying(step: Callable[[], Awaitable[object]], tries: int = 40) -> object:
    """A phone step, tried again after a clean 503 (the citizen taps again)."""
    for _ in range(tries - 1):
        try:
            return await step()
        except PhoneError as exc:
            if exc.code != "service_unavailable":
                raise
            await asyncio.sleep(0.25)
    return await step()


async def test_a_redis_cluster_master_fails_over_mid_login(
    redis_cluster: RedisCluster, redis_prefix: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """Two authsvc processes on the Redis Cluster; between the scan and the confirm the master
    serving the ticket's slot fails over to its replica. The phone's steps meet at most clean
    503s, the browser's socket on the other process is resynced and pushed the confirmation,
    and the code is redeemed once."""
    clients = write_clients(tmp_path)
    port_a, port_b = free_port(), free_port()
    common = {
        "issuer": f"http://127.0.0.1:{port_a}",
        "prefix": redis_prefix,
        "clients_file": clients,
        "redis_cluster_url": redis_cluster.url,
    }
    a = await start_process(tmp_path, port=port_a, **common)  # type: ignore[arg-type]
    b = await start_process(tmp_path, port=port_b, **common)  # type: ignore[arg-type]
    try:
        browser = BrowserLogin(a.url, http)
        await browser.start()
        ws = await browser.socket(a.url)
        assert (await next_state(ws))["state"] == "pending"
        phone = PhoneApp.open(tmp_path / "phone", b.url, session=http)
        await phone.apply_ecard("张三", "11010519491231002X", "13800138000")
        result = await phone.scan(browser.ticket["qr_text"])
        await wait_for_state(ws, "scanned")
        slot = key_slot(KeyLayout(redis_prefix, CLUSTER_SHARDS).ticket(browser.ticket["ticket_id"]))
        master = redis_cluster.master_of(slot)
        started = asyncio.get_running_loop().time()
        await asyncio.to_thread(redis_cluster.failover, master)
        await _retrying(lambda: phone.choose(result.account("personal")["key"]))
        await _retrying(lambda: phone.face_check("pass"))
        await _retrying(phone.confirm)
        redirect = (await wait_for_state(ws, "confirmed", timeout=30))["redirect"]
        took = asyncio.get_running_loop().time() - started
        code = parse_qs(urlsplit(redirect).query)["code"][0]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:9/cb",
            "code_verifier": browser.verifier,
        }
        pair = base64.b64encode(b"hall:hall-secret").decode()
        headers = {"Authorization": f"Basic {pair}"}
        answers = []
        for _ in range(2):
            async with http.post(f"{b.url}/token", data=form, headers=headers) as response:
                answers.append((response.status, (await response.json()).get("error")))
        print(f"cluster failover mid-login: confirmed {took:.2f} s after the failover began")
        assert answers == [(200, None), (400, "invalid_grant")]
    finally:
        a.kill()
        b.kill()
