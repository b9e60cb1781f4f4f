"""PhoneApp against a real authsvc (memory and Redis) and a real portal accounts endpoint."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from authsvc.core import qr
from authsvc.core.crypto import Algorithm, generate
from authsvc.keyring import Purpose
from mobile_sim import PhoneError
from tests.mobile_sim.conftest import MakePhone
from tests.mobile_sim.support import C1, C2, C3, LI, NO_AGENT, ZHANG, request_log
from tests.support.browser import BrowserLogin, wait_for_state
from tests.support.servers import Broker, running_authsvc


async def _login_page(
    broker: Broker, http: aiohttp.ClientSession, identity: str = "personal"
) -> BrowserLogin:
    browser = BrowserLogin(broker.url, http)
    await browser.start(identity)
    return browser


async def _scans_in_audit(broker: Broker) -> list[dict[str, Any]]:
    return [r for r in await broker.store.audit_records(500) if r.get("outcome") == "scanned"]


async def test_apply_binds_a_card_to_this_phone(hall: Broker, make_phone: MakePhone) -> None:
    """申领: the broker issues an active card; the home folder keeps it and the device key."""
    phone = await make_phone(hall.url)
    assert phone.state.card_no.startswith("E") and phone.state.ecard.count(".") == 2
    shown = await phone.show_ecard()
    assert shown["status"] == "active" and shown["id_number_masked"] == "1101**********002X"
    assert (phone.state.home / "device-key.pem").stat().st_mode & 0o777 == 0o600
    assert (phone.state.home / "state.json").stat().st_mode & 0o777 == 0o600


async def test_failed_face_check_refuses_the_application(
    hall: Broker, make_phone: MakePhone
) -> None:
    """No card is issued when the application's face check fails."""
    phone = await make_phone(hall.url, apply=False)
    with pytest.raises(PhoneError) as refused:
        await phone.apply_ecard(ZHANG["name"], ZHANG["id_number"], ZHANG["phone"], face="fail")
    assert refused.value.code == "face_check_failed" and not phone.state.ecard


async def test_scan_from_the_brokers_png_saved_to_a_file(
    hall: Broker, http: aiohttp.ClientSession, make_phone: MakePhone, tmp_path: Path
) -> None:
    """A screenshot of the QR (authsvc's own qr.png) scans like its text and logs in."""
    browser = await _login_page(hall, http)
    async with http.get(hall.url + browser.ticket["png_url"]) as response:
        (tmp_path / "qr.png").write_bytes(await response.read())
    ws = await browser.socket()
    phone = await make_phone(hall.url)
    result = await phone.scan_image(tmp_path / "qr.png")
    assert result.ticket_id == browser.ticket["ticket_id"]
    assert result.client["name"]["zh"] == "测试服务大厅" and result.browser["ip"] == "127.0.0.1"
    await phone.choose(result.account("personal")["key"])
    await phone.face_check()
    await phone.confirm()
    assert (await wait_for_state(ws, "confirmed"))["redirect"].startswith("http://127.0.0.1:9/cb?")
    await ws.close()


async def test_the_choice_goes_with_the_answer_to_the_scans_challenge(
    hall: Broker, http: aiohttp.ClientSession, make_phone: MakePhone
) -> None:
    """Scan, face (with the account), confirm: three requests, no account or face-challenge
    call. When the carried challenge is no longer the ticket's (here: replaced by a retry's),
    the phone asks for a new one once, sends the choice with that answer, and passes."""
    trace, seen = request_log()
    phone = await make_phone(hall.url, trace=trace)
    browser = await _login_page(hall, http)
    await phone.check_qr(browser.ticket["qr_text"])  # the broker's keys, fetched once
    seen.clear()
    result = await phone.scan(browser.ticket["qr_text"])
    assert result.raw["face_challenge"]["purpose"] == f"ticket:{result.ticket_id}"
    chosen = await phone.choose(result.account("personal")["key"], with_face_check=True)
    assert chosen["account"]["key"] == "personal:"
    assert (await phone.face_check())["passed"] is True
    assert (await phone.confirm())["state"] == "confirmed"
    assert [line.rsplit("/", 1)[-1] for line in seen] == ["scan", "face", "confirm"]
    stored = await hall.store.get_ticket(result.ticket_id)
    assert stored is not None and stored.account["key"] == "personal:" and stored.face_passed
    second = await _login_page(hall, http)
    result = await phone.scan(second.ticket["qr_text"])
    await phone.choose(result.account("personal")["key"], with_face_check=True)
    await phone._call("POST", phone._ticket_path("face-challenge"))  # replaces the carried one
    seen.clear()
    assert (await phone.face_check())["passed"] is True
    assert [line.rsplit("/", 1)[-1] for line in seen] == ["face", "face-challenge", "face"]
    stored = await hall.store.get_ticket(result.ticket_id)
    assert stored is not None and stored.account["key"] == "personal:" and stored.face_passed


