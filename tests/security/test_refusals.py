"""Refusals of the phone API, against a real authsvc on memory and on Redis: the HTTP status, the
stable code, a message in zh and en, and nothing changed (the stored ticket is equal before and
after). Browser-side refusals are in test_refusals_browser.py."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from joserfc import jwt
from joserfc.jwk import import_key

from authsvc.config import Limits
from authsvc.core import device, qr, tickets
from authsvc.core.clock import FrozenClock
from authsvc.core.crypto import Algorithm, b64u, b64u_decode, generate
from authsvc.core.tickets import Identity, Lifetimes
from authsvc.http.browser import qr_text
from authsvc.keyring import Purpose
from mobile_sim import PhoneApp
from tests.conftest import PhoneFactory
from tests.security.helpers import (
    AGENT_KEY,
    LISI,
    StartServer,
    begin,
    mobile,
    phone_refused,
    post,
    raw_post,
    refused,
    scan_path,
    signed,
    unchanged,
)
from tests.support.browser import BrowserLogin
from tests.support.servers import Broker


def _qr_claims(server: Broker, ticket_id: str, kid: str) -> qr.QrClaims:
    return qr.QrClaims(
        issuer=server.url,
        ticket_id=ticket_id,
        client_id="hall",
        identity=Identity.PERSONAL,
        expires_at=int(time.time()) + 60,
        kid=kid,
    )


def _flip(text: str, position: int) -> str:
    issuer, payload = qr.split(text)
    raw = bytearray(b64u_decode(payload))
    raw[position] ^= 0x01
    return f"{issuer}/q/{b64u(bytes(raw))}"


def _qr_kid(server: Broker) -> str:
    return str(server.broker.keyring.current_record(Purpose.QR).kid)


FORGERIES: dict[str, tuple[Callable[[Broker, str, str], str], str]] = {
    "forged signature": (
        lambda s, tid, text: qr.build(_qr_claims(s, tid, _qr_kid(s)), generate(Algorithm.ED25519)),
        "qr_invalid",
    ),
    "forged ES256 signature": (
        lambda s, tid, text: qr.build(_qr_claims(s, tid, _qr_kid(s)), generate(Algorithm.ES256)),
        "qr_invalid",
    ),
    "altered ticket id": (lambda s, tid, text: _flip(text, 20), "qr_invalid"),
    "altered identity": (lambda s, tid, text: _flip(text, 14), "qr_invalid"),
    "unknown kid": (
        lambda s, tid, text: qr.build(_qr_claims(s, tid, "00" * 8), generate(Algorithm.ED25519)),
        "qr_unknown_key",
    ),
    "untrusted issuer": (
        lambda s, tid, text: text.replace(s.url, "http://evil.example"),
        "qr_invalid",
    ),
    "garbage": (lambda s, tid, text: "hello", "qr_invalid"),
}


@pytest.mark.parametrize("case", list(FORGERIES))
async def test_forged_qr_is_refused(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory, case: str
) -> None:
    """A QR that is forged, altered, signed by an unknown key or for another issuer is refused."""
    browser, phone, tid = await begin(authsvc, http, phones, scan=False)
    forge, code = FORGERIES[case]
    text = forge(authsvc, tid, browser.ticket["qr_text"])
    async with unchanged(authsvc, tid):
        refused(await mobile(http, phone, scan_path(tid), {"qr": text}), 400, code)


async def test_a_scan_whose_path_names_another_ticket_is_refused(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The ticket in the scan's path must be the QR's own (a balancer routes by the path): a
    genuine QR posted to another pending ticket's path is qr_invalid, neither ticket changes,
    and the nonce is not spent (the same nonce then scans the QR at its own path)."""
    browser, phone, tid = await begin(authsvc, http, phones, scan=False)
    other = await BrowserLogin(authsvc.url, http).start()
    text, nonce = browser.ticket["qr_text"], "n0nce-mismatch-0123"
    async with unchanged(authsvc, tid), unchanged(authsvc, other["ticket_id"]):
        reply = await mobile(http, phone, scan_path(other["ticket_id"]), {"qr": text}, nonce=nonce)
        refused(reply, 400, "qr_invalid")
    assert (await mobile(http, phone, scan_path(tid), {"qr": text}, nonce=nonce))[0] == 200


