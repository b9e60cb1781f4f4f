"""受理单 and 单位参保证明 through HTTP with the real authsvc and mobile_sim logins, on SQLite and
PostgreSQL: the PDFs read back in Chinese, and their QR, decoded from the rendered page, verifies
with the phone (library and CLI) any number of times, not when altered, expired or rotated out."""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mobile_sim import PhoneApp, PhoneError
from portal.clock import epoch
from portal.db.models import AuditEntry
from portal.documents import certificate as certificate_core
from portal.documents.keyring import CertKeyring
from portal.http.keys import DB
from tests.conftest import PhoneFactory
from tests.mobile_sim.support import cli_env, mobile_sim
from tests.support.databases import KINDS, fresh_database
from tests.support.hall import C1, Hall, running_hall
from tests.support.pdfs import first_page_png, pdftotext, qr_of, text_of

from .business_support import (
    PENSION,
    SUN,
    U1,
    WANG,
    ZHANG,
    BusinessClock,
    Desk,
    app_id_of,
    code_of,
    counts,
    desk,
    relationship_id,
)

FENG = {
    "id_number": "230104199602185124",
    "name": "冯晓东",
    "start_month": "2026-10",
    "base": "5000",
}
EMPLOYEES = ("赵春雷", "钱秀英", "孙国庆")  # insured for pension at 23010010001 (coresys.json)


@pytest.fixture
def clock() -> BusinessClock:
    return BusinessClock()


@pytest.fixture(params=KINDS)
async def hall(
    request: pytest.FixtureRequest, tmp_path: Path, clock: BusinessClock
) -> AsyncIterator[Hall]:
    async with (
        fresh_database(request.param, tmp_path) as url,
        running_hall(tmp_path, database_url=url, business_clock=clock) as running,
    ):
        yield running


@pytest.fixture
async def sqlite_hall(tmp_path: Path, clock: BusinessClock) -> AsyncIterator[Hall]:
    """For what does not depend on the database (keys, the CLI): SQLite only, to save time."""
    async with running_hall(tmp_path, business_clock=clock) as running:
        yield running


def jwks_url(hall: Hall) -> str:
    return f"{hall.portal_url}/.well-known/cert-jwks.json"


def verifier(hall: Hall, folder: Path) -> PhoneApp:
    """A phone that pins the portal's certificate keys at first use."""
    return PhoneApp.open(folder, hall.authsvc.url, certificate_jwks_url=jwks_url(hall))


async def certificate(desk_: Desk, relationship: int, start: str, end: str) -> tuple[int, bytes]:
    token = await _csrf(desk_, f"/uc/{C1}/certificate")
    async with desk_.http.post(
        f"{desk_.hall.portal_url}/uc/{C1}/certificate",
        data={"_csrf": token, "relationship": str(relationship), "start": start, "end": end},
    ) as response:
        return response.status, await response.read()


async def _csrf(desk_: Desk, path: str) -> str:
    _, page = await desk_.get(path)
    match = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert match, path
    return match.group(1)


async def audits(hall: Hall, action: str) -> int:
    async with hall.portal[DB]() as db:
        query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        return int(await db.scalar(query) or 0)


async def test_certificate_lists_the_insured_and_its_qr_verifies_offline_for_six_months(
    hall: Hall, phones: PhoneFactory, clock: BusinessClock, tmp_path: Path
) -> None:
    """单位权益单: 选择险种、时间段 → the PDF lists the core system's insured employees; the QR
    on the rendered page verifies with the phone any number of times, offline, shows what it
    certifies, and is refused once altered or six months on. Without the grant: nothing."""
    pension = await relationship_id(hall, U1, PENSION)
    async with desk(hall, phones, WANG, "legal_rep") as rep:
        status, page = await rep.get(f"/uc/{C1}/certificate")
        assert status == 200 and "预览权益单" in page and "单位权益单" in page
        status, data = await certificate(rep, pension, "2026-06", "2026-12")
    assert status == 200 and data.startswith(b"%PDF-")
    text = text_of(data)
    assert "单位参保证明" in text and "哈尔滨龙江机械制造有限公司" in text
    assert all(name in text for name in EMPLOYEES) and "吴丽娜" not in text  # another unit
    assert "202606 至 202612" in pdftotext(data) and "有效期内(6个月)" in text
    number = re.search(r"证明编号：(ZM\d{16})", text)
    assert number and await audits(hall, "document.certificate") == 1
    page_png = first_page_png(data, tmp_path)
    async with verifier(hall, tmp_path / "verifier") as phone:
        # the phone photographs the page; the business clock is the test's, so is the phone's
        cert = await phone.verify_certificate(page_png, now=epoch(clock.now))
        assert cert.serial == number.group(1) and cert.holder_id == C1
        facts = {f.label_zh: f.value for f in cert.facts}
        assert facts["参保险种"] == PENSION and facts["缴费总人数"] == str(len(EMPLOYEES))
    async with PhoneApp.open(tmp_path / "verifier") as offline:  # keys pinned: no portal needed
        for days in (1, 30, 180):
            moment = epoch(clock.now + dt.timedelta(days=days))
            assert (await offline.verify_certificate(page_png, now=moment)).serial == cert.serial
        with pytest.raises(PhoneError) as expired:
            await offline.verify_certificate(page_png, now=cert.expires_at)
        assert expired.value.code == "certificate_expired"
        token = qr_of(page_png).rpartition("#")[2]
        head, claims, signature = token.split(".")
        altered = claims.replace(claims[40], "A" if claims[40] != "A" else "B", 1)
        with pytest.raises(PhoneError) as forged:
            await offline.verify_certificate(f"{head}.{altered}.{signature}", now=epoch(clock.now))
        assert forged.value.code == "certificate_invalid"
    await _agent_without_the_certificate_grant_prints_nothing(hall, phones)


