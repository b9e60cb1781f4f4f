"""Races through the real HTTP API, as an attacker sends them: all at once, spread over two
`authsvc serve` processes on one Redis. The counts are bounded (100 phones, 10 rounds) and
every wait has a generous timeout; nothing here asserts a speed."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from authsvc.core import ecard, idnumber
from authsvc.core.clock import FrozenClock
from authsvc.core.crypto import public_jwk
from authsvc.core.tickets import Lifetimes
from authsvc.services import ecards
from mobile_sim import PhoneApp, PhoneError
from tests.conftest import PhoneFactory
from tests.security.helpers import StartServer
from tests.support import people
from tests.support.browser import BrowserLogin, next_state, wait_for_state
from tests.support.redis import REDIS_URL
from tests.support.servers import BrokerProcess, broker_processes, running_authsvc
from tools.people import seed

PHONES = 100
ROUNDS = 10


def citizen(n: int) -> dict[str, str]:
    """The n-th distinct valid citizen (one e-card per person: a second one re-binds)."""
    first17 = f"11010519800101{n:03d}"
    return {
        "name": "王" + "一二三四五六七八九十"[n // 10 % 10] + "甲乙丙丁戊己庚辛壬癸"[n % 10],
        "id_number": first17 + idnumber.check_character(first17),
        "phone": f"138{n:08d}",
    }


@pytest.fixture
async def two(tmp_path: Path, redis_prefix: str) -> AsyncIterator[list[BrokerProcess]]:
    """Two authsvc processes on one Redis, with room for a crowd from 127.0.0.1."""
    env = {"AUTHSVC_TICKETS_PER_IP_PER_MINUTE": "1000"}
    crowd = [citizen(n) for n in range(PHONES)]  # in the card registry, beside the test people
    seed(
        tmp_path / "registry.json",
        people.faces_dir(),
        people.everyone() + crowd,
        derive_from=people.TEST_SEED,
    )
    async with broker_processes(tmp_path, redis_prefix, env=env) as processes:
        yield processes


async def _redis_keys(prefix: str, pattern: str) -> list[str]:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, decode_responses=True, protocol=2)
    try:
        return [key async for key in client.scan_iter(match=prefix + pattern, count=500)]
    finally:
        await client.aclose()


async def _audit(prefix: str) -> list[dict[str, Any]]:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, decode_responses=True, protocol=2)
    try:
        entries = await client.xrange(prefix + "audit")
    finally:
        await client.aclose()
    return [json.loads(fields["r"]) for _, fields in entries]


async def _states_until_quiet(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Every state event the browser gets until the socket has been quiet for a second."""
    events = []
    while True:
        try:
            events.append(await next_state(ws, timeout=1.0))
        except TimeoutError:
            return events


async def _crowd(
    folder: Path, prefix: str, url_a: str, url_b: str, phones: PhoneFactory
) -> list[PhoneApp]:
    """PHONES phones with e-cards of distinct citizens, half talking to each process.

    The cards are issued by the issuance service itself (same keys, same Redis): the API
    rightly refuses a crowd of applications from one address (its per-IP limit)."""
    crowd = [await phones((url_a, url_b)[n % 2], apply=False) for n in range(PHONES)]
    async with running_authsvc(folder, store_kind="redis", prefix=prefix, issuer=url_a) as svc:
        for n, phone in enumerate(crowd):
            body = {**citizen(n), "device_jwk": public_jwk(phone.state.device_key.public_key())}
            application = ecard.validate_application(body)
            holder = await ecards.holder_for(svc.broker, application)
            card = await ecards.issue(svc.broker, application, holder, expected="")
            phone.state.save_card(card["ecard"], card["card_no"])
    return crowd


@pytest.mark.redis
async def test_hundred_phones_scan_one_ticket_at_once_over_two_processes(
    tmp_path: Path,
    two: list[BrokerProcess],
    http: aiohttp.ClientSession,
    phones: PhoneFactory,
    redis_prefix: str,
) -> None:
    """100 phones scan one QR at once through two processes: one wins, 99 get
    ticket_already_scanned, the browser sees the move to `scanned` exactly once, and exactly
    one scan is in the audit."""
    a, b = two
    crowd = await _crowd(tmp_path, redis_prefix, a.url, b.url, phones)
    browser = BrowserLogin(a.url, http)
    await browser.start()
    ws = await browser.socket()
    assert (await next_state(ws))["state"] == "pending"
    results = await asyncio.gather(
        *(phone.scan(browser.ticket["qr_text"]) for phone in crowd), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, PhoneError)]
    assert len(winners) == 1 and len(losers) == PHONES - 1, results
    assert {(e.status, e.code) for e in losers} == {(409, "ticket_already_scanned")}
    events = await _states_until_quiet(ws)
    moves = [e for i, e in enumerate(events) if e["state"] != (events[i - 1]["state"] if i else "")]
    assert [e["state"] for e in moves] == ["scanned"], events
    scans = [
        r
        for r in await _audit(redis_prefix)
        if r.get("event") == "ticket" and r.get("state") == "scanned" and "card" in r
    ]
    assert len({r["card"] for r in scans}) == 1


