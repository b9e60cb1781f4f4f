"""One complete login against authsvc or against the floor, timed from the client's side.

authsvc: POST /api/tickets → WebSocket (auth, `pending`) → phone scan → account → face → confirm
→ the browser's `confirmed` event (with the redirect carrying the code). The phone is
mobile_sim's PhoneApp (it verifies the QR offline and signs every call with its device key,
a fresh nonce each time); the browser is tests.support.browser.BrowserLogin.

oidc: the authsvc login, then the relying party's side: the redirect's `iss`, `state` and `code`
are read, the code is redeemed at POST /token (client_secret_basic, the PKCE verifier), and the
ID token is verified (ES256 against /jwks.json, fetched once at setup; iss, aud, nonce, exp).

floor: the same requests and pushes on bench.floor, which checks nothing (see its docstring).
Its phone steps carry the bytes a phone sends authsvc: the headers (e-card, device signature)
and bodies of one real authsvc login, recorded at setup (`record_phone_requests`) and replayed,
so the floor receives and parses what authsvc does.

longpoll (authsvc and floor): the same login, the browser long-polling `POST …/poll` with the
last version it has (the first answer, `pending`, comes at once) instead of the WebSocket, until
`confirmed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from authsvc.core.crypto import Algorithm
from authsvc.core.idnumber import check_character
from mobile_sim import faces
from mobile_sim.phone import PhoneApp
from mobile_sim.state import PhoneState
from tests.support.browser import BrowserLogin, next_state, wait_for_state

USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
FLOOR_STEPS = ("scan", "face")  # the phone sends its account choice with the face check
# A person takes seconds between the face check and 确认; in that time the long-polling browser
# catches up and its poll waits. Without the pause the generator's phone overtakes the polls,
# and every poll would be answered at once by its read, never by a push.
LONG_POLL_PAUSE_S = 0.03


CLIENT_SECRET = "hall-secret"  # the test client `hall` of tests.support.servers.write_clients


class LoginFailed(Exception):
    """A login that ended otherwise than with the browser's `confirmed` event."""


class TokenRefused(LoginFailed):
    """POST /token answered otherwise than 200 with an ID token."""


class IdTokenInvalid(LoginFailed):
    """The ID token (or the redirect carrying the code) did not verify at the relying party."""


@dataclass(frozen=True, slots=True)
class PhoneRequest:
    """One phone call as sent: its own headers (no Host, Content-Length: the session's) and
    body."""

    headers: dict[str, str]
    body: bytes


def _recorder(into: dict[str, PhoneRequest]) -> aiohttp.TraceConfig:
    """A trace that keeps each POST's headers and body by the last part of its path."""
    trace = aiohttp.TraceConfig()
    dropped = {"host", "content-length"}

    async def started(_: object, context: Any, params: aiohttp.TraceRequestStartParams) -> None:
        context.headers = {k: v for k, v in params.headers.items() if k.lower() not in dropped}
        context.body = bytearray()

    async def sent(_: object, context: Any, params: aiohttp.TraceRequestChunkSentParams) -> None:
        context.body += params.chunk

    async def ended(_: object, context: Any, params: aiohttp.TraceRequestEndParams) -> None:
        if params.method == "POST":
            step = params.url.path.rsplit("/", 1)[-1]
            into[step] = PhoneRequest(context.headers, bytes(context.body))

    trace.on_request_start.append(started)
    trace.on_request_chunk_sent.append(sent)
    trace.on_request_end.append(ended)
    return trace


@dataclass(frozen=True, slots=True)
class Sample:
    push_s: float  # confirm request about to be sent → browser has the `confirmed` event
    after_response_s: float  # confirm response received → browser has it (< 0: push came first)
    login_s: float  # ticket request sent → browser has `confirmed` (oidc: ID token verified)
    token_s: float = math.nan  # oidc: POST /token sent → its JSON answer parsed


def session(
    limit: int = 0, trace_configs: list[aiohttp.TraceConfig] | None = None
) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        trace_configs=trace_configs,
        connector=aiohttp.TCPConnector(limit=limit, force_close=False),
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=30),
        headers={"User-Agent": USER_AGENT},
    )