async def test_a_choice_without_a_face_check_is_sent_before_the_confirmation(
    hall: Broker, http: aiohttp.ClientSession, make_phone: MakePhone
) -> None:
    """A choice kept for the face check's answer that is confirmed without one reaches the
    broker on its own first, so the confirmation is refused for the missing face check, as
    with the account chosen: the ticket then holds the choice and a fresh challenge."""
    trace, seen = request_log()
    phone = await make_phone(hall.url, trace=trace)
    browser = await _login_page(hall, http)
    result = await phone.scan(browser.ticket["qr_text"])
    await phone.choose(result.account("personal")["key"], with_face_check=True)
    seen.clear()
    with pytest.raises(PhoneError) as refused:
        await phone.confirm()
    assert refused.value.code == "face_check_required"
    assert [line.rsplit("/", 1)[-1] for line in seen] == ["account", "confirm"]
    stored = await hall.store.get_ticket(result.ticket_id)
    assert stored is not None and stored.account["key"] == "personal:"
    assert stored.face_challenge is not None and not stored.face_passed


async def test_scan_from_text_or_a_text_file(
    hall: Broker, http: aiohttp.ClientSession, make_phone: MakePhone, tmp_path: Path
) -> None:
    """SOURCE may be the QR text itself or a file holding it."""
    phone = await make_phone(hall.url)
    first = await _login_page(hall, http)
    assert (await phone.scan_source(first.ticket["qr_text"])).ticket_id == first.ticket["ticket_id"]
    second = await _login_page(hall, http)
    (tmp_path / "qr.txt").write_text(second.ticket["qr_text"] + "\n")
    assert (await phone.scan_source(tmp_path / "qr.txt")).ticket_id == second.ticket["ticket_id"]


@pytest.mark.parametrize(
    ("identity", "role", "company"),
    [
        ("personal", "personal", None),
        ("legal_rep", "legal_rep", C1),
        ("legal_rep", "legal_rep", C2),
        ("legal_rep", "admin", C3),
        ("agent", "agent", C1),
        ("agent", "agent", C3),
        ("agent", "staff", None),
    ],
)
async def test_every_account_choice_reaches_the_broker(
    hall: Broker,
    http: aiohttp.ClientSession,
    make_phone: MakePhone,
    identity: str,
    role: str,
    company: dict[str, str] | None,
) -> None:
    """Each account the portal offers can be chosen, and the confirmed ticket carries it."""
    browser = await _login_page(hall, http, identity)
    ws = await browser.socket()
    phone = await make_phone(hall.url)
    result = await phone.scan(browser.ticket["qr_text"])
    code = company["credit_code"] if company else ""
    chosen = await phone.choose(result.account(role, code)["key"])
    assert chosen["account"]["role"] == role and chosen["account"].get("credit_code", "") == code
    await phone.face_check()
    await phone.confirm()
    await wait_for_state(ws, "confirmed")
    stored = await hall.store.get_ticket(browser.ticket["ticket_id"])
    assert stored is not None and stored.account["key"] == f"{role}:{code}"
    await ws.close()


async def test_legal_rep_of_two_companies_is_offered_both(
    hall: Broker,
    http: aiohttp.ClientSession,
    make_phone: MakePhone,
    accounts_calls: list[dict[str, Any]],
) -> None:
    """The phone shows exactly what the portal answered for this person and identity."""
    browser = await _login_page(hall, http, "legal_rep")
    phone = await make_phone(hall.url)
    result = await phone.scan(browser.ticket["qr_text"])
    assert [a["key"] for a in result.matching("legal_rep")] == [
        f"legal_rep:{C1['credit_code']}",
        f"legal_rep:{C2['credit_code']}",
    ]
    assert result.identity == "legal_rep"
    assert accounts_calls[-1]["identity"] == "legal_rep" and accounts_calls[-1]["name"] == "张三"
    with pytest.raises(PhoneError) as missing:
        result.account("agent")
    assert missing.value.code == "account_not_offered"


async def test_the_portals_no_account_message_reaches_the_phone(
    hall: Broker, http: aiohttp.ClientSession, make_phone: MakePhone
) -> None:
    """A person without an agent account hears the portal's own words (the seed's message)."""
    browser = await _login_page(hall, http, "agent")
    ws = await browser.socket()
    phone = await make_phone(hall.url, person=LI)
    with pytest.raises(PhoneError) as refused:
        await phone.scan(browser.ticket["qr_text"])
    assert refused.value.code == "no_account" and refused.value.zh == NO_AGENT
    assert (await wait_for_state(ws, "rejected"))["reason"] == "no_account"
    await ws.close()


