"""Issue 8, tried as an attacker would: e-cards only for the registry's card holders, a face
check only the real person passes, one active card per person, no re-activation by applying.

Every refusal asserts the status, the stable code, and that nothing changed (no card created,
none cancelled, no ticket advanced)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from authsvc.config import Limits
from authsvc.core.crypto import public_jwk
from authsvc.core.face import ACTIONS, day_of
from authsvc.registry import CardState, FileRegistry, person_key
from mobile_sim import PhoneApp
from tests.conftest import CITIZEN, PhoneFactory
from tests.security.helpers import (
    begin,
    mobile,
    phone_refused,
    refused,
    unchanged,
)
from tests.support import people
from tests.support.browser import BrowserLogin, wait_for_state
from tests.support.servers import Broker, running_authsvc

ADMIN = {"Authorization": "Bearer test-admin-token"}
WANG = {"name": "王建国", "id_number": "230102197503121019", "phone": "13804510001"}


async def current(server: Broker, who: dict[str, str]) -> dict[str, Any] | None:
    return await server.store.current_card(person_key(who["id_number"]))


def application(phone: PhoneApp, who: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "name": who["name"],
        "id_number": who["id_number"],
        "phone": who["phone"],
        "device_jwk": public_jwk(phone.state.device_key.public_key()),
        **extra,
    }


async def scanned_again(server: Broker, http: aiohttp.ClientSession, phone: PhoneApp) -> str:
    """A new QR page's ticket, scanned by `phone`: its id."""
    browser = BrowserLogin(server.url, http)
    await browser.start()
    await phone.scan(browser.ticket["qr_text"])
    return str(browser.ticket["ticket_id"])


# --- the card registry ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        (people.REGISTRY_LOST, 403, "physical_card_abnormal"),  # 周磊: physical card 挂失
        (people.SEALED, 403, "physical_card_abnormal"),  # 钱芳: 封存
        (people.UNKNOWN, 403, "card_holder_unknown"),  # 冯雪: no physical card
        ({**WANG, "name": "王建军"}, 403, "card_holder_name_mismatch"),
    ],
)
async def test_application_outside_the_registry_is_refused(
    authsvc: Broker, phones: PhoneFactory, who: dict[str, str], status: int, code: str
) -> None:
    """Seed 004: 无实体社保卡、实体卡状态异常 → no e-card; nothing is created."""
    phone = await phones(authsvc.url, apply=False)
    error = await phone_refused(
        phone.apply_ecard(who["name"], who["id_number"], who["phone"]), status, code
    )
    if code == "physical_card_abnormal":
        assert "实体卡状态异常" in error.zh
    assert await current(authsvc, who) is None and not phone.state.ecard