BENCH_FACES = b"qrauth-bench-faces|"  # the bench's made-up people have faces from this seed
BENCH_PEOPLE = 256


def registry_people() -> list[dict[str, str]]:
    """The bench's card holders, for the registry authsvc is started with."""
    return [
        dict(zip(("name", "id_number", "phone"), citizen(i), strict=True))
        for i in range(BENCH_PEOPLE)
    ]


def citizen(i: int) -> tuple[str, str, str]:
    """A valid (GB 11643) made-up person per pool slot."""
    born = dt.date(1980, 1, 1) + dt.timedelta(days=i)
    first17 = f"110105{born:%Y%m%d}{i % 1000:03d}"
    return "张三", first17 + check_character(first17), f"138{i:08d}"


async def provision(
    base: str, http: aiohttp.ClientSession, home: Path, count: int, algorithm: Algorithm
) -> list[PhoneState]:
    """`count` phones with an e-card each (POST /api/mobile/ecards is limited to 30 per
    minute per IP, so the pool stays small; each phone runs many logins)."""
    states = []
    for i in range(count):
        phone = PhoneApp.open(
            home / f"phone-{i}", base, session=http, algorithm=algorithm, faces_dir=home / "faces"
        )
        name, id_number, mobile = citizen(i)
        faces.create(home / "faces", id_number, derive_from=BENCH_FACES)
        await phone.apply_ecard(name, id_number, mobile)
        await phone.pin_broker_keys()
        states.append(phone.state)
    return states


async def _confirmed_at(
    ws: aiohttp.ClientWebSocketResponse, timeout: float
) -> tuple[float, dict[str, Any]]:
    event = await wait_for_state(ws, "confirmed", timeout=timeout)
    return time.perf_counter(), event


async def _finish(ws: aiohttp.ClientWebSocketResponse, watcher: asyncio.Task[Any] | None) -> None:
    if watcher is not None and not watcher.done():
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher
    await ws.close()


async def _cancel(task: asyncio.Task[Any]) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