async def test_face_fail_then_pass_confirms(
    hall: Broker, http: aiohttp.ClientSession, make_phone: MakePhone
) -> None:
    """A failed face check can be retried; a pass then lets the login be confirmed."""
    browser = await _login_page(hall, http)
    ws = await browser.socket()
    phone = await make_phone(hall.url)
    result = await phone.scan(browser.ticket["qr_text"])
    await phone.choose(result.account("personal")["key"])
    with pytest.raises(PhoneError) as failed:
        await phone.face_check("fail")
    assert failed.value.code == "face_check_failed" and failed.value.status == 403
    assert (await phone.face_check())["failures_left"] == 2
    await phone.confirm()
    await wait_for_state(ws, "confirmed")
    await ws.close()


async def test_reject_is_pushed_to_the_browser(
    hall: Broker, http: aiohttp.ClientSession, make_phone: MakePhone
) -> None:
    """取消 after seeing who asks: the browser is told rejected; a later confirm is refused."""
    browser = await _login_page(hall, http)
    ws = await browser.socket()
    phone = await make_phone(hall.url)
    await phone.scan(browser.ticket["qr_text"])
    assert (await phone.reject())["state"] == "rejected"
    assert (await wait_for_state(ws, "rejected"))["reason"] == "user_rejected"
    with pytest.raises(PhoneError) as late:
        await phone.confirm()
    assert late.value.code == "ticket_state_conflict"
    await ws.close()


async def test_a_second_phone_is_refused(
    hall: Broker, http: aiohttp.ClientSession, make_phone: MakePhone
) -> None:
    """First scan wins; the second phone gets 二维码已被扫描 and the ticket stays the first's."""
    browser = await _login_page(hall, http)
    first = await make_phone(hall.url)
    second = await make_phone(hall.url, person=LI)
    await first.scan(browser.ticket["qr_text"])
    with pytest.raises(PhoneError) as refused:
        await second.scan(browser.ticket["qr_text"])
    assert refused.value.code == "ticket_already_scanned" and refused.value.zh == "二维码已被扫描"
    stored = await hall.store.get_ticket(browser.ticket["ticket_id"])
    assert stored is not None and stored.subject["name"] == "张三"


def _claims(broker: Broker, text: str) -> qr.QrClaims:
    now = time.time()
    return qr.verify_text(
        text,
        trusted_issuers={broker.url},
        now=now,
        resolve_key=lambda kid: broker.broker.keyring.verifying_key(Purpose.QR, kid, now=now),
    )


def _forgeries(broker: Broker, genuine: str) -> dict[str, str]:
    issuer, payload = qr.split(genuine)
    claims = _claims(broker, genuine)
    record, key = broker.broker.keyring.current(Purpose.QR)
    attacker = generate(Algorithm.ED25519)
    flipped = payload[:30] + ("A" if payload[30] != "A" else "B") + payload[31:]
    return {
        "signed by another key": qr.build(replace(claims, kid=record.kid), attacker),
        "altered": f"{issuer}/q/{flipped}",
        "expired": qr.build(replace(claims, kid=record.kid, expires_at=int(time.time()) - 5), key),
        "foreign issuer": qr.build(
            replace(claims, kid=record.kid, issuer="http://127.0.0.1:1"), key
        ),
        "not a login QR": "https://example.com/some/page",
    }


async def test_forged_qrs_are_refused_before_anything_is_sent(
    hall: Broker, http: aiohttp.ClientSession, make_phone: MakePhone
) -> None:
    """Forged, altered, expired or foreign: qr_invalid offline; no request, no scan audited."""
    trace, seen = request_log()
    phone = await make_phone(hall.url, trace=trace)
    await phone.pin_broker_keys()
    browser = await _login_page(hall, http)
    seen.clear()
    for name, text in _forgeries(hall, browser.ticket["qr_text"]).items():
        with pytest.raises(PhoneError) as refused:
            await phone.scan(text)
        assert refused.value.code == "qr_invalid", name
        assert refused.value.zh == "此二维码不是本平台的登录二维码", name
    assert seen == []
    assert await _scans_in_audit(hall) == []
    stored = await hall.store.get_ticket(browser.ticket["ticket_id"])
    assert stored is not None and stored.state == "pending"