async def test_the_scan_of_apps_before_the_ticket_path_still_scans(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """POST /api/mobile/scan (the ticket only in the QR) is the same scan: a forged QR there is
    qr_invalid and changes nothing, the genuine one scans its ticket."""
    browser, phone, tid = await begin(authsvc, http, phones, scan=False)
    text = browser.ticket["qr_text"]
    async with unchanged(authsvc, tid):
        refused(await mobile(http, phone, "/api/mobile/scan", {"qr": text[:-4]}), 400, "qr_invalid")
    status, answer = await mobile(http, phone, "/api/mobile/scan", {"qr": text})
    assert status == 200 and answer["ticket_id"] == tid
    stored = await authsvc.store.get_ticket(tid)
    assert stored is not None and stored.state is tickets.State.SCANNED


async def test_a_qr_signed_by_the_broker_but_not_issued_for_the_ticket_is_refused(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The scan checks the exact QR issued for the ticket (its stored digest), not only a
    valid signature: the broker's own key over the ticket's claims with a later expiry (what a
    leaked or retired QR key could make) is qr_invalid, and the ticket stays as it was."""
    browser, phone, tid = await begin(authsvc, http, phones, scan=False)
    _, key = authsvc.broker.keyring.current(Purpose.QR)
    claims = qr.read_text(
        browser.ticket["qr_text"],
        trusted_issuers={authsvc.url},
        resolve_key=lambda kid: authsvc.broker.keyring.verifying_key(
            Purpose.QR, kid, now=time.time()
        ),
        now=time.time(),
    )
    resigned = qr.build(dataclasses.replace(claims, expires_at=claims.expires_at + 30), key)
    assert resigned != browser.ticket["qr_text"]
    async with unchanged(authsvc, tid):
        refused(await mobile(http, phone, scan_path(tid), {"qr": resigned}), 400, "qr_invalid")


async def test_a_ticket_stored_without_a_qr_digest_is_checked_by_the_signature(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A ticket made by an earlier version (no digest kept, as during a rolling upgrade): its
    genuine QR scans; a forged one for it is qr_invalid and changes nothing."""
    old = tickets.create(
        client_id="hall",
        identity=Identity.PERSONAL,
        browser_ip="127.0.0.1",
        browser_ua="test",
        browser_secret=tickets.new_browser_secret(),
        now=time.time(),
        lifetimes=authsvc.broker.settings.lifetimes,
    )
    await authsvc.store.create_ticket(old, ttl=60)
    genuine = qr_text(authsvc.broker, old)
    forged = qr.build(_qr_claims(authsvc, old.id, _qr_kid(authsvc)), generate(Algorithm.ED25519))
    phone = await phones(authsvc.url)
    async with unchanged(authsvc, old.id):
        refused(await mobile(http, phone, scan_path(old.id), {"qr": forged}), 400, "qr_invalid")
    assert (await mobile(http, phone, scan_path(old.id), {"qr": genuine}))[0] == 200
    stored = await authsvc.store.get_ticket(old.id)
    assert stored is not None and stored.state is tickets.State.SCANNED


@pytest.mark.parametrize("stage", ["pending", "scanned"])
async def test_expired_ticket_is_refused(
    server: StartServer,
    http: aiohttp.ClientSession,
    phones: PhoneFactory,
    stage: str,
) -> None:
    """Past its lifetime (a frozen clock moved on), a ticket refuses the scan and every step."""
    clock = FrozenClock(time.time())
    svc = await server(clock=clock, lifetimes=Lifetimes(pending=60.0, scanned=90.0))
    browser, phone, tid = await begin(svc, http, phones, scan=stage == "scanned")
    clock.advance(91.0)
    async with unchanged(svc, tid):
        if stage == "pending":
            await phone_refused(phone.scan(browser.ticket["qr_text"]), 410, "ticket_expired")
        else:
            await phone_refused(phone.confirm(), 410, "ticket_expired")
            await phone_refused(phone.choose("personal:"), 410, "ticket_expired")


async def test_consumed_ticket_is_refused(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Once its code is redeemed, a ticket refuses every step with ticket_consumed."""
    browser, phone, tid = await begin(authsvc, http, phones, scan=False)
    await phone.login(browser.ticket["qr_text"])
    confirmed = await authsvc.store.get_ticket(tid)
    assert confirmed is not None and confirmed.state is tickets.State.CONFIRMED
    consumed = tickets.consume(confirmed, now=time.time())  # what redeeming the code does
    assert await authsvc.store.commit_transition(
        consumed,
        expected_version=confirmed.version,
        ttl=300,
        event=tickets.event(consumed),
        audit={"ticket": tid, "outcome": "consumed"},
    )
    other = await phones(authsvc.url, **LISI)
    async with unchanged(authsvc, tid):
        await phone_refused(phone.confirm(), 410, "ticket_consumed")
        await phone_refused(phone.reject(), 410, "ticket_consumed")
        await phone_refused(phone.scan(browser.ticket["qr_text"]), 410, "ticket_consumed")
        await phone_refused(other.scan(browser.ticket["qr_text"]), 410, "ticket_consumed")


MAX_BODY = Limits().max_body_bytes
BODIES = {
    "malformed JSON": (b'{"account": ', 400, "malformed_json"),
    "JSON array": (b'["account", "personal:"]', 400, "malformed_json"),
    "JSON string": (b'"personal:"', 400, "malformed_json"),
    "not UTF-8": (b'{"account": "\xff\xfe"}', 400, "malformed_json"),
    "oversized": (b'{"account": "' + b"a" * MAX_BODY + b'"}', 413, "body_too_large"),
}


@pytest.mark.parametrize("endpoint", ["poll", "mobile"])
@pytest.mark.parametrize("case", list(BODIES))
async def test_bad_bodies_are_refused(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory, case: str, endpoint: str
) -> None:
    """Bodies that are not a JSON object, or too large, are refused before anything happens."""
    browser, phone, tid = await begin(authsvc, http, phones)
    body, status, code = BODIES[case]
    async with unchanged(authsvc, tid):
        if endpoint == "poll":
            reply = await post(http, authsvc.url + browser.ticket["poll_url"], body)
        else:
            reply = await mobile(http, phone, f"/api/mobile/tickets/{tid}/account", body)
        refused(reply, status, code)


OUT_OF_ORDER: dict[str, tuple[list[str], str, int, str]] = {
    "confirm before choosing": ([], "confirm", 400, "account_required"),
    "confirm after face only": (["face"], "confirm", 400, "account_required"),
    "confirm before face": (["choose"], "confirm", 403, "face_check_required"),
    "choose an account not offered": ([], "choose_agent", 400, "account_not_offered"),
}
STEPS: dict[str, Callable[[PhoneApp], Awaitable[object]]] = {
    "choose": lambda p: p.choose("personal:"),
    "face": lambda p: p.face_check(),
    "confirm": lambda p: p.confirm(),
    "choose_agent": lambda p: p.choose(AGENT_KEY),
    "reject": lambda p: p.reject(),
}


@pytest.mark.parametrize("case", list(OUT_OF_ORDER))
async def test_steps_out_of_order_are_refused(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory, case: str
) -> None:
    """Confirm needs an account, then a face check; only offered accounts can be chosen."""
    _, phone, tid = await begin(authsvc, http, phones)
    before, action, status, code = OUT_OF_ORDER[case]
    for step in before:
        await STEPS[step](phone)
    async with unchanged(authsvc, tid):
        await phone_refused(STEPS[action](phone), status, code)


@pytest.mark.parametrize("action", ["confirm", "choose", "face", "reject"])
async def test_another_phone_cannot_continue_a_scanned_ticket(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory, action: str
) -> None:
    """Only the phone that scanned may continue: any other is not_ticket_device."""
    _, phone, tid = await begin(authsvc, http, phones)
    await phone.choose("personal:")
    await phone.face_check()
    intruder = await phones(authsvc.url, **LISI)
    intruder.ticket = phone.ticket
    async with unchanged(authsvc, tid):
        await phone_refused(STEPS[action](intruder), 403, "not_ticket_device")


def _foreign_ecard(server: Broker, phone: PhoneApp) -> str:
    """The phone's own card claims, re-signed by a key that is not the broker's (same kid)."""
    claims = json.loads(b64u_decode(phone.state.ecard.split(".")[1]))
    record = server.broker.keyring.current_record(Purpose.ECARD)
    key = import_key(generate(Algorithm.ED25519), "OKP", parameters={"kid": record.kid})
    header = {"alg": "Ed25519", "kid": record.kid, "typ": "ecard+jwt"}
    return jwt.encode(header, claims, key, algorithms=["Ed25519"])


SIGNATURES: dict[str, tuple[Callable[[Broker, PhoneApp, PhoneApp], dict[str, Any]], str]] = {
    "stale timestamp": (
        lambda s, p, o: {"timestamp": int(time.time()) - 400},
        "device_signature_invalid",
    ),
    "future timestamp": (
        lambda s, p, o: {"timestamp": int(time.time()) + 400},
        "device_signature_invalid",
    ),
    "short nonce": (lambda s, p, o: {"nonce": "n" * 15}, "device_signature_invalid"),
    "other phone's key": (lambda s, p, o: {"key": o.state.device_key}, "device_key_mismatch"),
    "other phone's card": (lambda s, p, o: {"ecard": o.state.ecard}, "device_key_mismatch"),
    "card signed by another key": (
        lambda s, p, o: {"ecard": _foreign_ecard(s, p)},
        "ecard_invalid",
    ),
    "no card": (lambda s, p, o: {"ecard": ""}, "ecard_invalid"),
}


@pytest.mark.parametrize("case", list(SIGNATURES))
async def test_bad_phone_credentials_are_refused(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory, case: str
) -> None:
    """Skewed or short-nonce signatures, another phone's key or card, or a forged card: 401."""
    _, phone, tid = await begin(authsvc, http, phones)
    other = await phones(authsvc.url, **LISI)
    forge, code = SIGNATURES[case]
    async with unchanged(authsvc, tid):
        reply = await mobile(
            http,
            phone,
            f"/api/mobile/tickets/{tid}/account",
            {"account": "personal:"},
            **forge(authsvc, phone, other),
        )
        refused(reply, 401, code)


async def test_unsigned_and_tampered_requests_are_refused(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """No signature headers, or a body other than the signed one, is device_signature_invalid."""
    _, phone, tid = await begin(authsvc, http, phones)
    path = f"/api/mobile/tickets/{tid}/account"
    body = json.dumps({"account": "personal:"}).encode()
    headers = signed(phone, path, body)
    async with unchanged(authsvc, tid):
        bare = {device.HEADER_ECARD: phone.state.ecard, "Content-Type": "application/json"}
        refused(await post(http, authsvc.url + path, body, bare), 401, "device_signature_invalid")
        tampered = json.dumps({"account": AGENT_KEY}).encode()
        refused(
            await post(http, authsvc.url + path, tampered, headers), 401, "device_signature_invalid"
        )
        moved = f"/api/mobile/tickets/{tid}/confirm"
        refused(
            await post(http, authsvc.url + moved, body, headers), 401, "device_signature_invalid"
        )


async def test_replayed_request_is_refused(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The exact same signed request sent twice: the second is request_replayed and does nothing."""
    _, phone, tid = await begin(authsvc, http, phones)
    path = f"/api/mobile/tickets/{tid}/account"
    body = json.dumps({"account": "personal:"}).encode()
    headers = signed(phone, path, body)
    assert (await post(http, authsvc.url + path, body, headers))[0] == 200
    async with unchanged(authsvc, tid):
        refused(await post(http, authsvc.url + path, body, headers), 401, "request_replayed")


async def test_non_ascii_key_id_is_refused(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A non-ASCII key id header is a 401 like any other wrong key id, not a server error."""
    _, phone, tid = await begin(authsvc, http, phones)
    path = f"/api/mobile/tickets/{tid}/account"
    body = json.dumps({"account": "personal:"}).encode()
    headers = {**signed(phone, path, body), device.HEADER_KEY_ID: "é" * 43}
    async with unchanged(authsvc, tid):
        reply = await post(http, authsvc.url + path, body, headers)
        assert reply[0] == 401 and reply[1]["error"] in (
            "device_key_mismatch",
            "device_signature_invalid",
        )


@pytest.mark.parametrize("header", [device.HEADER_KEY_ID, device.HEADER_NONCE])
async def test_non_utf8_header_bytes_are_refused(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory, header: str
) -> None:
    """Raw non-UTF-8 bytes in the key id or nonce header are a 401, not a server error."""
    _, phone, tid = await begin(authsvc, http, phones)
    path = f"/api/mobile/tickets/{tid}/account"
    body = json.dumps({"account": "personal:"}).encode()
    headers = {**signed(phone, path, body), header: b"\xff\xfe" * 16}
    async with unchanged(authsvc, tid):
        reply = await raw_post(authsvc.url, path, headers, body)
        assert reply[0] == 401 and reply[1]["error"] in (
            "device_key_mismatch",
            "device_signature_invalid",
        )


@pytest.mark.parametrize(
    ("action", "status"),
    [("report_lost", "lost"), ("suspend", "suspended"), ("cancel", "cancelled")],
)
async def test_card_that_is_not_active_is_refused(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory, action: str, status: str
) -> None:
    """A card reported lost, suspended or cancelled cannot scan: ecard_not_active at once."""
    browser, phone, tid = await begin(authsvc, http, phones, scan=False)
    url = f"{authsvc.url}/api/admin/ecards/{phone.state.card_no}/{action}"
    reply = await post(http, url, b"", {"Authorization": "Bearer test-admin-token"})
    assert reply[0] == 200 and reply[1]["status"] == status, reply
    async with unchanged(authsvc, tid):
        await phone_refused(phone.scan(browser.ticket["qr_text"]), 403, "ecard_not_active")


@pytest.mark.parametrize(
    ("action", "step"),
    [("report_lost", "face"), ("suspend", "confirm"), ("cancel", "confirm")],
)
async def test_a_card_made_inactive_after_the_scan_can_go_no_further(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory, action: str, step: str
) -> None:
    """After the scan the broker on Redis decides the next steps on the card record it
    recalls (no read): the step's commit finds the record changed and commits nothing, and
    the step is refused on the record as it is now — ecard_not_active, the ticket as it was."""
    _, phone, tid = await begin(authsvc, http, phones)
    await phone.choose("personal:", with_face_check=True)
    if step == "confirm":
        await phone.face_check()
    url = f"{authsvc.url}/api/admin/ecards/{phone.state.card_no}/{action}"
    assert (await post(http, url, b"", {"Authorization": "Bearer test-admin-token"}))[0] == 200
    async with unchanged(authsvc, tid) as before:
        call = phone.face_check() if step == "face" else phone.confirm()
        await phone_refused(call, 403, "ecard_not_active")
    assert before.state is tickets.State.SCANNED and not before.redirect
