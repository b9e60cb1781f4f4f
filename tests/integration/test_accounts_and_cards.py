"""Step 6 (the portal's accounts, chosen on the phone, carried into the ID token) and the
e-card's life: issuance, loss, re-enabling, re-binding."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from mobile_sim import PhoneError
from tests.conftest import PhoneFactory
from tests.support.accounts import COMPANY_A, COMPANY_B, AccountsServer, running_accounts
from tests.support.browser import BrowserLogin, wait_for_state
from tests.support.servers import Broker, running_authsvc

TABLE = {
    "personal": [{"role": "personal"}],
    "legal_rep": [{"role": "legal_rep", **COMPANY_A}, {"role": "legal_rep", **COMPANY_B}],
    "agent": [
        {
            "role": "agent",
            **COMPANY_B,
            "relationships": [
                {
                    "unit_no": "23010012345",
                    "insurance_type": "企业职工养老保险",
                    "agency": "哈尔滨市社会保险事业局",
                }
            ],
        }
    ],
}
ADMIN = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
async def hall(
    tmp_path: Path, store_kind: str, redis_prefix: str
) -> AsyncIterator[tuple[Broker, AccountsServer]]:
    async with (
        running_accounts(TABLE) as accounts,
        running_authsvc(
            tmp_path, store_kind=store_kind, prefix=redis_prefix, accounts_endpoint=accounts.url
        ) as broker,
    ):
        accounts.issuer = broker.url
        yield broker, accounts


async def test_legal_rep_of_two_companies_chooses_the_second(
    hall: tuple[Broker, AccountsServer], http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The phone is offered both companies; the one chosen is the company in the ID token."""
    broker, accounts = hall
    browser = BrowserLogin(broker.url, http)
    await browser.start("legal_rep")
    ws = await browser.socket()
    phone = await phones(broker.url)
    result = await phone.scan(browser.ticket["qr_text"])
    assert [a["credit_code"] for a in result.accounts] == [
        COMPANY_A["credit_code"],
        COMPANY_B["credit_code"],
    ]
    assert (
        accounts.requests[-1]["identity"] == "legal_rep"
        and accounts.requests[-1]["id_number"] == "11010519491231002X"
    )
    await phone.choose(result.account("legal_rep", COMPANY_B["credit_code"])["key"])
    await phone.face_check()
    await phone.confirm()
    code = parse_qs(urlsplit((await wait_for_state(ws, "confirmed"))["redirect"]).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": browser.redirect_uri,
        "code_verifier": browser.verifier,
    }
    async with http.post(
        broker.url + "/token",
        data=form,
        headers={"Authorization": aiohttp.encode_basic_auth("hall", "hall-secret")},
    ) as response:
        tokens = await response.json()
    async with http.get(
        broker.url + "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ) as response:
        info = await response.json()
    assert info["role"] == "legal_rep" and info["company"] == {
        "credit_code": COMPANY_B["credit_code"],
        "name": COMPANY_B["company_name"],
    }


async def test_agent_account_carries_its_relationships(
    hall: tuple[Broker, AccountsServer], http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """An agent's granted insurance relationships are offered and kept on the ticket."""
    broker, _ = hall
    browser = BrowserLogin(broker.url, http)
    await browser.start("agent")
    phone = await phones(broker.url)
    result = await phone.scan(browser.ticket["qr_text"])
    chosen = await phone.choose(result.account("agent")["key"])
    assert chosen["account"]["relationships"][0]["unit_no"] == "23010012345"


async def test_a_choice_not_offered_is_refused(
    hall: tuple[Broker, AccountsServer], http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Choosing a company the portal did not offer changes nothing."""
    broker, _ = hall
    browser = BrowserLogin(broker.url, http)
    await browser.start("legal_rep")
    phone = await phones(broker.url)
    await phone.scan(browser.ticket["qr_text"])
    before = await broker.store.get_ticket(browser.ticket["ticket_id"])
    with pytest.raises(PhoneError) as refused:
        await phone.choose("legal_rep:91000000000000000X")
    assert refused.value.code == "account_not_offered"
    assert await broker.store.get_ticket(browser.ticket["ticket_id"]) == before


async def test_no_account_shows_the_portals_message_and_rejects(
    tmp_path: Path, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """未找到当前法人账号信息 reaches the phone; the browser is told the login ended."""
    async with (
        running_accounts({"personal": [{"role": "personal"}]}) as accounts,
        running_authsvc(tmp_path, accounts_endpoint=accounts.url) as broker,
    ):
        accounts.issuer = broker.url
        browser = BrowserLogin(broker.url, http)
        await browser.start("legal_rep")
        ws = await browser.socket()
        phone = await phones(broker.url)
        with pytest.raises(PhoneError) as refused:
            await phone.scan(browser.ticket["qr_text"])
        assert (
            refused.value.code == "no_account"
            and refused.value.zh == "未找到当前法人账号信息，请先注册法人账号！"
        )
        assert (await wait_for_state(ws, "rejected"))["reason"] == "no_account"


async def test_portal_down_leaves_the_ticket_scannable(
    tmp_path: Path, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """A portal that fails gives the phone accounts_unavailable and the QR can be scanned again."""
    async with (
        running_accounts(TABLE) as accounts,
        running_authsvc(tmp_path, accounts_endpoint=accounts.url) as broker,
    ):
        accounts.issuer = broker.url
        accounts.status = 500
        browser = BrowserLogin(broker.url, http)
        await browser.start("legal_rep")
        phone = await phones(broker.url)
        with pytest.raises(PhoneError) as refused:
            await phone.scan(browser.ticket["qr_text"])
        assert refused.value.code == "accounts_unavailable"
        ticket = await broker.store.get_ticket(browser.ticket["ticket_id"])
        assert ticket is not None and ticket.state == "pending"
        accounts.status = 200
        assert len((await phone.scan(browser.ticket["qr_text"])).accounts) == 2


async def test_lost_card_cannot_log_in_until_re_enabled(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """挂失: a scan with a card reported lost is refused; 解挂 lets it log in again."""
    phone = await phones(authsvc.url)
    card_no = phone.state.card_no
    async with http.post(
        f"{authsvc.url}/api/admin/ecards/{card_no}/report_lost", headers=ADMIN
    ) as response:
        assert (await response.json())["status"] == "lost"
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    with pytest.raises(PhoneError) as refused:
        await phone.scan(browser.ticket["qr_text"])
    assert refused.value.code == "ecard_not_active" and "挂失" in refused.value.zh
    ticket = await authsvc.store.get_ticket(browser.ticket["ticket_id"])
    assert ticket is not None and ticket.state == "pending"
    async with http.post(
        f"{authsvc.url}/api/admin/ecards/{card_no}/enable", headers=ADMIN
    ) as response:
        assert (await response.json())["status"] == "active"
    assert (await phone.scan(browser.ticket["qr_text"])).identity == "personal"


async def test_admin_api_needs_the_admin_token(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """Without the admin token nothing about a card changes."""
    phone = await phones(authsvc.url)
    async with http.post(
        f"{authsvc.url}/api/admin/ecards/{phone.state.card_no}/cancel",
        headers={"Authorization": "Bearer nope"},
    ) as response:
        assert (response.status, (await response.json())["error"]) == (401, "admin_token_invalid")
    assert (await phone.show_ecard())["status"] == "active"


async def test_reapplying_on_a_new_phone_cancels_the_old_card(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """One card per person: applying again re-binds, and the old phone's card stops working."""
    old = await phones(authsvc.url)
    await phones(authsvc.url)  # same citizen, new device
    browser = BrowserLogin(authsvc.url, http)
    await browser.start()
    with pytest.raises(PhoneError) as refused:
        await old.scan(browser.ticket["qr_text"])
    assert refused.value.code == "ecard_not_active"


@pytest.mark.parametrize(
    ("person", "code"),
    [
        ({"id_number": "110105194912310021"}, "id_number_invalid"),
        ({"id_number": "11010520991231002X"}, "id_number_invalid"),
        ({"phone": "12345"}, "invalid_request"),
        ({"name": "x"}, "invalid_request"),
    ],
    ids=["check-digit", "future-birth", "phone", "name"],
)
async def test_card_application_validates(
    authsvc: Broker, phones: PhoneFactory, person: dict[str, str], code: str
) -> None:
    """Bad ID numbers (GB 11643), phones and names are refused with a clear code."""
    phone = await phones(authsvc.url, apply=False)
    with pytest.raises(PhoneError) as refused:
        await phone.apply_ecard(
            person.get("name", "张三"),
            person.get("id_number", "11010519491231002X"),
            person.get("phone", "13800138000"),
        )
    assert refused.value.code == code


async def test_failed_face_check_refuses_the_card(authsvc: Broker, phones: PhoneFactory) -> None:
    """The card is issued only after a passed face check."""
    phone = await phones(authsvc.url, apply=False)
    with pytest.raises(PhoneError) as refused:
        await phone.apply_ecard("张三", "11010519491231002X", "13800138000", face="fail")
    assert refused.value.code == "face_check_failed"


async def test_a_lost_card_can_still_read_its_status(
    authsvc: Broker, http: aiohttp.ClientSession, phones: PhoneFactory
) -> None:
    """The app can show 已挂失 on the card face: status reads work for a blocked card."""
    phone = await phones(authsvc.url)
    async with http.post(
        f"{authsvc.url}/api/admin/ecards/{phone.state.card_no}/report_lost", headers=ADMIN
    ):
        pass
    assert (await phone.show_ecard())["status"] == "lost"
