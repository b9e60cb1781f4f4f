"""Key rotation on three authsvc processes behind nginx during a stream of logins and e-card
(certificate) verifications: publish first (`keys add`), sign later (`keys promote`), retire
after the grace — every purpose, and not one refusal."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from joserfc.jwk import KeySet

from authsvc.core import ecard
from mobile_sim import PhoneApp
from tests.cluster.conftest import LIMITS, portal_login
from tests.support.databases import fresh_database
from tests.support.hall import C1, LIU, WANG
from tests.support.people import world
from tools.cluster import Cluster

PUBLISH_WAIT = 6.0  # > the processes' 5 s key reload + the portals' 1 s JWKS max age
RELOAD_WAIT = 6.0  # every process reloads the keys folder within 5 s
#: qr and token keys: what they signed lives seconds here (a QR is scanned, an ID token checked
#: at once), so a promoted-out key may go after 8 s (> a lagging process's 5 s + one login).
KEY_GRACE = 8.0


@pytest.fixture
async def rotating_cluster(tmp_path: Path, redis_prefix: str) -> AsyncIterator[Cluster]:
    env = {
        "AUTHSVC_KEY_PUBLISH_WAIT": str(PUBLISH_WAIT),
        "AUTHSVC_KEY_GRACE": str(KEY_GRACE),  # the e-card key's grace stays longer than a card
        "PORTAL_JWKS_MAX_AGE": "1",
        **LIMITS,  # the stream logs the same two phones in back to back, from one address
    }
    async with fresh_database("postgresql", tmp_path) as url:
        running = Cluster(
            tmp_path / "cluster",
            registry_file=world(tmp_path),
            redis_prefix=redis_prefix,
            database_url=url,
            extra_env=env,
        )
        try:
            await running.start()
            yield running
        finally:
            await running.stop()


def keys_cli(cluster: Cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "authsvc", "keys", *args],
        env={**os.environ, **cluster.authsvc_env(0)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 or not check, (args, done.stdout, done.stderr)
    return done


def kids(cluster: Cluster, status: str) -> dict[str, str]:
    """purpose → kid of the key in `status` (current, next, previous, retired) of the purpose's
    main algorithm (token keys also keep an RS256 key current: not rotated here)."""
    rows = [line.split() for line in keys_cli(cluster, "list").stdout.splitlines()]
    return {row[0]: row[1] for row in rows if row[-1] == status and row[2] != "RS256"}


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


class Tally:
    """What each stream did, by era (before, after promote qr, …): successes and refusals."""

    def __init__(self) -> None:
        self.era = "before"
        self.done: dict[str, list[str]] = {}
        self.refused: list[str] = []
        self.stop = asyncio.Event()

    def count(self, stream: str, what: str) -> None:
        self.done.setdefault(stream, []).append(f"{self.era} {what}")

    def refuse(self, stream: str, why: str) -> None:
        self.refused.append(f"{stream} {self.era}: {why}")

    def of(self, stream: str, prefix: str = "") -> int:
        return sum(1 for entry in self.done.get(stream, []) if entry.startswith(prefix))

    async def loop(
        self, stream: str, step: Callable[[], Awaitable[str]], pause: float = 0.0
    ) -> None:
        """Run `step` until told to stop; any exception or a non-"ok" answer is a refusal."""
        while not self.stop.is_set():
            try:
                outcome = await step()
            except Exception as exc:  # any refusal counts
                self.refuse(stream, f"{type(exc).__name__}: {exc}")
            else:
                if outcome.startswith("ok"):
                    self.count(stream, outcome)
                else:
                    self.refuse(stream, outcome)
            await asyncio.sleep(pause)


def login_step(
    cluster: Cluster, browser: aiohttp.ClientSession, phone: PhoneApp, identity: str, role: str
) -> Callable[[], Awaitable[str]]:
    async def step() -> str:
        browser.cookie_jar.clear()
        landed = await portal_login(
            cluster, browser, phone, identity=identity, role=role, credit_code=C1
        )
        ok = landed.status == 200 and landed.url.path.startswith(f"/uc/{C1}")
        return "ok" if ok else f"landed {landed.status} {landed.url.path}"

    return step


def card_check_step(phones: list[PhoneApp]) -> Callable[[], Awaitable[str]]:
    """The phones' own requests: each one presents its e-card, which the process that nginx
    picks verifies against its e-card keys (GET /api/mobile/ecard)."""

    async def step() -> str:
        for phone in list(phones):
            shown = await phone.show_ecard()
            if shown.get("status") != "active":
                return f"card {shown.get('card_no')} shown as {shown.get('status')}"
        return f"ok {len(phones)}"

    return step


def relying_party_step(
    cluster: Cluster, http: aiohttp.ClientSession, phones: list[PhoneApp], verified: list[str]
) -> Callable[[], Awaitable[str]]:
    """A relying party checking e-cards offline: GET /api/broker-keys through nginx (whichever
    process answers), then every card's signature, type, issuer and lifetime against the
    published `ecard` keys."""

    async def step() -> str:
        async with http.get(f"{cluster.authsvc_url}/api/broker-keys") as response:
            if response.status != 200:
                return f"broker-keys {response.status}"
            published = await response.json()
        keys = KeySet.import_key_set(published["ecard"])
        for phone in list(phones):
            card = ecard.read(phone.state.ecard, keys, issuer=published["issuer"], now=time.time())
            verified.append(kid_of(phone.state.ecard))
            assert card.card_no == phone.state.card_no
        return f"ok {len(phones)}"

    return step


@pytest.mark.timeout(300)
async def test_rotating_every_key_refuses_no_login_and_no_card(
    rotating_cluster: Cluster, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Two browsers log in over and over, the phones present their e-cards and a relying party
    verifies them against the published keys, while the qr, token and ecard keys are each
    added, waited for, promoted and (qr, token: after their grace) retired. Cards signed by the
    old ecard key keep being accepted, a card issued after the promotion is signed by the new
    one, retiring the old ecard key inside its grace is refused: not one refusal anywhere."""
    cluster = rotating_cluster
    phones = []
    for who in (WANG, LIU):
        phone = PhoneApp.open(tmp_path / f"phone-{who[0]}", cluster.authsvc_url, session=http)
        await phone.apply_ecard(who[1], who[0], who[2])
        phones.append(phone)
    before = kids(cluster, "current")
    assert {kid_of(p.state.ecard) for p in phones} == {before["ecard"]}
    tally = Tally()
    carded = list(phones)  # the late phone joins once it has its card
    rp_kids: list[str] = []
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as one,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as two,
    ):
        streams = [
            tally.loop("login", login_step(cluster, one, phones[0], "legal_rep", "legal_rep")),
            tally.loop("login", login_step(cluster, two, phones[1], "agent", "agent")),
            tally.loop("card", card_check_step(carded), pause=0.2),
            tally.loop("rp", relying_party_step(cluster, http, carded, rp_kids), pause=0.2),
        ]
        tasks = [asyncio.create_task(s) for s in streams]
        try:
            for purpose in ("qr", "token", "ecard"):
                await rotate(cluster, tally, purpose)
            late = PhoneApp.open(tmp_path / "phone-late", cluster.authsvc_url, session=http)
            await late.apply_ecard("陈静", "230102199504021561", "13804510006")
            carded.append(late)
            tally.era = "late card"
            await asyncio.sleep(3)
            tally.stop.set()
            await asyncio.gather(*tasks)
        finally:
            tally.stop.set()
            for task in tasks:
                task.cancel()
    assert tally.refused == [], sorted(set(tally.refused))[:10]
    after = kids(cluster, "current")
    assert all(after[p] != before[p] for p in ("qr", "token", "ecard"))
    assert kids(cluster, "retired").keys() >= {"qr", "token"}
    assert kids(cluster, "previous")["ecard"] == before["ecard"]  # kept: cards it signed live
    assert kid_of(late.state.ecard) == after["ecard"]
    assert tally.of("login", "after promote ecard") >= 2 and tally.of("login") >= 10, tally.done
    for stream in ("card", "rp"):
        assert tally.of(stream, "after promote ecard") >= 3, tally.done.get(stream)
        assert tally.of(stream, "after retire-refused ecard") >= 1, tally.done.get(stream)
        assert tally.of(stream, "late card") >= 1, tally.done.get(stream)
    assert {before["ecard"], after["ecard"]} <= set(rp_kids)
    print(
        f"rotation: {tally.of('login')} logins, {tally.of('card')} rounds of e-card requests, "
        f"{len(rp_kids)} relying-party e-card verifications "
        f"({rp_kids.count(before['ecard'])} of cards signed by the old key), "
        f"{len(tally.refused)} refused"
    )


async def rotate(cluster: Cluster, tally: Tally, purpose: str) -> None:
    """add → wait as `add` says → promote → every process reloads → retire the old key once
    its grace is over (qr, token), or see the retirement refused inside it (ecard)."""
    old = kids(cluster, "current")[purpose]
    keys_cli(cluster, "add", purpose)
    await asyncio.sleep(PUBLISH_WAIT + 0.5)
    keys_cli(cluster, "promote", purpose)
    promoted = time.monotonic()
    tally.era = f"after promote {purpose}"
    await asyncio.sleep(RELOAD_WAIT)
    if purpose == "ecard":
        refused = keys_cli(cluster, "retire", old, check=False)
        assert refused.returncode == 1 and "inside its grace" in refused.stderr, refused
        tally.era = "after retire-refused ecard"
        await asyncio.sleep(RELOAD_WAIT / 2)
        return
    await asyncio.sleep(max(0.0, promoted + KEY_GRACE + 0.5 - time.monotonic()))
    keys_cli(cluster, "retire", old)
    tally.era = f"after retire {purpose}"
    await asyncio.sleep(RELOAD_WAIT)
