"""Shared by the refusal tests: assert a refusal fully, and send raw signed phone requests."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from redis.asyncio import Redis

from authsvc.core import device, tickets
from mobile_sim import PhoneApp, PhoneError
from tests.conftest import PhoneFactory
from tests.support.browser import BrowserLogin
from tests.support.redis import REDIS_URL
from tests.support.servers import Broker

Reply = tuple[int, dict[str, Any]]
StartServer = Callable[..., Awaitable[Broker]]
AGENT_KEY = "agent:91230100MA1234567X"
LISI = {"name": "李四", "id_number": "110105194912310038"}


def refused(reply: Reply, status: int, code: str) -> dict[str, Any]:
    """(a) the status, (b) the stable code, (c) a message in both languages."""
    got, body = reply
    assert (got, body.get("error")) == (status, code), body
    assert body["message"]["zh"] and body["message"]["en"]
    return body


async def phone_refused(call: Awaitable[object], status: int, code: str) -> PhoneError:
    """The same three checks for a refusal PhoneApp received from the broker."""
    with pytest.raises(PhoneError) as error:
        await call
    assert (error.value.status, error.value.code) == (status, code), error.value
    assert error.value.zh and error.value.en
    return error.value


@asynccontextmanager
async def unchanged(server: Broker, ticket_id: str) -> AsyncIterator[tickets.Ticket]:
    """(d) the stored ticket is exactly the same after the refusal."""
    before = await server.store.get_ticket(ticket_id)
    assert before is not None
    yield before
    assert await server.store.get_ticket(ticket_id) == before


async def post(
    http: aiohttp.ClientSession, url: str, data: bytes, headers: dict[str, str] | None = None
) -> Reply:
    """POST raw bytes; the status and the JSON body."""
    async with http.post(url, data=data, headers=headers or {}) as response:
        return response.status, await response.json(content_type=None)


def signed(
    phone: PhoneApp, path: str, body: bytes, *, method: str = "POST", **kw: Any
) -> dict[str, str]:
    """Headers of a phone request; `key`, `timestamp`, `nonce` and `ecard` can be forged."""
    headers = device.signed_headers(
        kw.get("key") or phone.state.device_key,
        method=method,
        path=path,
        body=body,
        timestamp=kw.get("timestamp") or int(time.time()),
        nonce=kw.get("nonce") or secrets.token_urlsafe(16),
    )
    headers[device.HEADER_ECARD] = kw.get("ecard", phone.state.ecard)
    return {**headers, "Content-Type": "application/json"}


def scan_path(ticket_id: str) -> str:
    return f"/api/mobile/tickets/{ticket_id}/scan"


async def mobile(
    http: aiohttp.ClientSession, phone: PhoneApp, path: str, body: Any, **kw: Any
) -> Reply:
    """A phone request signed with (possibly forged) credentials, sent raw."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await post(http, phone.state.broker_url + path, raw, signed(phone, path, raw, **kw))


async def raw_post(base: str, path: str, headers: dict[str, Any], body: bytes) -> Reply:
    """POST with header bytes no HTTP client library would send; the status and the JSON body."""
    url = urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {url.netloc}",
        "Connection: close",
        f"Content-Length: {len(body)}",
    ]
    raw = [line.encode() for line in lines] + [
        name.encode() + b": " + (v if isinstance(v, bytes) else str(v).encode())
        for name, v in headers.items()
    ]
    writer.write(b"\r\n".join(raw) + b"\r\n\r\n" + body)
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    status_line, _, rest = response.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


async def begin(
    server: Broker, http: aiohttp.ClientSession, phones: PhoneFactory, *, scan: bool = True
) -> tuple[BrowserLogin, PhoneApp, str]:
    """A QR page with a ticket, and a phone with an e-card that has (optionally) scanned it."""
    browser = BrowserLogin(server.url, http)
    await browser.start()
    phone = await phones(server.url)
    if scan:
        await phone.scan(browser.ticket["qr_text"])
    return browser, phone, browser.ticket["ticket_id"]


async def value_keys(server: Broker, start: str) -> set[str]:
    """The names of the stored values starting with `start` (observed, not changed: the proof
    that a refused request stored nothing)."""
    store: Any = server.store
    if store.name == "memory":
        return {k for k in store._values._items if k.startswith(start)}
    prefix = store._prefix + "v:"
    async with Redis.from_url(REDIS_URL, decode_responses=True) as redis:
        found = [k async for k in redis.scan_iter(match=prefix + start + "*", count=500)]
    return {k[len(prefix) :] for k in found}