@pytest.mark.redis
async def test_confirm_twice_at_once_confirms_once_with_one_code(
    two: list[BrokerProcess],
    http: aiohttp.ClientSession,
    phones: PhoneFactory,
    redis_prefix: str,
) -> None:
    """The same phone confirms twice at once, once through each process, ten times over: one
    confirmation, one ticket_state_conflict, one redirect pushed, one code left in Redis."""
    a, b = two
    phone_a = await phones(a.url)  # one phone (one e-card application) for every round
    for _ in range(ROUNDS):
        browser = BrowserLogin(a.url, http)
        await browser.start()
        ws = await browser.socket()
        result = await phone_a.scan(browser.ticket["qr_text"])
        await phone_a.choose(result.account("personal")["key"])
        await phone_a.face_check("pass")
        # the same phone (same device key and e-card), its second request through process B
        phone_b = PhoneApp(dataclasses.replace(phone_a.state, broker_url=b.url))
        phone_b.ticket = phone_a.ticket
        try:
            outcome = await asyncio.gather(
                phone_a.confirm(), phone_b.confirm(), return_exceptions=True
            )
        finally:
            await phone_b.close()
        errors = [e for e in outcome if isinstance(e, PhoneError)]
        assert len(errors) == 1, outcome
        assert (errors[0].status, errors[0].code) == (409, "ticket_state_conflict")
        confirmed = await wait_for_state(ws, "confirmed")
        assert "code=" in confirmed["redirect"]
        assert len(await _redis_keys(redis_prefix, "v:code:*")) == 1
        await ws.close()
        await _purge_codes(redis_prefix)


async def _purge_codes(prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, decode_responses=True, protocol=2)
    try:
        for key in await _redis_keys(prefix, "v:code:*"):
            await client.delete(key)
    finally:
        await client.aclose()


async def _confirmed_code(
    base: str, http: aiohttp.ClientSession, phone: PhoneApp
) -> tuple[BrowserLogin, str]:
    from tests.integration.test_oidc import code_of

    browser = BrowserLogin(base, http)
    await browser.start()
    ws = await browser.socket()
    await phone.login(browser.ticket["qr_text"])
    redirect = (await wait_for_state(ws, "confirmed"))["redirect"]
    await ws.close()
    return browser, code_of(redirect)


async def _token(
    http: aiohttp.ClientSession, base: str, browser: BrowserLogin, code: str
) -> tuple[int, dict[str, Any]]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": browser.redirect_uri,
        "code_verifier": browser.verifier,
    }
    auth = {"Authorization": aiohttp.encode_basic_auth("hall", "hall-secret")}
    async with http.post(base + "/token", data=form, headers=auth) as response:
        return response.status, await response.json()


async def _userinfo(http: aiohttp.ClientSession, base: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(base + "/userinfo", headers=headers) as response:
        return response.status


@pytest.mark.redis
async def test_code_redeemed_twice_at_once_revokes_the_winner(
    two: list[BrokerProcess], http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """One code, two POST /token at once (one per process), ten rounds: exactly one token
    response and one invalid_grant, and the winner's access token is dead at /userinfo on both
    processes — the replay always finds what to revoke (issue 12)."""
    a, b = two
    phone = await phones(a.url)
    for _ in range(ROUNDS):
        browser, code = await _confirmed_code(a.url, http, phone)
        replies = await asyncio.gather(
            _token(http, a.url, browser, code), _token(http, b.url, browser, code)
        )
        ok = [body for status, body in replies if status == 200]
        refused = [body for status, body in replies if status != 200]
        assert len(ok) == 1 and [r["error"] for r in refused] == ["invalid_grant"], replies
        for base in (a.url, b.url):
            assert await _userinfo(http, base, ok[0]["access_token"]) == 401


async def test_a_scan_racing_expiry_either_scans_or_expires(
    server: StartServer, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A scan sent as the ticket's lifetime ends, with the clock moved past it at 20 different
    points of the request: the scan succeeds and the ticket is scanned with a fresh lifetime,
    or it is refused ticket_expired and the stored ticket is unchanged — never both, never 5xx."""
    clock = FrozenClock(time.time())
    svc = await server(clock=clock, lifetimes=Lifetimes(pending=5.0, scanned=90.0))
    outcomes: set[str] = set()
    phone = await phones(svc.url)  # one phone: 20 scans, the per-device limit
    for ticks in range(20):
        browser = BrowserLogin(svc.url, http)
        await browser.start()
        clock.advance(4.999)
        before = await svc.store.get_ticket(browser.ticket["ticket_id"])

        async def expire_after(n: int) -> None:
            for _ in range(n):
                await asyncio.sleep(0)
            clock.advance(0.002)

        scan, _ = await asyncio.gather(
            phone.scan(browser.ticket["qr_text"]), expire_after(ticks), return_exceptions=True
        )
        after = await svc.store.get_ticket(browser.ticket["ticket_id"])
        assert after is not None and before is not None
        if isinstance(scan, BaseException):
            assert isinstance(scan, PhoneError) and scan.code in ("ticket_expired", "qr_invalid")
            assert after == before
            outcomes.add(scan.code)
        else:
            assert after.state == "scanned" and after.expires_at > before.expires_at
            outcomes.add("scanned")
    assert outcomes <= {"scanned", "ticket_expired", "qr_invalid"}