class Logins:
    def __init__(
        self, http: aiohttp.ClientSession, authsvc: str, floor: str, timeout: float = 15.0
    ) -> None:
        self.http, self.authsvc, self.floor, self.timeout = http, authsvc, floor, timeout
        self.request_id = ""
        self.browser: BrowserLogin | None = None
        self._phones: itertools.cycle[PhoneState] | None = None
        self._faces = Path()
        self._jwks: KeySet | None = None
        self._claims: jwt.JWTClaimsRegistry | None = None
        self.phone_requests: dict[str, PhoneRequest] = {}

    async def setup(self, home: Path, phones: int, algorithm: Algorithm) -> None:
        browser = BrowserLogin(self.authsvc, self.http)
        await browser.open_page("personal")
        # One authorization request (valid 30 min) serves every ticket, as when the QR page
        # refreshes an expired code; GET /authorize is not part of a measured login. Its PKCE
        # verifier, state and nonce are what the relying party checks in an oidc login.
        self.request_id, self.browser = browser.request_id, browser
        async with self.http.get(self.authsvc + "/jwks.json") as response:
            response.raise_for_status()
            self._jwks = KeySet.import_key_set(await response.json())
        self._claims = jwt.JWTClaimsRegistry(
            leeway=5,
            iss={"essential": True, "value": self.authsvc},
            aud={"essential": True, "value": browser.client_id},
            nonce={"essential": True, "value": browser.nonce},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        self._faces = home / "faces"
        self._phones = itertools.cycle(
            await provision(self.authsvc, self.http, home, phones, algorithm)
        )
        await self.record_phone_requests()

    async def record_phone_requests(self) -> None:
        """One authsvc login whose phone calls are kept as sent, for the floor's steps."""
        recorded: dict[str, PhoneRequest] = {}
        async with aiohttp.ClientSession(
            trace_configs=[_recorder(recorded)], cookie_jar=aiohttp.DummyCookieJar()
        ) as recording:
            await self._authsvc_login(time.perf_counter(), phone_session=recording)
        missing = {*FLOOR_STEPS, "confirm"} - set(recorded)
        if missing:
            raise LoginFailed(f"phone calls not recorded: {sorted(missing)}")
        self.phone_requests = recorded

    async def authsvc_ticket(self) -> tuple[str, str, str]:
        """(ticket id, browser secret, QR text) from POST /api/tickets."""
        ticket = await self._new_ticket()
        return ticket["ws_url"], ticket["browser_secret"], ticket["qr_text"]

    async def _new_ticket(self) -> dict[str, Any]:
        browser = BrowserLogin(self.authsvc, self.http, request_id=self.request_id)
        return await browser.new_ticket("personal")

    async def floor_ticket(self) -> tuple[str, str, str]:
        async with self.http.post(self.floor + "/tickets") as response:
            if response.status != 201:
                raise LoginFailed(f"floor ticket {response.status}")
            body = await response.json()
        return body["ws_url"], body["browser_secret"], ""

    async def open_socket(
        self, base: str, ws_url: str, secret: str
    ) -> aiohttp.ClientWebSocketResponse:
        """Connect, authenticate, and read the first (`pending`) state: then we are subscribed."""
        ws = await self.http.ws_connect(base + ws_url, origin=base, max_msg_size=65536)
        try:
            await ws.send_json({"type": "auth", "secret": secret})
            first = await next_state(ws, self.timeout)
            if first.get("state") != "pending":
                raise LoginFailed(
                    f"first event {first.get('type')} {first.get('state') or first.get('error')}"
                )
        except BaseException:
            await ws.close()
            raise
        return ws

    async def authsvc_login(self) -> Sample:
        return (await self._authsvc_login(time.perf_counter()))[0]

    async def _authsvc_login(
        self, start: float, phone_session: aiohttp.ClientSession | None = None
    ) -> tuple[Sample, str]:
        """The broker login; returns its sample and the redirect the browser was pushed."""
        assert self._phones is not None, "setup first"
        ws_url, secret, qr_text = await self.authsvc_ticket()
        ws = await self.open_socket(self.authsvc, ws_url, secret)
        watcher = None
        try:
            watcher = asyncio.create_task(_confirmed_at(ws, self.timeout))
            phone = PhoneApp(
                next(self._phones), session=phone_session or self.http, faces_dir=self._faces
            )
            result = await phone.scan(qr_text)
            await phone.choose(result.account("personal")["key"], with_face_check=True)
            await phone.face_check()
            sent = time.perf_counter()
            await phone.confirm()
            answered = time.perf_counter()
            pushed, event = await watcher
            redirect = str(event.get("redirect", ""))
            if "code=" not in redirect:
                raise LoginFailed("confirmed without a code")
        finally:
            await _finish(ws, watcher)
        return Sample(pushed - sent, pushed - answered, pushed - start), redirect

    async def oidc_login(self) -> Sample:
        """The broker login, then the relying party redeems the code and verifies the ID token."""
        start = time.perf_counter()
        login, redirect = await self._authsvc_login(start)
        browser = self.browser
        assert browser is not None and self._jwks is not None and self._claims is not None
        query = parse_qs(urlsplit(redirect).query)
        if query.get("iss") != [self.authsvc] or query.get("state") != [browser.state]:
            raise IdTokenInvalid("redirect iss or state")
        form = {
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": browser.redirect_uri,
            "code_verifier": browser.verifier,
        }
        auth = {"Authorization": aiohttp.encode_basic_auth(browser.client_id, CLIENT_SECRET)}
        sent = time.perf_counter()
        async with self.http.post(self.authsvc + "/token", data=form, headers=auth) as response:
            body = await response.json(content_type=None)
            status = response.status
        answered = time.perf_counter()
        if status != 200 or not isinstance(body, dict) or "id_token" not in body:
            error = body.get("error", "?") if isinstance(body, dict) else "?"
            raise TokenRefused(f"{status} {error}")
        try:
            token = jwt.decode(str(body["id_token"]), self._jwks, algorithms=["ES256"])
            self._claims.validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise IdTokenInvalid(f"{type(exc).__name__}: {exc}") from exc
        return Sample(
            login.push_s, login.after_response_s, time.perf_counter() - start, answered - sent
        )

    async def _poll(self, url: str, secret: str, version: int) -> dict[str, Any]:
        async with self.http.post(url, json={"secret": secret, "version": version}) as response:
            if response.status != 200:
                raise LoginFailed(f"poll {response.status}")
            body = await response.json(content_type=None)
        if not isinstance(body, dict):
            raise LoginFailed("poll answer not an object")
        return body

    async def _poll_until_confirmed(self, url: str, secret: str, version: int) -> float:
        """Long-poll from `version` on until the `confirmed` state; when it arrived."""
        while True:
            event = await self._poll(url, secret, version)
            if event.get("state") == "confirmed":
                if "code=" not in str(event.get("redirect", "code=")):
                    raise LoginFailed("confirmed without a code")
                return time.perf_counter()
            if event.get("state") not in ("pending", "scanned"):
                raise LoginFailed(f"long-poll state {event.get('state')}")
            version = int(event["version"])

    async def _first_poll(self, url: str, secret: str) -> asyncio.Task[float]:
        """The first answer (`pending`, at once), then a task polling on from its version."""
        first = await self._poll(url, secret, 0)
        if first.get("state") != "pending":
            raise LoginFailed(f"first poll {first.get('state') or first.get('error')}")
        return asyncio.create_task(self._poll_until_confirmed(url, secret, int(first["version"])))

    async def authsvc_longpoll_login(self) -> Sample:
        """The broker login with a browser that long-polls instead of holding a WebSocket."""
        assert self._phones is not None, "setup first"
        start = time.perf_counter()
        ticket = await self._new_ticket()
        url = self.authsvc + ticket["poll_url"]
        watcher = await self._first_poll(url, ticket["browser_secret"])
        try:
            phone = PhoneApp(next(self._phones), session=self.http, faces_dir=self._faces)
            result = await phone.scan(ticket["qr_text"])
            await phone.choose(result.account("personal")["key"], with_face_check=True)
            await phone.face_check()
            await asyncio.sleep(LONG_POLL_PAUSE_S)
            sent = time.perf_counter()
            await phone.confirm()
            answered = time.perf_counter()
            pushed = await watcher
        finally:
            await _cancel(watcher)
        return Sample(pushed - sent, pushed - answered, pushed - start)

    async def floor_longpoll_login(self) -> Sample:
        start = time.perf_counter()
        ws_url, secret, _ = await self.floor_ticket()
        ticket = ws_url.rsplit("/", 1)[1]
        watcher = await self._first_poll(f"{self.floor}/tickets/{ticket}/poll", secret)
        try:
            for step in FLOOR_STEPS:
                await self._floor_step(ticket, step)
            await asyncio.sleep(LONG_POLL_PAUSE_S)
            sent = time.perf_counter()
            await self._floor_step(ticket, "confirm")
            answered = time.perf_counter()
            pushed = await watcher
        finally:
            await _cancel(watcher)
        return Sample(pushed - sent, pushed - answered, pushed - start)

    async def floor_login(self) -> Sample:
        start = time.perf_counter()
        ws_url, secret, _ = await self.floor_ticket()
        ticket = ws_url.rsplit("/", 1)[1]
        ws = await self.open_socket(self.floor, ws_url, secret)
        watcher = None
        try:
            watcher = asyncio.create_task(_confirmed_at(ws, self.timeout))
            for step in FLOOR_STEPS:
                await self._floor_step(ticket, step)
            sent = time.perf_counter()
            await self._floor_step(ticket, "confirm")
            answered = time.perf_counter()
            pushed, _ = await watcher
        finally:
            await _finish(ws, watcher)
        return Sample(pushed - sent, pushed - answered, pushed - start)

    async def _floor_step(self, ticket: str, step: str) -> None:
        """The step as the phone sent it to authsvc (`record_phone_requests`), to the floor."""
        call = self.phone_requests.get(step)
        if call is None:
            raise LoginFailed(f"no recorded phone call for {step}: record_phone_requests first")
        async with self.http.post(
            f"{self.floor}/tickets/{ticket}/{step}", data=call.body, headers=call.headers
        ) as response:
            await response.read()
            if response.status != 200:
                raise LoginFailed(f"floor {step} {response.status}")