async def test_registry_loss_refuses_the_next_scan(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """挂失 at the registry: the e-card's next scan is refused, nobody called the admin API;
    the ticket does not move. Back to 正常 at the registry, it works again."""
    phone = await phones(authsvc.url)
    registry = FileRegistry(authsvc.settings.registry_file)
    await registry.set_card_state(CITIZEN["id_number"], CardState.LOST)
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    async with unchanged(authsvc, browser.ticket["ticket_id"]):
        error = await phone_refused(
            phone.scan(browser.ticket["qr_text"]), 403, "physical_card_abnormal"
        )
    assert "挂失" in error.zh
    await registry.set_card_state(CITIZEN["id_number"], CardState.NORMAL)
    assert (await phone.scan(browser.ticket["qr_text"])).ticket_id == browser.ticket["ticket_id"]


# --- impersonation and the face check ---------------------------------------------------


async def test_impersonating_application_cannot_pass_the_face_check(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory, tmp_path: Path
) -> None:
    """The attacker knows 王建国's name and ID number (printed on the agent pages) and has a
    device key, but not his face: refused, and his card stays his, active and current."""
    victim = await phones(authsvc.url, **WANG)
    before = await current(authsvc, WANG)
    attacker = PhoneApp.open(tmp_path / "attacker", authsvc.url, faces_dir=tmp_path / "none")
    try:
        await phone_refused(
            attacker.apply_ecard(WANG["name"], WANG["id_number"], WANG["phone"]), 0, "no_face"
        )
        await phone_refused(
            attacker.apply_ecard(WANG["name"], WANG["id_number"], WANG["phone"], face="fail"),
            403,
            "face_check_failed",
        )
    finally:
        await attacker.close()
    assert await current(authsvc, WANG) == before and not attacker.state.ecard
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    await victim.login(browser.ticket["qr_text"])


@pytest.mark.parametrize(
    "claim",
    [{"mode": "pass"}, {"mode": "score", "score": 1.0}, {"passed": True, "challenge_id": "x"}],
)
async def test_phone_claimed_face_result_is_refused_at_application(
    authsvc: Broker,
    http: aiohttp.ClientSession,
    phones: PhoneFactory,
    claim: dict[str, Any],
) -> None:
    """The old `"face": {"mode": "pass"}` (or a score) is refused; no card, none cancelled."""
    victim = await phones(authsvc.url, **WANG)
    before = await current(authsvc, WANG)
    attacker = await phones(authsvc.url, apply=False)
    body = application(attacker, WANG, face=claim)
    refused(
        await mobile(http, attacker, "/api/mobile/ecards", body, ecard=""), 400, "face_mode_refused"
    )
    assert await current(authsvc, WANG) == before
    assert (await victim.show_ecard())["status"] == "active"


@pytest.mark.parametrize("claim", [{"mode": "pass"}, {"mode": "score", "score": 1.0}])
async def test_phone_claimed_face_result_is_refused_at_login(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory, claim: dict[str, Any]
) -> None:
    """At a ticket too: 400 face_mode_refused, the ticket unchanged, confirming still needs
    the server's face check."""
    _, phone, ticket_id = await begin(authsvc, http, phones)
    await phone.choose((phone.ticket.account("personal"))["key"])  # type: ignore[union-attr]
    path = f"/api/mobile/tickets/{ticket_id}/face"
    async with unchanged(authsvc, ticket_id):
        refused(await mobile(http, phone, path, claim), 400, "face_mode_refused")
    await phone_refused(phone.confirm(), 403, "face_check_required")


async def test_a_stolen_phone_alone_cannot_pass(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory, tmp_path: Path
) -> None:
    """A copy of the victim's phone folder (device key and e-card) without the victim's face:
    it can scan, but never pass the face check, so it never confirms."""
    victim = await phones(authsvc.url, **WANG)
    shutil.copytree(victim.state.home, tmp_path / "stolen")
    thief = PhoneApp.open(tmp_path / "stolen", authsvc.url, faces_dir=tmp_path / "no-faces")
    try:
        browser = BrowserLogin(authsvc.url, http)
        await browser.start()
        result = await thief.scan(browser.ticket["qr_text"])
        await thief.choose(result.account("personal")["key"])
        await phone_refused(thief.face_check(), 0, "no_face")
        await phone_refused(thief.face_check("fail"), 403, "face_check_failed")
        await phone_refused(thief.confirm(), 403, "face_check_required")
    finally:
        await thief.close()


async def test_a_challenge_is_used_once_and_only_for_its_ticket(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A capture replayed, or a challenge of another ticket, is face_challenge_invalid."""
    _, phone, ticket_id = await begin(authsvc, http, phones)
    await phone.choose((phone.ticket.account("personal"))["key"])  # type: ignore[union-attr]
    base = f"/api/mobile/tickets/{ticket_id}"
    status, challenge = await mobile(http, phone, base + "/face-challenge", {})
    assert status == 201 and challenge["action"] in ("blink", "open_mouth", "shake_head", "nod")
    answer = phone._capture(challenge, phone.holder(), "capture")
    status, body = await mobile(http, phone, base + "/face", answer)
    assert status == 200 and body["passed"] is True and body["score"] >= 0.8
    async with unchanged(authsvc, ticket_id):
        refused(await mobile(http, phone, base + "/face", answer), 400, "face_challenge_invalid")
    other = BrowserLogin(authsvc.url, http)
    await other.start()
    second = await phone.scan(other.ticket["qr_text"])
    await phone.choose(second.account("personal")["key"])
    status, foreign = await mobile(
        http, phone, f"/api/mobile/tickets/{second.ticket_id}/face-challenge", {}
    )
    assert status == 201
    misused = phone._capture(foreign, phone.holder(), "capture")
    async with unchanged(authsvc, ticket_id), unchanged(authsvc, second.ticket_id):
        refused(await mobile(http, phone, base + "/face", misused), 400, "face_challenge_invalid")


async def test_the_challenge_that_comes_with_the_account_is_this_tickets_once(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The account choice brings the ticket's liveness challenge, kept in the ticket: it
    answers once (a replayed capture is face_challenge_invalid) and only for its ticket. Tried
    on another ticket of the same phone and person it is refused there, and still answers its
    own. No refusal changes either ticket."""
    _, phone, first = await begin(authsvc, http, phones)
    key = phone.ticket.account("personal")["key"]  # type: ignore[union-attr]
    path = f"/api/mobile/tickets/{first}/account"
    status, chosen = await mobile(http, phone, path, {"account": key})
    assert status == 200 and chosen["account"]["role"] == "personal"
    challenge = chosen["face_challenge"]
    assert challenge["purpose"] == f"ticket:{first}" and challenge["action"] in ACTIONS
    second = await scanned_again(authsvc, http, phone)
    await phone.choose(phone.ticket.account("personal")["key"])  # type: ignore[union-attr]
    answer = phone._capture(challenge, phone.holder(), "capture")
    async with unchanged(authsvc, first), unchanged(authsvc, second):
        misused = await mobile(http, phone, f"/api/mobile/tickets/{second}/face", answer)
        refused(misused, 400, "face_challenge_invalid")
    status, body = await mobile(http, phone, f"/api/mobile/tickets/{first}/face", answer)
    assert status == 200 and body["passed"] is True
    async with unchanged(authsvc, first) as passed:
        again = await mobile(http, phone, f"/api/mobile/tickets/{first}/face", answer)
        refused(again, 400, "face_challenge_invalid")
    assert passed.face_passed and passed.face_challenge is None
    assert (await phone.face_check())["passed"] is True  # the second ticket's own, untouched


async def test_the_scans_challenge_is_answered_once_with_the_choice(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The scan brings the ticket's liveness challenge; one signed answer carries the account
    choice too. An account not offered, a malformed one, or another ticket's challenge is
    refused with nothing changed (the challenge still answers); the real answer chooses,
    passes and uses the challenge up in one version; sent again it is face_challenge_invalid."""
    _, phone, ticket_id = await begin(authsvc, http, phones)
    challenge = phone.ticket.raw["face_challenge"]  # type: ignore[union-attr]
    assert challenge["purpose"] == f"ticket:{ticket_id}" and challenge["action"] in ACTIONS
    path = f"/api/mobile/tickets/{ticket_id}/face"
    answer = phone._capture(challenge, phone.holder(), "capture")
    other = await scanned_again(authsvc, http, phone)
    foreign = phone._capture(phone.ticket.raw["face_challenge"], phone.holder(), "capture")  # type: ignore[union-attr]
    async with unchanged(authsvc, ticket_id) as before, unchanged(authsvc, other):
        not_offered = {**answer, "account": "legal_rep:91230100MA1BX2K306"}
        refused(await mobile(http, phone, path, not_offered), 400, "account_not_offered")
        refused(await mobile(http, phone, path, {**answer, "account": 7}), 400, "invalid_request")
        misused = {**foreign, "account": "personal:"}
        refused(await mobile(http, phone, path, misused), 400, "face_challenge_invalid")
    assert before.face_challenge is not None and not before.account
    status, body = await mobile(http, phone, path, {**answer, "account": "personal:"})
    assert status == 200 and body["passed"] is True
    async with unchanged(authsvc, ticket_id) as after:
        again = await mobile(http, phone, path, {**answer, "account": "personal:"})
        refused(again, 400, "face_challenge_invalid")
    assert after.account["key"] == "personal:" and after.face_passed
    assert after.face_challenge is None and after.version == before.version + 1
    status, body = await mobile(http, phone, f"/api/mobile/tickets/{ticket_id}/confirm", {})
    assert status == 200 and body["state"] == "confirmed"


async def test_a_failed_answer_with_the_choice_keeps_the_choice(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A failing capture sent with the choice is face_check_failed; the choice and the failure
    are recorded together, as when sent apart, and the retry (a new challenge) passes."""
    _, phone, ticket_id = await begin(authsvc, http, phones)
    key = phone.ticket.account("personal")["key"]  # type: ignore[union-attr]
    await phone.choose(key, with_face_check=True)
    await phone_refused(phone.face_check("fail"), 403, "face_check_failed")
    failed = await authsvc.store.get_ticket(ticket_id)
    assert failed is not None and failed.account["key"] == "personal:"
    assert (failed.face_failures, failed.face_passed, failed.face_challenge) == (1, False, None)
    assert (await phone.face_check())["passed"] is True
    assert (await phone.confirm())["state"] == "confirmed"


async def test_a_locked_persons_scan_brings_no_challenge(
    strict: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Locked out of face checks today, the person's scan still shows the accounts, with no
    challenge; the account choice is then refused as before (face_locked_today)."""
    _, phone, _ = await begin(strict, http, phones)
    await phone.choose(phone.ticket.account("personal")["key"])  # type: ignore[union-attr]
    await phone_refused(phone.face_check("fail"), 403, "face_check_failed")
    await phone_refused(phone.face_check("fail"), 403, "face_check_failed")
    ticket_id = await scanned_again(strict, http, phone)
    assert "face_challenge" not in phone.ticket.raw  # type: ignore[union-attr]
    stored = await strict.store.get_ticket(ticket_id)
    assert stored is not None and stored.face_challenge is None and stored.accounts


async def test_concurrent_answers_to_one_challenge_count_once(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The same failing capture sent five times at once: one answer is recorded (one failure,
    one version), the others are face_challenge_invalid; the person's day counts one failure."""
    _, phone, ticket_id = await begin(authsvc, http, phones)
    chosen = await phone.choose(phone.ticket.account("personal")["key"])  # type: ignore[union-attr]
    before = await authsvc.store.get_ticket(ticket_id)
    assert before is not None
    answer = phone._capture(chosen["face_challenge"], phone.holder(), "fail")
    path = f"/api/mobile/tickets/{ticket_id}/face"
    replies = await asyncio.gather(*(mobile(http, phone, path, answer) for _ in range(5)))
    codes = sorted(body["error"] for _, body in replies)
    assert codes == ["face_challenge_invalid"] * 4 + ["face_check_failed"]
    after = await authsvc.store.get_ticket(ticket_id)
    assert after is not None and after.face_challenge is None
    assert (after.face_failures, after.version) == (1, before.version + 1)
    failures = f"face-fail:{person_key(phone.holder())}:{day_of(time.time())}"
    assert await authsvc.store.hit(failures, window=60) == 2  # this one is the second


async def test_choosing_again_after_the_face_check_brings_no_challenge(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Once the face check has passed, another choice of account issues no challenge."""
    _, phone, _ = await begin(authsvc, http, phones)
    key = phone.ticket.account("personal")["key"]  # type: ignore[union-attr]
    assert "face_challenge" in await phone.choose(key)
    await phone.face_check()
    assert "face_challenge" not in await phone.choose(key)
    chosen = await authsvc.store.get_ticket(phone.ticket.ticket_id)  # type: ignore[union-attr]
    assert chosen is not None and chosen.face_challenge is None
    assert (await phone.confirm())["state"] == "confirmed"


async def test_a_replayed_answer_leaves_its_challenge_unused(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A face answer sent with a nonce already spent is request_replayed before its challenge
    is taken: the ticket is unchanged and the challenge still answers once."""
    _, phone, ticket_id = await begin(authsvc, http, phones)
    await phone.choose((phone.ticket.account("personal"))["key"])  # type: ignore[union-attr]
    base, spent = f"/api/mobile/tickets/{ticket_id}", secrets.token_urlsafe(16)
    status, challenge = await mobile(http, phone, base + "/face-challenge", {}, nonce=spent)
    assert status == 201
    answer = phone._capture(challenge, phone.holder(), "capture")
    async with unchanged(authsvc, ticket_id):
        replayed = await mobile(http, phone, base + "/face", answer, nonce=spent)
        refused(replayed, 401, "request_replayed")
    status, body = await mobile(http, phone, base + "/face", answer)
    assert status == 200 and body["passed"] is True


@pytest.fixture
async def strict(tmp_path: Path, store_kind: str, redis_prefix: str) -> AsyncIterator[Broker]:
    """authsvc with two failures per person per day and two applications per person per day."""
    limits = dataclasses.replace(
        Limits(), face_max_failures_per_day=2, ecard_applications_per_person_per_day=2
    )
    async with running_authsvc(
        tmp_path, store_kind=store_kind, prefix=redis_prefix, limits=limits
    ) as broker:
        yield broker


async def test_failures_per_person_per_day_lock_the_person(
    strict: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Past the day's failures, even the real face is refused (face_locked_today, 429), the
    ticket does not advance."""
    _, phone, ticket_id = await begin(strict, http, phones)
    await phone.choose((phone.ticket.account("personal"))["key"])  # type: ignore[union-attr]
    await phone_refused(phone.face_check("fail"), 403, "face_check_failed")
    await phone_refused(phone.face_check("fail"), 403, "face_check_failed")
    async with unchanged(strict, ticket_id):
        await phone_refused(phone.face_check(), 429, "face_locked_today")


async def test_a_locked_persons_answer_changes_nothing(
    strict: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A challenge issued before the person was locked (on another login of theirs): its
    answer, even the real face, is face_locked_today (429); the ticket does not advance and
    keeps the challenge."""
    _, phone, ticket_id = await begin(strict, http, phones)
    chosen = await phone.choose(phone.ticket.account("personal")["key"])  # type: ignore[union-attr]
    challenge = chosen["face_challenge"]
    await scanned_again(strict, http, phone)
    await phone.choose(phone.ticket.account("personal")["key"])  # type: ignore[union-attr]
    await phone_refused(phone.face_check("fail"), 403, "face_check_failed")
    await phone_refused(phone.face_check("fail"), 403, "face_check_failed")
    answer = phone._capture(challenge, phone.holder(), "capture")
    path = f"/api/mobile/tickets/{ticket_id}/face"
    async with unchanged(strict, ticket_id) as before:
        refused(await mobile(http, phone, path, answer), 429, "face_locked_today")
    assert before.face_challenge is not None
    assert before.face_challenge.id == challenge["challenge_id"]


async def test_a_locked_person_cannot_choose_an_account(
    strict: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Locked out of face checks today, the person's next login is refused at the account
    choice (face_locked_today, 429) before anything changes: no account chosen, no challenge."""
    _, phone, _ = await begin(strict, http, phones)
    await phone.choose(phone.ticket.account("personal")["key"])  # type: ignore[union-attr]
    await phone_refused(phone.face_check("fail"), 403, "face_check_failed")
    await phone_refused(phone.face_check("fail"), 403, "face_check_failed")
    ticket_id = await scanned_again(strict, http, phone)
    async with unchanged(strict, ticket_id) as before:
        key = phone.ticket.account("personal")["key"]  # type: ignore[union-attr]
        await phone_refused(phone.choose(key), 429, "face_locked_today")
    assert not before.account and before.face_challenge is None


async def test_applications_per_person_are_limited(
    strict: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The third application of the day for one person: 429 with Retry-After, no card."""
    await phones(strict.url)
    second = await phones(strict.url)
    before = await current(strict, CITIZEN)
    assert before is not None and before["card_no"] == second.state.card_no
    third = await phones(strict.url, apply=False)
    body = application(third, CITIZEN, face={"challenge_id": "x", "capture": ""})
    path = "/api/mobile/ecards"
    raw = json.dumps(body).encode()
    from tests.security.helpers import signed

    headers = signed(third, path, raw, ecard="")
    async with http.post(strict.url + path, data=raw, headers=headers) as response:
        assert response.status == 429 and int(response.headers["Retry-After"]) > 0
        assert (await response.json())["error"] == "rate_limited"
    assert await current(strict, CITIZEN) == before


# --- issuance and re-binding ------------------------------------------------------------


async def test_switching_phones_rebinds_and_the_old_phone_is_told(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """换机: the new phone's card is the one active card; the old phone's next call gets a
    clear message; the new phone logs in."""
    old = await phones(authsvc.url)
    new = await phones(authsvc.url)
    assert (await current(authsvc, CITIZEN))["card_no"] == new.state.card_no  # type: ignore[index]
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    async with unchanged(authsvc, browser.ticket["ticket_id"]):
        error = await phone_refused(old.scan(browser.ticket["qr_text"]), 403, "ecard_not_active")
    assert "其他手机" in error.zh
    ws = await browser.socket()
    await new.login(browser.ticket["qr_text"])
    await wait_for_state(ws, "confirmed")
    await ws.close()


async def test_a_lost_card_is_not_reactivated_by_applying_again(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """周磊's story: a card reported lost stays lost; applying again is ecard_blocked (解挂 is
    the card's own operation), nothing is created."""
    phone = await phones(authsvc.url)
    async with http.post(
        f"{authsvc.url}/api/admin/ecards/{phone.state.card_no}/report_lost", headers=ADMIN
    ) as response:
        assert response.status == 200
    before = await current(authsvc, CITIZEN)
    again = await phones(authsvc.url, apply=False)
    await phone_refused(
        again.apply_ecard(CITIZEN["name"], CITIZEN["id_number"], CITIZEN["phone"]),
        409,
        "ecard_blocked",
    )
    assert await current(authsvc, CITIZEN) == before and before["status"] == "lost"  # type: ignore[index]


async def test_unlock_needs_the_holders_face(authsvc: Broker, phones: PhoneFactory) -> None:
    """卡解挂 on the phone: a failed face check leaves it lost; the holder's face unlocks it."""
    phone = await phones(authsvc.url)
    await authsvc.broker.store.set_card_status(
        phone.state.card_no, "lost", allowed=["active"], reason="report_lost", now=0.0
    )
    await phone_refused(phone.unlock_ecard(face="fail"), 403, "face_check_failed")
    assert (await phone.show_ecard())["status"] == "lost"
    assert (await phone.unlock_ecard())["status"] == "active"
    await phone_refused(phone.unlock_ecard(), 409, "ticket_state_conflict")


async def test_twenty_concurrent_applications_leave_one_active_card(
    tmp_path: Path, store_kind: str, redis_prefix: str
) -> None:
    """Twenty phones apply for the same person at once: exactly one active card remains."""
    limits = dataclasses.replace(
        Limits(),
        ecard_applications_per_person_per_day=100,
        ecard_applications_per_ip_per_minute=100,
    )
    async with (
        running_authsvc(tmp_path, store_kind=store_kind, prefix=redis_prefix, limits=limits) as b,
        aiohttp.ClientSession() as http,
    ):
        made = [
            PhoneApp.open(tmp_path / f"p{i}", b.url, session=http, faces_dir=people.faces_dir())
            for i in range(20)
        ]
        outcomes = await asyncio.gather(
            *(p.apply_ecard(CITIZEN["name"], CITIZEN["id_number"], CITIZEN["phone"]) for p in made),
            return_exceptions=True,
        )
        issued = [p.state.card_no for p in made if p.state.card_no]
        failures = {getattr(o, "code", repr(o)) for o in outcomes if isinstance(o, Exception)}
        assert issued and failures <= {"ecard_application_conflict"}
        statuses = [(await b.store.get_card(no))["status"] for no in issued]  # type: ignore[index]
        assert statuses.count("active") == 1
        assert (await current(b, CITIZEN))["status"] == "active"  # type: ignore[index]