async def _the_cli_verifies_the_printed_page(
    sqlite_hall: Hall, phones: PhoneFactory, tmp_path: Path, clock: BusinessClock
) -> None:
    """`mobile-sim verify page.png --jwks-url …` prints what the certificate certifies; the
    portal's own verification page answers for the same token. (The CLI reads the wall clock,
    so the portal's business clock is set to now for this test.)"""
    hall = sqlite_hall
    clock.now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    pension = await relationship_id(hall, U1, PENSION)
    async with desk(hall, phones, WANG, "legal_rep") as rep:
        _, data = await certificate(rep, pension, "2026-11", "2026-12")
        page_png = first_page_png(data, tmp_path)
        run = await mobile_sim(
            "--home",
            str(tmp_path / "cli"),
            "--json",
            "verify",
            str(page_png),
            "--jwks-url",
            jwks_url(hall),
            env=cli_env(PYTHONPATH=str(Path(__file__).resolve().parents[2])),
        )
        assert run.code == 0, run.err
        shown = run.json()["certificate"]
        assert (
            shown["title_zh"] == "单位参保证明"
            and shown["holder_name"] == "哈尔滨龙江机械制造有限公司"
        )
        status, page = await rep.get("/cert/verify")
        assert status == 200 and "电子证明验证" in page
        token = qr_of(page_png).rpartition("#")[2]
        csrf = re.search(r'data-csrf="([^"]+)"', page)
        assert csrf
        async with rep.http.post(
            f"{hall.portal_url}/api/cert/verify",
            json={"token": token},
            headers={"X-CSRF-Token": csrf.group(1)},
        ) as response:
            body = await response.json()
        assert body["ok"] and body["claims"]["cert"]["holder"]["id"] == C1
        async with rep.http.post(
            f"{hall.portal_url}/api/cert/verify",
            json={"token": token[:-4] + "AAAA"},
            headers={"X-CSRF-Token": csrf.group(1)},
        ) as response:
            assert (
                response.status == 400 and (await response.json())["error"] == "certificate_invalid"
            )
        async with rep.http.post(
            f"{hall.portal_url}/api/cert/verify",
            json={"token": "A" * 10_000},
            headers={"X-CSRF-Token": csrf.group(1)},
        ) as response:
            assert response.status == 413 and (await response.json())["error"] == "body_too_large"
    assert sys.executable  # the CLI ran with this interpreter


async def test_a_rotated_key_still_verifies_what_it_signed(
    sqlite_hall: Hall, phones: PhoneFactory, tmp_path: Path, clock: BusinessClock
) -> None:
    """`portal keys rotate`: the JWKS keeps the old key; a certificate printed before the
    rotation still verifies, one printed after is signed by the new key (the phone re-fetches
    the JWKS once for the new kid). Then the CLI and the portal's own verification page."""
    hall = sqlite_hall
    pension = await relationship_id(hall, U1, PENSION)
    async with (
        desk(hall, phones, WANG, "legal_rep") as rep,
        verifier(hall, tmp_path / "verifier") as phone,
    ):
        _, before = await certificate(rep, pension, "2026-11", "2026-12")
        now = epoch(clock.now)
        old = await phone.verify_certificate(first_page_png(before, tmp_path / "a"), now=now)
        keys_dir = hall.portal[_settings_key()].cert_keys_dir
        rotated = await _portal_cli("keys", "rotate", "--alg", "Ed25519", keys_dir=keys_dir)
        assert rotated.returncode == 0, rotated.stderr
        async with rep.http.get(jwks_url(hall)) as response:
            published = await response.json()
        assert len(published["keys"]) == 2 and published["issuer"] == hall.portal_url
        _, after = await certificate(rep, pension, "2026-11", "2026-12")
        new = await phone.verify_certificate(first_page_png(after, tmp_path / "b"), now=now)
        assert new.kid != old.kid and {k["kid"] for k in published["keys"]} == {old.kid, new.kid}
        again = await phone.verify_certificate(first_page_png(before, tmp_path / "c"), now=now)
        assert again.serial == old.serial
        assert "previous" in rotated.stdout and "current" in rotated.stdout
        with pytest.raises(PhoneError) as refused:  # same claims, a key never published
            await phone.verify_certificate(_forged(hall, tmp_path, clock), now=now)
        assert refused.value.code == "certificate_invalid"
    await _the_cli_verifies_the_printed_page(sqlite_hall, phones, tmp_path / "cli", clock)