async def test_a_qr_from_another_broker_is_refused_without_contacting_it(
    hall: Broker, http: aiohttp.ClientSession, make_phone: MakePhone, tmp_path: Path
) -> None:
    """Keys are pinned from the configured broker only; another broker's genuine QR is foreign."""
    trace, seen = request_log()
    phone = await make_phone(hall.url, trace=trace)
    (tmp_path / "other").mkdir()
    async with running_authsvc(tmp_path / "other") as other:
        browser = await _login_page(other, http)
        seen.clear()
        with pytest.raises(PhoneError) as refused:
            await phone.scan(browser.ticket["qr_text"])
        assert refused.value.code == "qr_invalid"
        assert seen == [f"GET {hall.url}/api/broker-keys"]  # pinning at first use, nothing else
        assert await _scans_in_audit(other) == [] and await _scans_in_audit(hall) == []


async def test_key_rotation_refetches_once_from_the_configured_url(
    hall: Broker, http: aiohttp.ClientSession, make_phone: MakePhone
) -> None:
    """A new broker kid makes the phone re-fetch /api/broker-keys once, then scan as usual."""
    trace, seen = request_log()
    phone = await make_phone(hall.url, trace=trace)
    await phone.pin_broker_keys()
    old_kids = set(phone.state.pinned_keys)
    new = hall.broker.keyring.rotate(Purpose.QR, now=time.time(), grace=3600)
    browser = await _login_page(hall, http)
    seen.clear()
    result = await phone.scan(browser.ticket["qr_text"])
    assert result.ticket_id == browser.ticket["ticket_id"]
    scan = f"POST {hall.url}/api/mobile/tickets/{result.ticket_id}/scan"
    assert seen == [f"GET {hall.url}/api/broker-keys", scan]
    assert new.kid in phone.state.pinned_keys and old_kids <= set(phone.state.pinned_keys)


async def test_an_unknown_kid_is_looked_up_only_once(
    hall: Broker, http: aiohttp.ClientSession, make_phone: MakePhone
) -> None:
    """A QR naming a key the broker never had costs one key fetch, then none: never a scan."""
    trace, seen = request_log()
    phone = await make_phone(hall.url, trace=trace)
    await phone.pin_broker_keys()
    browser = await _login_page(hall, http)
    forged = qr.build(
        replace(_claims(hall, browser.ticket["qr_text"]), kid="00" * 8), generate(Algorithm.ED25519)
    )
    seen.clear()
    for _ in range(3):
        with pytest.raises(PhoneError) as refused:
            await phone.scan(forged)
        assert refused.value.code == "qr_invalid"
    assert seen == [f"GET {hall.url}/api/broker-keys"]
    assert await _scans_in_audit(hall) == []


async def test_place_warning_when_the_browser_is_elsewhere(
    hall: Broker, http: aiohttp.ClientSession, make_phone: MakePhone
) -> None:
    """A phone in 哈尔滨 warns about a browser at 本机; a phone at 本机 does not."""
    browser = await _login_page(hall, http)
    far = await make_phone(hall.url, place="哈尔滨")
    assert (await far.scan(browser.ticket["qr_text"])).place_warning is True
    other = await _login_page(hall, http)
    near = await make_phone(hall.url, place="本机", person=LI)
    result = await near.scan(other.ticket["qr_text"])
    assert result.place_warning is False and result.browser["place"] == "本机"


async def test_scanning_needs_a_card_first(
    hall: Broker, http: aiohttp.ClientSession, make_phone: MakePhone
) -> None:
    """Without an e-card the phone refuses to scan and sends nothing."""
    trace, seen = request_log()
    phone = await make_phone(hall.url, apply=False, trace=trace)
    browser = await _login_page(hall, http)
    with pytest.raises(PhoneError) as refused:
        await phone.scan(browser.ticket["qr_text"])
    assert refused.value.code == "no_ecard" and seen == []


async def test_an_unreachable_broker_is_its_own_error(tmp_path: Path) -> None:
    """No broker at the configured URL: a PhoneError coded broker_unreachable, not a crash."""
    from mobile_sim.errors import Unreachable
    from mobile_sim.phone import PhoneApp

    async with PhoneApp.open(tmp_path / "phone", "http://127.0.0.1:1") as phone:
        with pytest.raises(Unreachable) as refused:
            await phone.apply_ecard(ZHANG["name"], ZHANG["id_number"], ZHANG["phone"])
    assert refused.value.code == "broker_unreachable"


async def test_a_new_broker_url_is_pinned_afresh(
    hall: Broker, make_phone: MakePhone, tmp_path: Path
) -> None:
    """Pins belong to the configured URL: reopening the home with another URL drops them."""
    from mobile_sim.phone import PhoneApp

    phone = await make_phone(hall.url)
    await phone.pin_broker_keys()
    assert phone.state.issuer == hall.url and phone.state.pinned_keys
    again = PhoneApp.open(phone.state.home, "http://127.0.0.1:1")
    assert again.state.issuer == "" and again.state.pinned_keys == {}
    assert again.state.ecard == phone.state.ecard