async def test_receipt_only_once_accepted(
    hall: Hall, phones: PhoneFactory, tmp_path: Path, clock: BusinessClock
) -> None:
    """【受理单】: 暂无单据 while the application waits, nothing recorded; once the agency has
    accepted it, a PDF with the serial number, company, item, persons and agency, whose QR
    the phone verifies."""
    pension = await relationship_id(hall, U1, PENSION)
    async with (
        desk(hall, phones, ZHANG, "agent") as agent,
        desk(hall, phones, SUN, "staff") as staff,
    ):
        _, _, path = await agent.file("enrol", pension, [FENG])
        app_id = app_id_of(path)
        before = await counts(hall)
        status, page = await agent.get(f"/uc/{C1}/business/{app_id}/receipt.pdf")
        assert status == 404 and code_of(page) == "no_document" and "暂无单据" in page
        assert await counts(hall) == before
        _, detail = await agent.get(f"/uc/{C1}/business/{app_id}")
        assert "data-receipt" in detail
        status, _, _ = await staff.post(f"/review/{app_id}/accept")
        assert status == 200
        async with agent.http.get(
            f"{hall.portal_url}/uc/{C1}/business/{app_id}/receipt.pdf"
        ) as response:
            assert response.status == 200 and response.content_type == "application/pdf"
            serial = response.headers["X-Document-Number"]
            data = await response.read()
    text = text_of(data)
    assert "社会保险业务受理单" in text and serial in text and "冯晓东" in text
    assert "哈尔滨龙江机械制造有限公司" in text and "用人单位用工参保登记" in text
    assert "哈尔滨市社会保险事业服务中心" in pdftotext(data)
    async with verifier(hall, tmp_path / "verifier") as phone:
        receipt = await phone.verify_certificate(
            first_page_png(data, tmp_path), now=epoch(clock.now)
        )
    assert receipt.serial == serial and receipt.title_zh == "社会保险业务受理单"


async def _agent_without_the_certificate_grant_prints_nothing(
    hall: Hall, phones: PhoneFactory
) -> None:
    """张伟 holds enrol and stop, not 单位参保证明打印: the form offers nothing and a forged
    POST is refused (403 item_forbidden) with nothing recorded; a bad period is 400."""
    pension = await relationship_id(hall, U1, PENSION)
    async with desk(hall, phones, ZHANG, "agent") as agent:
        _, page = await agent.get(f"/uc/{C1}/certificate")
        assert 'data-code="item_forbidden"' in page
        before = await counts(hall)
        status, data = await certificate(agent, pension, "2026-06", "2026-12")
        assert status == 403 and code_of(data.decode()) == "item_forbidden"
        assert await counts(hall) == before
    async with desk(hall, phones, WANG, "legal_rep") as rep:
        before = await counts(hall)
        for start, end in (("2026-12", "2026-06"), ("2026-06", "2027-01"), ("2026-13", "2026-12")):
            status, data = await certificate(rep, pension, start, end)
            assert status == 400 and code_of(data.decode()) == "invalid_period"
        assert await counts(hall) == before


def _forged(hall: Hall, folder: Path, clock: BusinessClock) -> str:
    """A well-formed certificate for C1 signed by a keyring the portal never published."""
    stranger = CertKeyring.open(folder / "stranger-keys", now=clock.now)
    record, key = stranger.signing_key()
    content = certificate_core.CertificateContent(
        "unit_insurance_certificate",
        "单位参保证明",
        "Certificate",
        "哈尔滨龙江机械制造有限公司",
        C1,
        (),
    )
    claims = certificate_core.claims(
        content, issuer=hall.portal_url, serial="ZM2026121000000001", issued=clock.now
    )
    return certificate_core.sign(claims, kid=record.kid, alg=record.alg, key=key)


def _settings_key():  # the portal's settings (for its keys folder)
    from portal.http.keys import SETTINGS

    return SETTINGS


async def _portal_cli(*args: str, keys_dir: Path):  # type: ignore[no-untyped-def]
    import asyncio
    import subprocess
    from types import SimpleNamespace

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "portal",
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**cli_env(), "PORTAL_KEYS_DIR": str(keys_dir)},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return SimpleNamespace(returncode=process.returncode, stdout=out.decode(), stderr=err.decode())
